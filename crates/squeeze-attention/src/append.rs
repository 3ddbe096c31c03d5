//! Appending tokens to the paged KV cache (`shaders/attention/append.wgsl`): each new token's K
//! and V row (f32 or f16) written to the pool slot the page table gives it, in the cache's
//! format — copied, converted, or quantized to ggml's q8_0 / q4_0 blocks on the GPU; for
//! KIVI's int4 / int2, the pages the append fills quantized and the rest kept in the f16
//! residual ([`crate::append_kivi`]) — then Quest's metadata brought up to date for the pages
//! that changed: recomputed from the cache for f32 and f16 ([`crate::quest_meta`]), taken
//! from the new unquantized keys for the quantized formats (`append_meta`).

use squeeze_core::wgpu;
use squeeze_core::{Binding, DType, Error, Gpu, Result};
use squeeze_shaders::attention::APPEND;

use crate::append_kivi::AppendKivi;
use crate::layout::{KvCache, KvDtype};
use crate::pages::{DevicePageTable, PageTable};
use crate::params::{GridDispatch, TableShape};
use crate::quest_meta::{QuestMeta, meta_bytes};

/// Tokens to append: `k`, `v` are `[tokens, kv_heads, head_dim]` in the [`Append`]'s input
/// dtype, grouped by sequence as `append_indptr` (`[batch + 1]`) says.
#[derive(Debug, Clone, Copy)]
pub struct NewTokens<'a> {
    pub append_indptr: &'a [u32],
    pub k: Binding<'a>,
    pub v: Binding<'a>,
}

/// Twin of the WGSL `AppendParams` (append.wgsl).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct AppendParams {
    pub table: TableShape,
    /// Tokens written into the cache by this append.
    pub new_tokens: u32,
    pub _pad: [u32; 3],
}

/// Appends f32 or f16 rows to a KV cache of one format.
pub struct Append {
    gpu: Gpu,
    dtype: KvDtype,
    input: DType,
    writer: Writer,
    /// The quantized formats' metadata pass (`append_meta`); f32 and f16 recompute with `meta`.
    block_meta: Option<wgpu::ComputePipeline>,
    meta: QuestMeta,
}

/// What writes the rows: append.wgsl's `append_kv` (f32, f16, q8_0, q4_0), or KIVI's two
/// passes.
enum Writer {
    Rows(wgpu::ComputePipeline),
    Kivi(Box<AppendKivi>),
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
    /// The touched pages and how many; needed by int4 / int2 (the pages to quantize) and when
    /// an f32 or f16 cache keeps Quest metadata (the other formats take it from the new keys).
    pub touched: Option<(Binding<'a>, u32)>,
}

impl Append {
    /// Appends rows in the cache's own element type (f32 or f16), or f32 rows to a block format.
    pub fn new(gpu: &Gpu, dtype: KvDtype) -> Result<Self> {
        Self::with_input(gpu, dtype, dtype.plain().unwrap_or(DType::F32))
    }

    /// Appends rows of `input` (f32 or f16) to a cache of `dtype`: copied, converted (f32 → f16
    /// rounds to nearest even) or quantized.
    pub fn with_input(gpu: &Gpu, dtype: KvDtype, input: DType) -> Result<Self> {
        let in_f16 = ("IN_F16", f64::from(u8::from(input.is_f16("k_new")?)));
        let writer = match dtype.kivi_bits() {
            Some(_) => Writer::Kivi(Box::new(AppendKivi::new(gpu, dtype, input)?)),
            None => {
                let [kv] = dtype.overrides();
                Writer::Rows(gpu.pipeline(&APPEND, "append_kv", &[kv, in_f16])?)
            }
        };
        // `append_meta` reads only the new keys, whatever the format: KIVI's formats take the
        // pipeline of q8_0's override set (append.wgsl registers no int4 / int2 writer).
        let block_meta = match (dtype.block(), dtype.kivi_bits()) {
            (Some(_), _) => Some(dtype.overrides()[0]),
            (None, Some(_)) => Some(KvDtype::Q8_0.overrides()[0]),
            (None, None) => None,
        }
        .map(|kv| gpu.pipeline(&APPEND, "append_meta", &[kv, in_f16]))
        .transpose()?;
        Ok(Self {
            gpu: gpu.clone(),
            dtype,
            input,
            writer,
            block_meta,
            meta: QuestMeta::new(gpu, dtype)?,
        })
    }

    /// The dtype of the rows it appends.
    pub fn input(&self) -> DType {
        self.input
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
                tokens * u64::from(layout.kv_heads * layout.head_dim) * self.input.size() as u64,
                format_args!(
                    "[{tokens}, {}, {}] {}",
                    layout.kv_heads, layout.head_dim, self.input
                ),
            )?;
        }
        // The quantized formats take metadata from the new keys and need no touched-page list.
        if kv.meta.is_some() && new.touched.is_none() && self.block_meta.is_none() {
            return Err(Error::invalid(
                "touched",
                "pages",
                "given when an f32 or f16 cache keeps Quest metadata",
                "none",
            ));
        }
        if let Some(meta) = &kv.meta {
            gpu.check_storage_binding("meta", meta)?;
            gpu.check_binding_holds(
                "meta",
                meta,
                meta_bytes(layout),
                format_args!(
                    "[{}, {}, 2, {}] f32",
                    layout.pages, layout.kv_heads, layout.head_dim
                ),
            )?;
        }
        let params = AppendParams {
            table: TableShape::new(table, 0),
            new_tokens: new.tokens,
            _pad: [0; 3],
        };
        match &self.writer {
            Writer::Kivi(kivi) => kivi.encode(encoder, table, new, kv)?,
            Writer::Rows(pipeline) => {
                // Grid-stride items: words of a plain cache, blocks of a block format.
                let items = match self.dtype.block() {
                    Some((values, _)) => {
                        tokens * u64::from(layout.kv_heads * layout.head_dim / values)
                    }
                    None => tokens * layout.token_bytes() / 4,
                };
                GridDispatch {
                    label: "attention append",
                    pipeline,
                    items,
                }
                .record(
                    gpu,
                    encoder,
                    &params,
                    &[new.rows, new.k, new.v, kv.k, kv.v],
                )?;
            }
        }
        match (kv.meta, new.touched, &self.block_meta) {
            (Some(meta), _, Some(pipeline)) => GridDispatch {
                label: "attention append meta",
                pipeline,
                items: tokens * u64::from(layout.kv_heads * layout.head_dim),
            }
            .record_slots(
                gpu,
                encoder,
                &params,
                &[(1, new.rows), (2, new.k), (6, meta)],
            ),
            (Some(meta), Some((pages, count)), None) => self
                .meta
                .encode_list(encoder, table, kv.k, pages, count, meta),
            _ => Ok(()),
        }
    }
}
