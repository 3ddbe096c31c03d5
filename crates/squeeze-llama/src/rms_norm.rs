//! RMSNorm (`shaders/llama/rms_norm.wgsl`): each f32 row scaled by the inverse root of its mean
//! square plus eps, times a per-column f32 weight; one workgroup per row. Also with the residual
//! add before it (`h += delta`, then the norm of `h`), in one dispatch.

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
    /// Entry `add_rms_norm`.
    add: wgpu::ComputePipeline,
}

/// The residual stream and a block's output, for [`RmsNorm::encode_add`].
#[derive(Clone, Copy)]
pub struct ResidualUpdate<'a> {
    /// f32 `[rows, cols]`, updated in place.
    pub h: Binding<'a>,
    /// f32 `[rows, cols]`, added into `h`.
    pub delta: Binding<'a>,
}

impl RmsNorm {
    pub fn new(gpu: &Gpu) -> Result<Self> {
        Ok(Self {
            gpu: gpu.clone(),
            pipeline: glue::pipeline(gpu, &RMS_NORM, "rms_norm", WORKGROUP_SIZE)?,
            add: glue::pipeline(gpu, &RMS_NORM, "add_rms_norm", WORKGROUP_SIZE)?,
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
        let Some(params) = self.check(shape, &[("x", &x), ("y", &y)], &weight)? else {
            return Ok(());
        };
        self.gpu.dispatch_slots(
            encoder,
            "llama rms_norm",
            &self.pipeline,
            &params,
            &[(1, x), (2, weight), (3, y)],
            self.gpu.row_workgroups(u64::from(shape.rows), 1),
        )
    }

    /// Records `h += delta`, then `y = rms_norm(h) · weight`, for `shape` (`h`, `delta`, `y`
    /// f32 `[rows, cols]` in distinct buffers): the same values as the residual add and
    /// [`RmsNorm::encode`] one after the other, in one dispatch.
    pub fn encode_add(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        shape: NormShape,
        residual: ResidualUpdate<'_>,
        weight: Binding<'_>,
        y: Binding<'_>,
    ) -> Result<()> {
        let ResidualUpdate { h, delta } = residual;
        let rows = [("h", &h), ("delta", &delta), ("y", &y)];
        let Some(params) = self.check(shape, &rows, &weight)? else {
            return Ok(());
        };
        self.gpu.dispatch_slots(
            encoder,
            "llama add_rms_norm",
            &self.add,
            &params,
            &[(2, weight), (3, y), (4, h), (5, delta)],
            self.gpu.row_workgroups(u64::from(shape.rows), 1),
        )
    }

    /// The params of `shape` after checking it and that each of `rows` holds `[rows, cols]`
    /// f32 and `weight` `[cols]`; `None` when there are no rows.
    fn check(
        &self,
        shape: NormShape,
        rows: &[(&'static str, &Binding<'_>)],
        weight: &Binding<'_>,
    ) -> Result<Option<LlamaParams>> {
        let NormShape { rows: n, cols, eps } = shape;
        if cols == 0 {
            return Err(Error::invalid("cols", "value", "≥ 1", 0));
        }
        if !(eps.is_finite() && eps >= 0.0) {
            return Err(Error::invalid("eps", "value", "finite and ≥ 0", eps));
        }
        let count = product("x", n, cols)?;
        if n == 0 {
            return Ok(None);
        }
        for (arg, b) in rows {
            f32s(&self.gpu, arg, b, count, format_args!("[{n}, {cols}] f32"))?;
        }
        f32s(
            &self.gpu,
            "weight",
            weight,
            cols,
            format_args!("[{cols}] f32"),
        )?;
        Ok(Some(LlamaParams {
            rows: n,
            cols,
            eps,
            ..LlamaParams::default()
        }))
    }
}
