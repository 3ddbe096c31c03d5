//! Appending tokens to the paged KV cache (`shaders/attention/append.wgsl`): each new token's K
//! and V row written to the pool slot the page table gives it, then Quest's metadata recomputed
//! for the pages that changed ([`crate::quest_meta`]).

use squeeze_core::wgpu;
use squeeze_core::{Binding, Error, Gpu, Result};
use squeeze_shaders::attention::APPEND;

use crate::layout::{KvCache, KvDtype};
use crate::pages::{DevicePageTable, PageTable};
use crate::params::AttentionParams;
use crate::quest_meta::QuestMeta;

/// Tokens to append: `k`, `v` are `[tokens, kv_heads, head_dim]` in the cache's format,
/// grouped by sequence as `append_indptr` (`[batch + 1]`) says.
#[derive(Debug, Clone, Copy)]
pub struct NewTokens<'a> {
    pub append_indptr: &'a [u32],
    pub k: Binding<'a>,
    pub v: Binding<'a>,
}

/// Appends to a KV cache of one format.
pub struct Append {
    gpu: Gpu,
    dtype: KvDtype,
    pipeline: wgpu::ComputePipeline,
    meta: QuestMeta,
}

/// Where appended tokens go: token t of sequence b (tokens `append_indptr[b] ..
/// append_indptr[b + 1]`) takes the tail position `len_b − count_b + (t − append_indptr[b])`,
/// the page table already counting them (FlashInfer's convention). Returns each token's pool
/// row and the (sequence, logical page) pairs touched: what [`Append::encode_placed`] takes,
/// for an engine that computes placements on its host and writes them to its own buffers.
pub fn placement(
    table: &PageTable,
    page_size: u32,
    append_indptr: &[u32],
) -> Result<(Vec<u32>, Vec<[u32; 2]>)> {
    let batch = table.batch();
    if append_indptr.len() != batch + 1 || append_indptr[0] != 0 {
        return Err(Error::invalid(
            "append_indptr",
            "shape",
            format!("batch + 1 = {} entries starting at 0", batch + 1),
            format!(
                "{} entries starting at {:?}",
                append_indptr.len(),
                append_indptr.first()
            ),
        ));
    }
    let bad_table = |what: String| Error::invalid("page_table", "entries", "consistent", what);
    let mut rows = Vec::new();
    let mut touched = Vec::new();
    for b in 0..batch {
        let (Some(&start_page), Some(&end_page), Some(&last)) = (
            table.indptr.get(b),
            table.indptr.get(b + 1),
            table.last_page_len.get(b),
        ) else {
            return Err(bad_table(format!(
                "no indptr or last_page_len for sequence {b}"
            )));
        };
        let pages = end_page.saturating_sub(start_page);
        let len = pages
            .saturating_sub(1)
            .saturating_mul(page_size)
            .saturating_add(last);
        let (first, end) = (append_indptr[b], append_indptr[b + 1]);
        if end < first || end - first > len {
            return Err(Error::invalid(
                "append_indptr",
                "tokens of a sequence",
                format!("between 0 and its length {len}"),
                format!("{} .. {end} for sequence {b}", first),
            ));
        }
        let start = len - (end - first);
        for pos in start..len {
            let slot = (start_page + pos / page_size) as usize;
            let page = *table
                .indices
                .get(slot)
                .ok_or_else(|| bad_table(format!("no page {slot} for sequence {b}")))?;
            rows.push(page * page_size + pos % page_size);
            if pos == start || pos % page_size == 0 {
                touched.push([b as u32, pos / page_size]);
            }
        }
    }
    Ok((rows, touched))
}

/// Tokens already placed by the engine: their K and V rows and, in its own buffers, the pool
/// row of each (u32 `[tokens]`, from [`placement`] or the engine's allocator) and the
/// (sequence, logical page) pairs they touched (u32 `[pages, 2]`) for Quest's metadata.
#[derive(Debug, Clone, Copy)]
pub struct PlacedTokens<'a> {
    pub tokens: u32,
    pub rows: Binding<'a>,
    pub k: Binding<'a>,
    pub v: Binding<'a>,
    /// The touched pages and how many; needed when the cache keeps Quest metadata.
    pub touched: Option<(Binding<'a>, u32)>,
}

impl Append {
    pub fn new(gpu: &Gpu, dtype: KvDtype) -> Result<Self> {
        Ok(Self {
            gpu: gpu.clone(),
            dtype,
            pipeline: gpu.pipeline(&APPEND, "append_kv", &dtype.overrides())?,
            meta: QuestMeta::new(gpu, dtype)?,
        })
    }

    /// Records the append of `new` into `kv`, and, where the cache keeps Quest metadata, its
    /// recomputation for every page an appended token landed in. Placement is computed on the
    /// host from an uploaded table and uploaded per call; an engine that must not allocate per
    /// step uses [`Append::encode_placed`] with placements in its own buffers.
    pub fn encode(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        table: &DevicePageTable,
        new: &NewTokens<'_>,
        kv: &KvCache<'_>,
    ) -> Result<()> {
        let host = table.table().ok_or_else(|| {
            Error::invalid(
                "table",
                "kind",
                "an uploaded table (an engine's table appends through encode_placed)",
                "an engine-owned table",
            )
        })?;
        let (rows, touched) = placement(host, table.layout().page_size, new.append_indptr)?;
        if rows.is_empty() {
            return Ok(());
        }
        let rows_buffer = self.gpu.upload("rows", &rows)?;
        let touched_buffer = self.gpu.upload("pages", touched.as_flattened())?;
        self.encode_placed(
            encoder,
            table,
            &PlacedTokens {
                tokens: rows.len() as u32,
                rows: Binding::whole(&rows_buffer),
                k: new.k,
                v: new.v,
                touched: Some((Binding::whole(&touched_buffer), touched.len() as u32)),
            },
            kv,
        )
    }

    /// Records the append of tokens whose pool rows (and touched pages) are already in device
    /// buffers: nothing is uploaded or allocated, the engine-grade path. Rows outside the pool
    /// are skipped by the kernel.
    pub fn encode_placed(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        table: &DevicePageTable,
        new: &PlacedTokens<'_>,
        kv: &KvCache<'_>,
    ) -> Result<()> {
        let gpu = &self.gpu;
        let layout = table.layout();
        kv.check(gpu, layout, self.dtype)?;
        if new.tokens == 0 {
            return Ok(());
        }
        let tokens = u64::from(new.tokens);
        gpu.check_storage_binding("rows", &new.rows)?;
        gpu.check_binding_holds(
            "rows",
            &new.rows,
            tokens * 4,
            format_args!("[{tokens}] u32"),
        )?;
        for (arg, b) in [("k_new", &new.k), ("v_new", &new.v)] {
            gpu.check_storage_binding(arg, b)?;
            gpu.check_binding_holds(
                arg,
                b,
                tokens * layout.token_bytes(),
                format_args!(
                    "[{tokens}, {}, {}] {}",
                    layout.kv_heads,
                    layout.head_dim,
                    layout.dtype.dtype()
                ),
            )?;
        }
        let meta = match (kv.meta, new.touched) {
            (Some(meta), Some(touched)) => Some((meta, touched)),
            (None, _) => None,
            (Some(_), None) => {
                return Err(Error::invalid(
                    "touched",
                    "pages",
                    "given when the cache keeps Quest metadata",
                    "none",
                ));
            }
        };
        let params = AttentionParams {
            items: new.tokens,
            ..AttentionParams::for_table(table, 0)
        };
        let words = tokens * layout.token_bytes() / 4;
        params.dispatch_items(
            gpu,
            encoder,
            ("attention append", &self.pipeline),
            &[new.rows, new.k, new.v, kv.k, kv.v],
            words,
        )?;
        match meta {
            Some((meta, (pages, count))) => self
                .meta
                .encode_list(encoder, table, kv.k, pages, count, meta),
            None => Ok(()),
        }
    }
}
