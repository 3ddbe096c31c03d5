//! SwiGLU (`shaders/llama/swiglu.wgsl`): `out = silu(gate) · up`, elementwise in f32, the
//! activation of LLaMA's FFN between the gate/up and the down projection.

use squeeze::shaders::llama::SWIGLU;
use squeeze::{Binding, Gpu, Result, wgpu};

use crate::check::f32s;

/// Invocations per workgroup (the `WORKGROUP_SIZE` override).
pub const WORKGROUP_SIZE: u32 = 256;

/// SwiGLU on one device.
pub struct SwiGlu {
    gpu: Gpu,
    pipeline: wgpu::ComputePipeline,
}

impl SwiGlu {
    pub fn new(gpu: &Gpu) -> Result<Self> {
        let pipeline = gpu.pipeline(
            &SWIGLU,
            "swiglu",
            &[("WORKGROUP_SIZE", f64::from(WORKGROUP_SIZE))],
        )?;
        Ok(Self {
            gpu: gpu.clone(),
            pipeline,
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
        if n == 0 {
            return Ok(());
        }
        for (arg, b) in [("gate", &gate), ("up", &up), ("out", &out)] {
            f32s(&self.gpu, arg, b, n, format_args!("{n} f32"))?;
        }
        self.gpu.dispatch_grid_stride(
            encoder,
            "llama swiglu",
            &self.pipeline,
            &[gate, up, out],
            n,
            WORKGROUP_SIZE,
        )
    }
}
