//! Causal prefill attention (`shaders/attention/prefill.wgsl`): the n newest tokens of each
//! sequence — ragged, as FlashInfer's batch prefill lays them out with `qo_indptr` — attend to
//! the paged cache, which already holds them (append, then attend): query i of a sequence of
//! length L with n new tokens sits at position L − n + i and sees positions 0 ..= L − n + i.
//! Multi-query with GQA, FlashAttention-style: a workgroup holds a tile of (token, query head)
//! rows of one KV group and streams K and V tiles through workgroup memory with an online
//! softmax, so each K and V element is read once per query tile and a whole prompt is one
//! dispatch.

use squeeze_core::pipeline::PipelineOptions;
use squeeze_core::wgpu;
use squeeze_core::{Binding, DType, Error, Gpu, Result};
use squeeze_shaders::attention::PREFILL;

use crate::layout::{KvCache, KvDtype, Output, Query};
use crate::pages::DevicePageTable;
use crate::params::TableShape;

/// f32 elements of a workgroup's query tile (`Q_ELEMENTS` in prefill.wgsl): a tile holds
/// `QUERY_TILE / head_dim` (token, query head) rows.
pub const QUERY_TILE: u32 = 1024;

/// One prefill's operands.
#[derive(Clone, Copy)]
pub struct PrefillArgs<'a> {
    /// The sequences' pages, already counting the new tokens.
    pub table: &'a DevicePageTable,
    pub kv: &'a KvCache<'a>,
    /// `[rows, heads, head_dim]` with `rows = qo_indptr[batch]`, f32 or f16.
    pub query: &'a Query<'a>,
    /// `[batch + 1]`, starting at 0, non-decreasing: sequence b's new tokens are query rows
    /// `qo_indptr[b] .. qo_indptr[b + 1]`, at most its length.
    pub qo_indptr: &'a [u32],
    /// `[rows, q_heads, head_dim]`, f32 or f16 (a [`Binding`] converts to f32).
    pub out: Output<'a>,
}

/// Twin of the WGSL `PrefillParams` (prefill.wgsl).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct PrefillParams {
    pub table: TableShape,
    /// The longest sequence of the table, in tokens: bounds each workgroup's key tiles.
    pub max_seq_len: u32,
    /// The factor on q·k.
    pub scale: f32,
    pub _pad: [u32; 2],
}

/// Causal prefill attention for one KV cache format.
pub struct Prefill {
    gpu: Gpu,
    dtype: KvDtype,
}

/// What [`Prefill::checked`] found: the pipeline, the device copy of `qo_indptr` and the grid.
struct Prepared {
    pipeline: wgpu::ComputePipeline,
    qo_indptr: wgpu::Buffer,
    workgroups: [u32; 3],
}

impl Prefill {
    /// Compiles the prefill for f32 queries and outputs (other formats on first use, or ahead
    /// of it with [`Prefill::prepare`]).
    pub fn new(gpu: &Gpu, dtype: KvDtype) -> Result<Self> {
        let prefill = Self {
            gpu: gpu.clone(),
            dtype,
        };
        prefill.prepare(DType::F32, DType::F32)?;
        Ok(prefill)
    }

    pub fn dtype(&self) -> KvDtype {
        self.dtype
    }

    /// Compiles the prefill for queries of `q_dtype` and outputs of `o_dtype` (each f32 or
    /// f16) now, so an engine pays the compile at load time.
    pub fn prepare(&self, q_dtype: DType, o_dtype: DType) -> Result<()> {
        self.pipeline(q_dtype.is_f16("q")?, o_dtype.is_f16("o")?)
            .map(|_| ())
    }

    fn pipeline(&self, q_f16: bool, o_f16: bool) -> Result<wgpu::ComputePipeline> {
        // prefill.wgsl writes every workgroup word before reading it.
        let options = PipelineOptions {
            zero_initialize_workgroup_memory: false,
        };
        let [kv] = self.dtype.overrides();
        let overrides = [
            ("Q_F16", f64::from(u8::from(q_f16))),
            kv,
            ("O_F16", f64::from(u8::from(o_f16))),
        ];
        self.gpu
            .pipeline_with_options(&PREFILL, "prefill", &overrides, options)
    }

    /// Checks every argument of [`Prefill::encode`] without recording anything.
    pub fn check(&self, args: &PrefillArgs<'_>) -> Result<()> {
        self.checked(args).map(|_| ())
    }

    fn checked(&self, args: &PrefillArgs<'_>) -> Result<Prepared> {
        let PrefillArgs {
            table,
            kv,
            query,
            qo_indptr,
            out,
        } = *args;
        let gpu = &self.gpu;
        let layout = table.layout();
        kv.check(gpu, layout, self.dtype)?;
        kv.check_residual(gpu, layout, table.batch())?;
        let group = layout.check_q_heads(query.heads)?;
        let rows = check_qo_indptr(qo_indptr, table)?;
        query.check(gpu, layout, rows)?;
        let o_f16 = out.check(gpu, layout, query, rows)?;
        let most = qo_indptr.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0);
        let tile_rows = QUERY_TILE / layout.head_dim;
        let tiles = (u64::from(most) * u64::from(group)).div_ceil(u64::from(tile_rows));
        let tiles = u32::try_from(tiles)
            .map_err(|_| Error::invalid("qo_indptr", "query tiles", "< 2^32", tiles))?;
        Ok(Prepared {
            pipeline: self.pipeline(query.dtype == DType::F16, o_f16)?,
            // A prompt's layout repeats across layers: one device copy per distinct layout.
            qo_indptr: gpu.constant("qo_indptr", qo_indptr)?,
            workgroups: [tiles, layout.kv_heads, table.batch()],
        })
    }

    /// Records `out = softmax(scale · q·Kᵀ + causal mask) · V` for every new token of every
    /// sequence of `table` (see [`PrefillArgs`]). Every argument is checked before anything is
    /// recorded.
    pub fn encode(&self, encoder: &mut wgpu::CommandEncoder, args: &PrefillArgs<'_>) -> Result<()> {
        let prepared = self.checked(args)?;
        let PrefillArgs {
            table,
            kv,
            query,
            out,
            ..
        } = *args;
        let params = PrefillParams {
            table: TableShape::new(table, query.heads),
            max_seq_len: table.max_len(),
            scale: query.scale,
            _pad: [0; 2],
        };
        let [indptr, indices, last] = table.bindings();
        self.gpu.dispatch_groups(
            encoder,
            "attention prefill",
            &prepared.pipeline,
            &params,
            &[
                indptr,
                indices,
                last,
                kv.k,
                kv.v,
                query.q,
                Binding::whole(&prepared.qo_indptr),
                out.o,
            ],
            prepared.workgroups,
        )
    }
}

/// Fails unless `qo_indptr` has `batch + 1` entries, starts at 0, never decreases, brings at
/// least one query and (where the table's lengths are known on the host) no more new tokens to
/// a sequence than it holds; returns the query rows.
pub fn check_qo_indptr(qo_indptr: &[u32], table: &DevicePageTable) -> Result<u32> {
    let batch = table.batch() as usize;
    if qo_indptr.len() != batch + 1 {
        return Err(Error::invalid(
            "qo_indptr",
            "length",
            format!("batch + 1 = {}", batch + 1),
            qo_indptr.len(),
        ));
    }
    if qo_indptr[0] != 0 {
        return Err(Error::invalid("qo_indptr", "element 0", 0, qo_indptr[0]));
    }
    if let Some(b) = (0..batch).find(|&b| qo_indptr[b + 1] < qo_indptr[b]) {
        return Err(Error::invalid(
            "qo_indptr",
            "order",
            "non-decreasing",
            format!(
                "element {} = {} after {}",
                b + 1,
                qo_indptr[b + 1],
                qo_indptr[b]
            ),
        ));
    }
    let rows = qo_indptr[batch];
    if rows == 0 {
        return Err(Error::invalid(
            "qo_indptr",
            "query tokens",
            "at least one",
            0,
        ));
    }
    if let Some(lens) = table.seq_lens()
        && let Some(b) = (0..batch).find(|&b| qo_indptr[b + 1] - qo_indptr[b] > lens[b])
    {
        return Err(Error::invalid(
            "qo_indptr",
            "new tokens of a sequence",
            format!("at most its length {}", lens[b]),
            format!("{} for sequence {b}", qo_indptr[b + 1] - qo_indptr[b]),
        ));
    }
    Ok(rows)
}
