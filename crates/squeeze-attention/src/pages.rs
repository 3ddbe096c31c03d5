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

/// A buffer range a [`DevicePageTable`] binds: its own upload, or a range of an engine's
/// buffer.
#[derive(Debug, Clone)]
struct Range {
    buffer: squeeze_core::wgpu::Buffer,
    offset: u64,
    size: u64,
}

impl Range {
    fn whole(buffer: squeeze_core::wgpu::Buffer) -> Self {
        let size = buffer.size();
        Self {
            buffer,
            offset: 0,
            size,
        }
    }

    fn of(binding: &Binding<'_>) -> Self {
        Self {
            buffer: binding.buffer.clone(),
            offset: binding.offset,
            size: binding.size,
        }
    }

    fn binding(&self) -> Binding<'_> {
        Binding::new(&self.buffer, self.offset, self.size)
    }
}

/// A page table that lives in an engine's buffers ([`DevicePageTable::from_engine`]): the
/// engine writes them (`queue.write_buffer`, or its own kernels) between steps, within the
/// capacity it declares here, and squeeze plans every kernel's grid and workspace from the
/// capacity, so recording a step reads nothing back and allocates nothing.
#[derive(Debug, Clone, Copy)]
pub struct EngineTable<'a> {
    /// Sequences in the batch (fixed for the table's life).
    pub batch: u32,
    /// Most tokens any sequence will hold: what grids and workspaces are sized for.
    pub capacity: u32,
    /// u32 `[batch + 1]`: sequence b owns `indices[indptr[b] .. indptr[b + 1]]`.
    pub indptr: Binding<'a>,
    /// u32 pool pages, at least one entry.
    pub indices: Binding<'a>,
    /// u32 `[batch]`: tokens in each sequence's last page (0 without pages).
    pub last_page_len: Binding<'a>,
    /// u32 `[batch]`: each sequence's length in tokens, consistent with the three above.
    pub seq_lens: Binding<'a>,
}

/// A checked [`PageTable`] on the device, with the host facts that size the kernels' grids.
pub struct DevicePageTable {
    layout: CacheLayout,
    batch: u32,
    /// Longest sequence the kernels plan for: exact for an uploaded table, the capacity of an
    /// engine's.
    max_len: u32,
    /// The host table and lengths, for an uploaded table.
    host: Option<(PageTable, Vec<u32>)>,
    indptr: Range,
    indices: Range,
    last_page_len: Range,
    lens: Range,
}

impl DevicePageTable {
    /// Checks `table` against `layout` and uploads it.
    pub fn new(gpu: &Gpu, layout: CacheLayout, table: &PageTable) -> Result<Self> {
        let seq_lens = table.check(&layout)?;
        let upload = |arg, data: &[u32]| gpu.upload(arg, data).map(Range::whole);
        Ok(Self {
            layout,
            batch: seq_lens.len() as u32,
            max_len: seq_lens.iter().copied().max().unwrap_or(0).max(1),
            indptr: upload("page_indptr", &table.indptr)?,
            indices: upload("page_indices", &table.indices)?,
            last_page_len: upload("last_page_len", &table.last_page_len)?,
            lens: upload("seq_lens", &seq_lens)?,
            host: Some((table.clone(), seq_lens)),
        })
    }

    /// A table in the engine's buffers (see [`EngineTable`]); every binding is checked to be
    /// bindable and to hold the batch. The kernels bound every access through it, so stale or
    /// corrupt entries cannot read or write outside the pool.
    pub fn from_engine(gpu: &Gpu, layout: CacheLayout, table: &EngineTable<'_>) -> Result<Self> {
        layout.check()?;
        if table.batch == 0 {
            return Err(Error::invalid("batch", "sequences", "≥ 1", 0));
        }
        let pages = u64::from(table.capacity.div_ceil(layout.page_size));
        if pages > u64::from(layout.pages) {
            return Err(Error::invalid(
                "capacity",
                "tokens",
                format!(
                    "at most the pool's {} pages of {} tokens",
                    layout.pages, layout.page_size
                ),
                table.capacity,
            ));
        }
        let batch = u64::from(table.batch);
        for (arg, binding, entries) in [
            ("page_indptr", &table.indptr, batch + 1),
            ("page_indices", &table.indices, 1),
            ("last_page_len", &table.last_page_len, batch),
            ("seq_lens", &table.seq_lens, batch),
        ] {
            gpu.check_storage_binding(arg, binding)?;
            gpu.check_binding_holds(arg, binding, entries * 4, format_args!("{entries} u32"))?;
        }
        Ok(Self {
            layout,
            batch: table.batch,
            max_len: table.capacity.max(1),
            host: None,
            indptr: Range::of(&table.indptr),
            indices: Range::of(&table.indices),
            last_page_len: Range::of(&table.last_page_len),
            lens: Range::of(&table.seq_lens),
        })
    }

    pub fn layout(&self) -> &CacheLayout {
        &self.layout
    }

    /// The host table, for an uploaded table (an engine's is not known on the host).
    pub fn table(&self) -> Option<&PageTable> {
        self.host.as_ref().map(|(t, _)| t)
    }

    /// Sequences in the batch.
    pub fn batch(&self) -> u32 {
        self.batch
    }

    /// Each sequence's length in tokens, for an uploaded table.
    pub fn seq_lens(&self) -> Option<&[u32]> {
        self.host.as_ref().map(|(_, lens)| lens.as_slice())
    }

    /// The host lengths, or a typed error naming `what` needs them (an engine's table has
    /// none: its lengths are on the device).
    pub fn host_lens(&self, what: &str) -> Result<&[u32]> {
        self.seq_lens().ok_or_else(|| {
            Error::invalid(
                "table",
                "host lengths",
                format!("known on the host for {what} (an uploaded table)"),
                "an engine-owned table",
            )
        })
    }

    /// The longest sequence in tokens (at least 1, the stride of per-token rows): exact for an
    /// uploaded table, the capacity for an engine's.
    pub fn max_len(&self) -> u32 {
        self.max_len
    }

    /// The longest sequence, in pages (at least 1).
    pub fn max_pages(&self) -> u32 {
        self.max_len.div_ceil(self.layout.page_size)
    }

    /// The table's bindings 1, 2, 3 (indptr, indices, last_page_len) of the paged kernels.
    pub(crate) fn bindings(&self) -> [Binding<'_>; 3] {
        [
            self.indptr.binding(),
            self.indices.binding(),
            self.last_page_len.binding(),
        ]
    }

    /// Each sequence's length on the device (u32 [batch]).
    pub(crate) fn lens_binding(&self) -> Binding<'_> {
        self.lens.binding()
    }
}
