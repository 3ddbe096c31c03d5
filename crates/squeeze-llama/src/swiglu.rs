//! SwiGLU (`shaders/llama/swiglu.wgsl`): `out = silu(gate) · up`, elementwise in f32, the
//! activation of LLaMA's FFN between the gate/up and the down projection — from separate gate
//! and up buffers, or from stacked gate|up rows (one GEMV's output over both projections).

use squeeze::shaders::llama::SWIGLU;
use squeeze::{Binding, Gpu, Result, wgpu};

use crate::check::{f32s, product};
use crate::glue;
use crate::params::LlamaParams;

/// Invocations per workgroup (the `WORKGROUP_SIZE` override).
pub const WORKGROUP_SIZE: u32 = 256;

/// SwiGLU on one device.
pub struct SwiGlu {
    gpu: Gpu,
    pipeline: wgpu::ComputePipeline,
    /// Entry `swiglu_stacked`.
    stacked: wgpu::ComputePipeline,
}

impl SwiGlu {
    pub fn new(gpu: &Gpu) -> Result<Self> {
        Ok(Self {
            gpu: gpu.clone(),
            pipeline: glue::pipeline(gpu, &SWIGLU, "swiglu", WORKGROUP_SIZE)?,
            stacked: glue::pipeline(gpu, &SWIGLU, "swiglu_stacked", WORKGROUP_SIZE)?,
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
        let gpu = &self.gpu;
        for (arg, b) in [("gate", &gate), ("up", &up), ("out", &out)] {
            f32s(gpu, arg, b, n, format_args!("{n} f32"))?;
        }
        self.dispatch(
            encoder,
            "llama swiglu",
            &self.pipeline,
            (1, n),
            &[(1, gate), (2, up), (3, out)],
        )
    }

    /// Records `out[r, i] = silu(gate_up[r, i]) · gate_up[r, cols + i]` for `rows` rows: f32
    /// `gate_up` `[rows, 2 · cols]` (each row's gate, then its up), `out` `[rows, cols]`.
    pub fn encode_stacked(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        (rows, cols): (u32, u32),
        gate_up: Binding<'_>,
        out: Binding<'_>,
    ) -> Result<()> {
        let n = product("out", rows, cols)?;
        if n == 0 {
            return Ok(());
        }
        let gpu = &self.gpu;
        let stacked = product("gate_up", n, 2)?;
        f32s(
            gpu,
            "gate_up",
            &gate_up,
            stacked,
            format_args!("[{rows}, 2 × {cols}] f32"),
        )?;
        f32s(gpu, "out", &out, n, format_args!("[{rows}, {cols}] f32"))?;
        self.dispatch(
            encoder,
            "llama swiglu_stacked",
            &self.stacked,
            (rows, cols),
            &[(3, out), (4, gate_up)],
        )
    }

    fn dispatch(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        label: &str,
        pipeline: &wgpu::ComputePipeline,
        (rows, cols): (u32, u32),
        bindings: &[(u32, Binding<'_>)],
    ) -> Result<()> {
        let params = LlamaParams {
            rows,
            cols,
            ..LlamaParams::default()
        };
        let groups = self
            .gpu
            .grid_workgroups(u64::from(rows) * u64::from(cols), WORKGROUP_SIZE);
        self.gpu
            .dispatch_slots(encoder, label, pipeline, &params, bindings, groups)
    }
}
