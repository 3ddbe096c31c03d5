//! Rotary position embedding (`shaders/llama/rope.wgsl`), in place on f32 `[rows, heads,
//! head_dim]`, positions from a device buffer. Both pairings: adjacent (GGUF, whose Q/K rows
//! llama.cpp's converter permutes) and halves (Hugging Face).

use squeeze::shaders::llama::ROPE;
use squeeze::{Binding, Error, Gpu, Result, wgpu};

use crate::check::{f32s, product};
use crate::params::LlamaParams;
use crate::reference;

/// Invocations per workgroup (the `WORKGROUP_SIZE` override).
pub const WORKGROUP_SIZE: u32 = 256;

/// Which values of a head form a rotated pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pairing {
    /// (2i, 2i + 1): GGUF LLaMA checkpoints.
    Adjacent,
    /// (i, i + head_dim / 2): Hugging Face checkpoints.
    Halves,
}

/// What a rotary embedding is built for: head size, base and pairing.
#[derive(Debug, Clone, Copy)]
pub struct RopeConfig {
    pub head_dim: u32,
    /// The frequency base (`rope.freq_base`, `rope_theta`).
    pub theta: f32,
    pub pairing: Pairing,
}

/// The rotary embedding of one configuration on one device: its frequency table is uploaded
/// once, here.
pub struct Rope {
    gpu: Gpu,
    config: RopeConfig,
    pipeline: wgpu::ComputePipeline,
    inv_freq: wgpu::Buffer,
}

impl Rope {
    pub fn new(gpu: &Gpu, config: RopeConfig) -> Result<Self> {
        let RopeConfig {
            head_dim, theta, ..
        } = config;
        if head_dim < 2 || !head_dim.is_multiple_of(2) {
            return Err(Error::invalid(
                "head_dim",
                "value",
                "even and ≥ 2",
                head_dim,
            ));
        }
        if !(theta.is_finite() && theta > 0.0) {
            return Err(Error::invalid("theta", "value", "finite and > 0", theta));
        }
        let halves = match config.pairing {
            Pairing::Adjacent => 0.0,
            Pairing::Halves => 1.0,
        };
        let pipeline = gpu.pipeline(
            &ROPE,
            "rope",
            &[
                ("WORKGROUP_SIZE", f64::from(WORKGROUP_SIZE)),
                ("HALVES", halves),
            ],
        )?;
        let inv_freq = gpu.upload("inv_freq", &reference::rope_inv_freq(head_dim, theta))?;
        Ok(Self {
            gpu: gpu.clone(),
            config,
            pipeline,
            inv_freq,
        })
    }

    pub fn config(&self) -> RopeConfig {
        self.config
    }

    /// Records the rotation of `x` (f32 `[rows, heads, head_dim]`, in place), row r at position
    /// `positions[r]` (u32 `[rows]` on the device).
    pub fn encode(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        rows: u32,
        heads: u32,
        positions: Binding<'_>,
        x: Binding<'_>,
    ) -> Result<()> {
        let head_dim = self.config.head_dim;
        let n = product("x", product("x", rows, heads)?, head_dim)?;
        if n == 0 {
            return Ok(());
        }
        let gpu = &self.gpu;
        gpu.check_storage_binding("positions", &positions)?;
        gpu.check_binding_holds(
            "positions",
            &positions,
            u64::from(rows) * 4,
            format_args!("{rows} u32"),
        )?;
        f32s(
            gpu,
            "x",
            &x,
            n,
            format_args!("[{rows}, {heads}, {head_dim}] f32"),
        )?;
        let params = LlamaParams {
            rows,
            cols: head_dim,
            heads,
            ..LlamaParams::default()
        };
        let groups = squeeze::core::dispatch::grid_stride_workgroups(
            u64::from(n / 2),
            WORKGROUP_SIZE,
            gpu.limits().max_compute_workgroups_per_dimension,
        );
        gpu.dispatch(
            encoder,
            "llama rope",
            &self.pipeline,
            &params,
            &[positions, Binding::whole(&self.inv_freq), x],
            groups,
        )
    }
}
