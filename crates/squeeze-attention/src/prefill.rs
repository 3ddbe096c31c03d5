//! Causal prefill attention (`shaders/attention/prefill.wgsl`): the n newest tokens of each
//! sequence — ragged, as FlashInfer's batch prefill lays them out with `qo_indptr` — attend to
//! the paged cache, which already holds them (append, then attend): query i of a sequence of
//! length L with n new tokens sits at position L − n + i and sees positions 0 ..= L − n + i.
//! Multi-query with GQA, FlashAttention-style: a workgroup holds a tile of (token, query head)
//! rows of one KV group and streams K and V tiles through workgroup memory with an online
//! softmax, so each K and V element is read once per query tile and a whole prompt is one
//! dispatch. Two paths ([`PrefillPath`]): workgroup tiles for GPUs, and a subgroup kernel for
//! CPU adapters, where a lane owns a query row and keys arrive by broadcast.

use squeeze_core::pipeline::PipelineOptions;
use squeeze_core::wgpu;
use squeeze_core::{Binding, DType, Error, Gpu, Result};
use squeeze_shaders::attention::{PREFILL, PREFILL_SUBGROUP};

use crate::layout::{HEAD_DIMS, KvCache, KvDtype, Output, Query};
use crate::pages::DevicePageTable;
use crate::params::TableShape;

/// f32 elements of a workgroup's query tile (`Q_ELEMENTS` in prefill.wgsl): a tile holds
/// `QUERY_TILE / head_dim` (token, query head) rows.
pub const QUERY_TILE: u32 = 1024;

/// Query rows of a subgroup-path workgroup (`WORKGROUP` in prefill_subgroup.wgsl).
const SUBGROUP_ROWS: u32 = 64;

/// Which prefill kernel runs; both compute the same attention (in different summation orders).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrefillPath {
    /// Core WGSL: query and K/V tiles in workgroup memory. Runs everywhere; the shape for
    /// GPUs, whose workgroup memory is fast and shared by many lanes.
    Tiled,
    /// A lane per query row, its query and output in registers, keys and values handed out by
    /// `subgroupBroadcast` from eight lanes: no workgroup memory. Needs the SUBGROUP feature and
    /// subgroups of at least 8 lanes. The shape for CPU adapters (lavapipe), where a lane-varying
    /// load is a loop over the lanes and a broadcast from a fixed lane a register move.
    Subgroup,
}

impl PrefillPath {
    /// The path for `gpu`: [`PrefillPath::Subgroup`] where the device prefers broadcast
    /// kernels (CPU adapters that can run it, [`Gpu::prefers_broadcast_subgroups`]), else
    /// [`PrefillPath::Tiled`].
    pub fn best(gpu: &Gpu) -> Self {
        if gpu.prefers_broadcast_subgroups() {
            PrefillPath::Subgroup
        } else {
            PrefillPath::Tiled
        }
    }

    /// Whether `gpu` can run this path.
    pub fn runs_on(self, gpu: &Gpu) -> bool {
        match self {
            PrefillPath::Tiled => true,
            PrefillPath::Subgroup => gpu.has_broadcast_subgroups(),
        }
    }
}

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

/// Causal prefill attention for one KV cache format and path.
pub struct Prefill {
    gpu: Gpu,
    dtype: KvDtype,
    path: PrefillPath,
}

/// What [`Prefill::checked`] found: the pipeline, the device copy of `qo_indptr` and the grid.
struct Prepared {
    pipeline: wgpu::ComputePipeline,
    qo_indptr: wgpu::Buffer,
    workgroups: [u32; 3],
}

impl Prefill {
    /// The best path for the device ([`PrefillPath::best`]); the tiled path compiles its f32
    /// queries and outputs now (everything else compiles on first use, or ahead of it with
    /// [`Prefill::prepare`]).
    pub fn new(gpu: &Gpu, dtype: KvDtype) -> Result<Self> {
        Self::with_path(gpu, dtype, PrefillPath::best(gpu))
    }

    /// `path` explicitly: [`PrefillPath::Subgroup`] without the SUBGROUP feature is a
    /// `MissingFeature` error, with subgroups under 8 lanes an invalid "prefill path".
    pub fn with_path(gpu: &Gpu, dtype: KvDtype, path: PrefillPath) -> Result<Self> {
        let prefill = Self {
            gpu: gpu.clone(),
            dtype,
            path,
        };
        match path {
            PrefillPath::Tiled => prefill.prepare(64, DType::F32, DType::F32)?,
            PrefillPath::Subgroup => {
                gpu.check_broadcast_subgroups(&PREFILL_SUBGROUP, "prefill path")?
            }
        }
        Ok(prefill)
    }

    pub fn dtype(&self) -> KvDtype {
        self.dtype
    }

    pub fn path(&self) -> PrefillPath {
        self.path
    }

    /// Compiles the prefill for `head_dim` (64, 128 or 256; only the subgroup path compiles
    /// one kernel per head dimension), queries of `q_dtype` and outputs of `o_dtype` (each f32
    /// or f16) now, so an engine pays the compile at load time.
    pub fn prepare(&self, head_dim: u32, q_dtype: DType, o_dtype: DType) -> Result<()> {
        if !HEAD_DIMS.contains(&head_dim) {
            return Err(Error::invalid(
                "head_dim",
                "value",
                format!("one of {HEAD_DIMS:?}"),
                head_dim,
            ));
        }
        self.pipeline(head_dim, q_dtype.is_f16("q")?, o_dtype.is_f16("o")?)
            .map(|_| ())
    }

    fn pipeline(&self, head_dim: u32, q_f16: bool, o_f16: bool) -> Result<wgpu::ComputePipeline> {
        // Both kernels write every workgroup word they read (the subgroup one has none).
        let options = PipelineOptions {
            zero_initialize_workgroup_memory: false,
        };
        let [kv] = self.dtype.overrides();
        let q = ("Q_F16", f64::from(u8::from(q_f16)));
        let o = ("O_F16", f64::from(u8::from(o_f16)));
        match self.path {
            PrefillPath::Tiled => {
                self.gpu
                    .pipeline_with_options(&PREFILL, "prefill", &[q, kv, o], options)
            }
            PrefillPath::Subgroup => self.gpu.pipeline_with_options(
                &PREFILL_SUBGROUP,
                "prefill",
                &[("HEAD_DIM", f64::from(head_dim)), q, kv, o],
                options,
            ),
        }
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
        let tile_rows = match self.path {
            PrefillPath::Tiled => QUERY_TILE / layout.head_dim,
            PrefillPath::Subgroup => SUBGROUP_ROWS,
        };
        let tiles = (u64::from(most) * u64::from(group)).div_ceil(u64::from(tile_rows));
        let tiles = u32::try_from(tiles)
            .map_err(|_| Error::invalid("qo_indptr", "query tiles", "< 2^32", tiles))?;
        Ok(Prepared {
            pipeline: self.pipeline(layout.head_dim, query.dtype == DType::F16, o_f16)?,
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
