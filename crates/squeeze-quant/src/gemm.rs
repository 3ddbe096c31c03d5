//! Quantized GEMM for prefill (`shaders/quant/gemm.wgsl`): `y[b, r] = Σ_c W[r, c] · x[b, c]` at
//! any batch, in 64 × 64 output tiles with the weight and activation tiles staged in workgroup
//! memory, so each weight is decoded once per 64 batch columns. Portable WGSL only.

use squeeze_core::wgpu::CommandEncoder;
use squeeze_core::{Binding, Error, Gpu, Result};
use squeeze_shaders::{
    Module,
    quant::{GEMM, GEMM_AFFINE},
};

use crate::activations::{self, ActivationPipelines, Activations, Problem, YRows};
use crate::matrix::{HostWeights, QuantWeights, Scheme};

/// Output tile: rows × batch columns per workgroup (`TILE_ROWS`, `TILE_BATCH` in gemm.wgsl).
pub const TILE: (usize, usize) = (64, 64);
/// Workgroup memory of the two tiles: 128 rows of 32 f32 padded to 36 (gemm.wgsl).
pub const WORKGROUP_BYTES: u64 = 128 * 36 * 4;

/// GEMM for one weight scheme on one device.
pub struct Gemm {
    gpu: Gpu,
    scheme: Scheme,
    pipelines: ActivationPipelines,
}

impl Gemm {
    pub fn new(gpu: &Gpu, scheme: impl Into<Scheme>) -> Result<Self> {
        let scheme = scheme.into();
        let max = u64::from(gpu.limits().max_compute_workgroup_storage_size);
        if WORKGROUP_BYTES > max {
            return Err(Error::OverLimit {
                arg: "gemm tiles",
                bytes: WORKGROUP_BYTES,
                limit: "max_compute_workgroup_storage_size",
                max,
            });
        }
        let module: &'static Module = match scheme {
            Scheme::Gguf(_) => &GEMM,
            Scheme::Affine(_) => &GEMM_AFFINE,
        };
        Ok(Self {
            gpu: gpu.clone(),
            scheme,
            pipelines: ActivationPipelines::new(gpu, module, "gemm", scheme, &[])?,
        })
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
        // One output tile per workgroup.
        let tiles = problem.rows.div_ceil(TILE.0) * problem.batch.div_ceil(TILE.1);
        self.pipelines
            .dispatch(encoder, &problem, &shape, &bindings, tiles as u64, 1)
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
