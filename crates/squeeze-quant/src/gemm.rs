//! Quantized GEMM for prefill: `y[b, r] = Σ_c W[r, c] · x[b, c]` at any batch, on one of two
//! paths ([`GemmPath`]): `shaders/quant/gemm.wgsl`, 64 × 64 output tiles with the weight and
//! activation tiles staged in workgroup memory (portable WGSL, each weight decoded once per 64
//! batch columns), or `shaders/quant/gemm_subgroup.wgsl`, for adapters whose subgroups are CPU
//! SIMD vectors, where values pass between lanes by subgroup broadcasts instead of memory.

use squeeze_core::wgpu::CommandEncoder;
use squeeze_core::{Binding, Error, Gpu, Result};
use squeeze_shaders::{
    Module,
    quant::{GEMM, GEMM_AFFINE, GEMM_AFFINE_SUBGROUP, GEMM_SUBGROUP},
};

use crate::activations::{self, ActivationPipelines, Activations, Problem, YRows};
use crate::matrix::{HostWeights, QuantWeights, Scheme};

/// Output tile of the tiled path: rows × batch columns per workgroup (`TILE_ROWS`,
/// `TILE_BATCH` in gemm.wgsl).
pub const TILE: (usize, usize) = (64, 64);
/// Workgroup memory of the two tiles: 128 rows of 32 f32 padded to 36 (gemm.wgsl).
pub const WORKGROUP_BYTES: u64 = 128 * 36 * 4;
/// The subgroup path's tile: rows × batch columns per workgroup, which is one subgroup of 8
/// lanes (`ROWS_PER_LANE` × `LANES`, `TILE_COLUMNS` in gemm_subgroup.wgsl).
pub const SUBGROUP_TILE: (usize, usize) = (64, 32);

/// Which GEMM kernel runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GemmPath {
    /// Core WGSL: weight and activation tiles in workgroup memory. Runs everywhere; the shape
    /// for GPUs, whose workgroup memory is fast and shared by many lanes.
    Tiled,
    /// Each lane decodes its own rows and takes the activations from eight lanes by
    /// `subgroupBroadcast`: no workgroup memory. Needs the SUBGROUP feature and subgroups of at
    /// least 8 lanes. The shape for CPU adapters (lavapipe), where a lane-varying load is a
    /// loop over the lanes and a broadcast from a fixed lane a register move; there it is
    /// several times faster than `Tiled`.
    Subgroup,
}

impl GemmPath {
    /// The path for `gpu`: [`GemmPath::Subgroup`] where the device prefers broadcast kernels
    /// (CPU adapters that can run it, [`Gpu::prefers_broadcast_subgroups`]), else
    /// [`GemmPath::Tiled`].
    pub fn best(gpu: &Gpu) -> Self {
        if gpu.prefers_broadcast_subgroups() {
            GemmPath::Subgroup
        } else {
            GemmPath::Tiled
        }
    }

    /// Whether `gpu` can run this path.
    pub fn runs_on(self, gpu: &Gpu) -> bool {
        match self {
            GemmPath::Tiled => true,
            GemmPath::Subgroup => gpu.has_broadcast_subgroups(),
        }
    }
}

/// GEMM for one weight scheme and path on one device.
pub struct Gemm {
    gpu: Gpu,
    scheme: Scheme,
    path: GemmPath,
    pipelines: ActivationPipelines,
}

impl Gemm {
    /// The best path for the device ([`GemmPath::best`]).
    pub fn new(gpu: &Gpu, scheme: impl Into<Scheme>) -> Result<Self> {
        Self::with_path(gpu, scheme, GemmPath::best(gpu))
    }

    pub fn with_path(gpu: &Gpu, scheme: impl Into<Scheme>, path: GemmPath) -> Result<Self> {
        let scheme = scheme.into();
        let module: &'static Module = match path {
            GemmPath::Tiled => {
                let max = u64::from(gpu.limits().max_compute_workgroup_storage_size);
                if WORKGROUP_BYTES > max {
                    return Err(Error::OverLimit {
                        arg: "gemm tiles",
                        bytes: WORKGROUP_BYTES,
                        limit: "max_compute_workgroup_storage_size",
                        max,
                    });
                }
                match scheme {
                    Scheme::Gguf(_) => &GEMM,
                    Scheme::Affine(_) => &GEMM_AFFINE,
                }
            }
            GemmPath::Subgroup => {
                let module = match scheme {
                    Scheme::Gguf(_) => &GEMM_SUBGROUP,
                    Scheme::Affine(_) => &GEMM_AFFINE_SUBGROUP,
                };
                gpu.check_broadcast_subgroups(module, "gemm path")?;
                module
            }
        };
        Ok(Self {
            gpu: gpu.clone(),
            scheme,
            path,
            pipelines: ActivationPipelines::new(gpu, module, "gemm", scheme, &[])?,
        })
    }

    pub fn path(&self) -> GemmPath {
        self.path
    }

    /// Records `y = x · Wᵀ` for `problem` (any batch ≥ 1): the same bindings as
    /// [`crate::Gemv::encode`].
    pub fn encode<'a>(
        &self,
        encoder: &mut CommandEncoder,
        problem: Problem,
        w: impl Into<QuantWeights<'a>>,
        x: Binding<'a>,
        y: impl Into<YRows<'a>>,
    ) -> Result<()> {
        let (shape, bindings) = problem.bindings(&self.gpu, self.scheme, w.into(), x, y.into())?;
        if shape.rows == 0 || problem.batch == 0 {
            return Ok(());
        }
        let (tiles, per_group) = match self.path {
            // One output tile per workgroup.
            GemmPath::Tiled => (
                problem.rows.div_ceil(TILE.0) * problem.batch.div_ceil(TILE.1),
                1,
            ),
            // One tile per workgroup (one subgroup).
            GemmPath::Subgroup => (
                problem.rows.div_ceil(SUBGROUP_TILE.0) * problem.batch.div_ceil(SUBGROUP_TILE.1),
                1,
            ),
        };
        self.pipelines.dispatch(
            encoder,
            &problem,
            &shape,
            &bindings,
            tiles as u64,
            per_group,
        )
    }

    /// Uploads weights and activations, runs on the device and reads back `[batch, rows]`.
    pub fn run<'w>(
        &self,
        w: impl Into<HostWeights<'w>>,
        cols: usize,
        x: Activations<'_>,
    ) -> Result<Vec<f32>> {
        activations::run(
            &self.gpu,
            self.scheme,
            w.into(),
            cols,
            x,
            |e, p, w, x, y| self.encode(e, p, w, x, y),
        )
    }
}
