//! The residual add (`shaders/llama/residual.wgsl`): `h += delta` in place, f32, so the hidden
//! state stays in one buffer for a whole step.

use squeeze::shaders::llama::RESIDUAL;
use squeeze::{Binding, Gpu, Result, wgpu};

use crate::glue::{self, Elementwise};

/// Invocations per workgroup (the `WORKGROUP_SIZE` override).
pub const WORKGROUP_SIZE: u32 = 256;

/// The residual add on one device.
pub struct Residual {
    gpu: Gpu,
    pipeline: wgpu::ComputePipeline,
}

impl Residual {
    pub fn new(gpu: &Gpu) -> Result<Self> {
        Ok(Self {
            gpu: gpu.clone(),
            pipeline: glue::pipeline(gpu, &RESIDUAL, "residual_add", WORKGROUP_SIZE)?,
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
        Elementwise {
            gpu: &self.gpu,
            pipeline: &self.pipeline,
            label: "llama residual",
            workgroup_size: WORKGROUP_SIZE,
        }
        .encode(encoder, n, &[("delta", delta), ("h", h)])
    }
}
