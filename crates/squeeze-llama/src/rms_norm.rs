//! RMSNorm (`shaders/llama/rms_norm.wgsl`): each f32 row scaled by the inverse root of its mean
//! square plus eps, times a per-column f32 weight; one workgroup per row.

use squeeze::shaders::llama::RMS_NORM;
use squeeze::{Binding, Error, Gpu, Result, wgpu};

use crate::check::{f32s, product};
use crate::glue;
use crate::params::LlamaParams;

/// Threads per row (the `WORKGROUP_SIZE` override; a power of two for the tree).
pub const WORKGROUP_SIZE: u32 = 64;

/// `rows` rows of `cols` values, normalised with `eps`.
#[derive(Debug, Clone, Copy)]
pub struct NormShape {
    pub rows: u32,
    pub cols: u32,
    pub eps: f32,
}

/// RMSNorm on one device.
pub struct RmsNorm {
    gpu: Gpu,
    pipeline: wgpu::ComputePipeline,
}

impl RmsNorm {
    pub fn new(gpu: &Gpu) -> Result<Self> {
        Ok(Self {
            gpu: gpu.clone(),
            pipeline: glue::pipeline(gpu, &RMS_NORM, "rms_norm", WORKGROUP_SIZE)?,
        })
    }

    /// Records `y = rms_norm(x) · weight` for `shape`: `x`, `y` f32 `[rows, cols]` (distinct
    /// buffers), `weight` f32 `[cols]`.
    pub fn encode(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        shape: NormShape,
        x: Binding<'_>,
        weight: Binding<'_>,
        y: Binding<'_>,
    ) -> Result<()> {
        let NormShape { rows, cols, eps } = shape;
        if cols == 0 {
            return Err(Error::invalid("cols", "value", "≥ 1", 0));
        }
        if !(eps.is_finite() && eps >= 0.0) {
            return Err(Error::invalid("eps", "value", "finite and ≥ 0", eps));
        }
        let n = product("x", rows, cols)?;
        if rows == 0 {
            return Ok(());
        }
        let gpu = &self.gpu;
        f32s(gpu, "x", &x, n, format_args!("[{rows}, {cols}] f32"))?;
        f32s(gpu, "weight", &weight, cols, format_args!("[{cols}] f32"))?;
        f32s(gpu, "y", &y, n, format_args!("[{rows}, {cols}] f32"))?;
        let params = LlamaParams {
            rows,
            cols,
            eps,
            ..LlamaParams::default()
        };
        let groups = rows.min(gpu.limits().max_compute_workgroups_per_dimension);
        gpu.dispatch(
            encoder,
            "llama rms_norm",
            &self.pipeline,
            &params,
            &[x, weight, y],
            groups,
        )
    }
}
