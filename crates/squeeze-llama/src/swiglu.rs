//! SwiGLU (`shaders/llama/swiglu.wgsl`): `out = silu(gate) · up`, elementwise in f32, the
//! activation of LLaMA's FFN between the gate/up and the down projection.

use squeeze::shaders::llama::SWIGLU;
use squeeze::{Binding, Gpu, Result, wgpu};

use crate::glue::{self, Elementwise};

/// Invocations per workgroup (the `WORKGROUP_SIZE` override).
pub const WORKGROUP_SIZE: u32 = 256;

/// SwiGLU on one device.
pub struct SwiGlu {
    gpu: Gpu,
    pipeline: wgpu::ComputePipeline,
}

impl SwiGlu {
    pub fn new(gpu: &Gpu) -> Result<Self> {
        Ok(Self {
            gpu: gpu.clone(),
            pipeline: glue::pipeline(gpu, &SWIGLU, "swiglu", WORKGROUP_SIZE)?,
        })
    }

    /// Records `out[i] = silu(gate[i]) · up[i]` for `n` f32 values.
    pub fn encode(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        n: u32,
        gate: Binding<'_>,
        up: Binding<'_>,
        out: Binding<'_>,
    ) -> Result<()> {
        Elementwise {
            gpu: &self.gpu,
            pipeline: &self.pipeline,
            label: "llama swiglu",
            workgroup_size: WORKGROUP_SIZE,
        }
        .encode(encoder, n, &[("gate", gate), ("up", up), ("out", out)])
    }
}
