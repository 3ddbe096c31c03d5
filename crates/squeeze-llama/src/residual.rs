//! The residual add (`shaders/llama/residual.wgsl`): `h += delta` in place, f32, so the hidden
//! state stays in one buffer for a whole step.

use squeeze::shaders::llama::RESIDUAL;
use squeeze::{Binding, Gpu, Result, wgpu};

use crate::check::f32s;

/// Invocations per workgroup (the `WORKGROUP_SIZE` override).
pub const WORKGROUP_SIZE: u32 = 256;

/// The residual add on one device.
pub struct Residual {
    gpu: Gpu,
    pipeline: wgpu::ComputePipeline,
}

impl Residual {
    pub fn new(gpu: &Gpu) -> Result<Self> {
        let pipeline = gpu.pipeline(
            &RESIDUAL,
            "residual_add",
            &[("WORKGROUP_SIZE", f64::from(WORKGROUP_SIZE))],
        )?;
        Ok(Self {
            gpu: gpu.clone(),
            pipeline,
        })
    }

    /// Records `h[i] += delta[i]` for `n` f32 values (`delta` and `h` in distinct buffers).
    pub fn encode(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        n: u32,
        delta: Binding<'_>,
        h: Binding<'_>,
    ) -> Result<()> {
        if n == 0 {
            return Ok(());
        }
        for (arg, b) in [("delta", &delta), ("h", &h)] {
            f32s(&self.gpu, arg, b, n, format_args!("{n} f32"))?;
        }
        self.gpu.dispatch_grid_stride(
            encoder,
            "llama residual",
            &self.pipeline,
            &[delta, h],
            n,
            WORKGROUP_SIZE,
        )
    }
}
