//! The page table of a batch of sequences in the paged KV cache, checked on the host and then
//! uploaded: the kernels trust it for addressing (and still bound every access).

use squeeze_core::{Binding, Error, Gpu, Result};

use crate::layout::CacheLayout;

/// Which pool pages hold each sequence (FlashInfer's CSR layout): sequence `b` owns the logical
/// pages `indices[indptr[b] .. indptr[b + 1]]`, in order; its last page holds
/// `last_page_len[b]` tokens (1 ..= page_size; 0 for a sequence without pages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageTable {
    pub indptr: Vec<u32>,
    pub indices: Vec<u32>,
    pub last_page_len: Vec<u32>,
}

impl PageTable {
    /// Sequences of `lens` tokens on consecutive pool pages from page 0: the simplest valid
    /// table, and the one a contiguous `[seq, kv_heads, d]` cache maps to. Returns the table and
    /// the pages it uses.
    pub fn contiguous(lens: &[u32], page_size: u32) -> (Self, u32) {
        let mut indptr = vec![0];
        let mut indices = Vec::new();
        let mut last_page_len = Vec::new();
        for &len in lens {
            let pages = len.div_ceil(page_size);
            indices.extend(indices.len() as u32..indices.len() as u32 + pages);
            indptr.push(indices.len() as u32);
            last_page_len.push(if pages == 0 {
                0
            } else {
                len - (pages - 1) * page_size
            });
        }
        let pages = indices.len() as u32;
        (
            Self {
                indptr,
                indices,
                last_page_len,
            },
            pages,
        )
    }

    /// Sequences in the batch.
    pub fn batch(&self) -> usize {
        self.indptr.len().saturating_sub(1)
    }

    /// Fails unless the table is consistent and inside a pool of `layout`; returns each
    /// sequence's length in tokens.
    pub fn check(&self, layout: &CacheLayout) -> Result<Vec<u32>> {
        layout.check()?;
        let batch = self.batch();
        if batch == 0 {
            return Err(Error::invalid(
                "page_indptr",
                "length",
                "batch + 1 ≥ 2",
                self.indptr.len(),
            ));
        }
        if self.indptr[0] != 0 {
            return Err(Error::invalid(
                "page_indptr",
                "element 0",
                0,
                self.indptr[0],
            ));
        }
        if let Some(b) = (0..batch).find(|&b| self.indptr[b + 1] < self.indptr[b]) {
            return Err(Error::invalid(
                "page_indptr",
                "order",
                "non-decreasing",
                format!(
                    "element {} = {} after {}",
                    b + 1,
                    self.indptr[b + 1],
                    self.indptr[b]
                ),
            ));
        }
        if self.indptr[batch] as usize != self.indices.len() {
            return Err(Error::invalid(
                "page_indptr",
                "last element",
                format!("the page_indices length {}", self.indices.len()),
                self.indptr[batch],
            ));
        }
        if let Some((i, &p)) = self
            .indices
            .iter()
            .enumerate()
            .find(|&(_, &p)| p >= layout.pages)
        {
            return Err(Error::invalid(
                "page_indices",
                "page",
                format!("< pages = {}", layout.pages),
                format!("{p} at element {i}"),
            ));
        }
        if self.last_page_len.len() != batch {
            return Err(Error::invalid(
                "last_page_len",
                "length",
                format!("batch = {batch}"),
                self.last_page_len.len(),
            ));
        }
        let mut lens = Vec::with_capacity(batch);
        for b in 0..batch {
            let pages = self.indptr[b + 1] - self.indptr[b];
            let last = self.last_page_len[b];
            let ok = if pages == 0 {
                last == 0
            } else {
                (1..=layout.page_size).contains(&last)
            };
            if !ok {
                return Err(Error::invalid(
                    "last_page_len",
                    "element",
                    format!("1 ..= page_size = {} (0 without pages)", layout.page_size),
                    format!("{last} for sequence {b} of {pages} pages"),
                ));
            }
            let len =
                u64::from(pages.saturating_sub(1)) * u64::from(layout.page_size) + u64::from(last);
            lens.push(u32::try_from(len).map_err(|_| {
                Error::invalid("page_indices", "sequence length", "< 2^32 tokens", len)
            })?);
        }
        Ok(lens)
    }
}

/// A checked [`PageTable`] on the device, with the host facts that size the kernels' grids.
pub struct DevicePageTable {
    layout: CacheLayout,
    table: PageTable,
    seq_lens: Vec<u32>,
    indptr: squeeze_core::wgpu::Buffer,
    indices: squeeze_core::wgpu::Buffer,
    last_page_len: squeeze_core::wgpu::Buffer,
    lens: squeeze_core::wgpu::Buffer,
}

impl DevicePageTable {
    /// Checks `table` against `layout` and uploads it.
    pub fn new(gpu: &Gpu, layout: CacheLayout, table: &PageTable) -> Result<Self> {
        let seq_lens = table.check(&layout)?;
        Ok(Self {
            layout,
            indptr: gpu.upload("page_indptr", &table.indptr)?,
            indices: gpu.upload("page_indices", &table.indices)?,
            last_page_len: gpu.upload("last_page_len", &table.last_page_len)?,
            lens: gpu.upload("seq_lens", &seq_lens)?,
            table: table.clone(),
            seq_lens,
        })
    }

    pub fn layout(&self) -> &CacheLayout {
        &self.layout
    }

    pub fn table(&self) -> &PageTable {
        &self.table
    }

    /// Sequences in the batch.
    pub fn batch(&self) -> u32 {
        self.seq_lens.len() as u32
    }

    /// Each sequence's length in tokens.
    pub fn seq_lens(&self) -> &[u32] {
        &self.seq_lens
    }

    /// The longest sequence, in tokens (at least 1, the stride of per-token rows).
    pub fn max_len(&self) -> u32 {
        self.seq_lens.iter().copied().max().unwrap_or(0).max(1)
    }

    /// The longest sequence, in pages (at least 1).
    pub fn max_pages(&self) -> u32 {
        self.max_len().div_ceil(self.layout.page_size)
    }

    /// The table's bindings 1, 2, 3 (indptr, indices, last_page_len) of the paged kernels.
    pub(crate) fn bindings(&self) -> [Binding<'_>; 3] {
        [
            Binding::whole(&self.indptr),
            Binding::whole(&self.indices),
            Binding::whole(&self.last_page_len),
        ]
    }

    /// Each sequence's length on the device (u32 [batch]).
    pub(crate) fn lens_binding(&self) -> Binding<'_> {
        Binding::whole(&self.lens)
    }
}
