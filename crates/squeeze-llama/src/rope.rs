//! Rotary position embedding (`shaders/llama/rope.wgsl`), in place on f32 `[rows, heads,
//! head_dim]`, or from stacked Q|K|V rows (one GEMV's output over the three projections) into
//! separate q, k and v; positions from a device buffer. Both pairings: adjacent (GGUF, whose Q/K
//! rows llama.cpp's converter permutes) and halves (Hugging Face).

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
    /// Entry `rope_qkv`.
    stacked: wgpu::ComputePipeline,
    inv_freq: wgpu::Buffer,
}

/// Stacked Q|K|V rows and where their parts go ([`Rope::encode_qkv`]).
#[derive(Clone, Copy)]
pub struct StackedQkv<'a> {
    /// Rows (tokens), each at the position of its row of `positions` (u32 `[rows]`).
    pub rows: u32,
    pub positions: Binding<'a>,
    /// Query heads, and key (and value) heads, per row.
    pub heads: u32,
    pub kv_heads: u32,
    /// f32 `[rows, heads + 2 · kv_heads, head_dim]`: each row's q, then k, then v.
    pub qkv: Binding<'a>,
    /// f32 `[rows, heads, head_dim]`, `[rows, kv_heads, head_dim]` ×2: rotated q and k, and v.
    pub q: Binding<'a>,
    pub k: Binding<'a>,
    pub v: Binding<'a>,
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
        let overrides = [
            ("WORKGROUP_SIZE", f64::from(WORKGROUP_SIZE)),
            ("HALVES", halves),
        ];
        let inv_freq = gpu.upload("inv_freq", &reference::rope_inv_freq(head_dim, theta))?;
        Ok(Self {
            gpu: gpu.clone(),
            config,
            pipeline: gpu.pipeline(&ROPE, "rope", &overrides)?,
            stacked: gpu.pipeline(&ROPE, "rope_qkv", &overrides)?,
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
        let groups = gpu.grid_workgroups(u64::from(n / 2), WORKGROUP_SIZE);
        gpu.dispatch(
            encoder,
            "llama rope",
            &self.pipeline,
            &params,
            &[positions, Binding::whole(&self.inv_freq), x],
            groups,
        )
    }
    /// Records the rotation of the q and k heads of `rows.qkv` into `rows.q` and `rows.k`, and
    /// the copy of its v heads into `rows.v`: the same values as [`Rope::encode`] on separate
    /// q and k, in one dispatch.
    pub fn encode_qkv(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        rows: &StackedQkv<'_>,
    ) -> Result<()> {
        let StackedQkv {
            rows: n,
            heads,
            kv_heads,
            ..
        } = *rows;
        let head_dim = self.config.head_dim;
        let q_len = product("q", product("q", n, heads)?, head_dim)?;
        let kv_len = product("k", product("k", n, kv_heads)?, head_dim)?;
        let width = product("qkv", heads, head_dim)?
            .checked_add(product("qkv", 2 * kv_heads, head_dim)?)
            .ok_or_else(|| Error::invalid("qkv", "row", "at most u32::MAX values", "more"))?;
        let total = product("qkv", n, width)?;
        if total == 0 {
            return Ok(());
        }
        let gpu = &self.gpu;
        gpu.check_storage_binding("positions", &rows.positions)?;
        gpu.check_binding_holds(
            "positions",
            &rows.positions,
            u64::from(n) * 4,
            format_args!("{n} u32"),
        )?;
        let shape = format_args!("[{n}, {heads} + 2 × {kv_heads}, {head_dim}] f32");
        f32s(gpu, "qkv", &rows.qkv, total, shape)?;
        f32s(
            gpu,
            "q",
            &rows.q,
            q_len,
            format_args!("[{n}, {heads}, {head_dim}] f32"),
        )?;
        let kv_shape = format_args!("[{n}, {kv_heads}, {head_dim}] f32");
        f32s(gpu, "k", &rows.k, kv_len, kv_shape)?;
        f32s(gpu, "v", &rows.v, kv_len, kv_shape)?;
        let params = LlamaParams {
            rows: n,
            cols: head_dim,
            heads,
            kv_heads,
            ..LlamaParams::default()
        };
        gpu.dispatch_slots(
            encoder,
            "llama rope_qkv",
            &self.stacked,
            &params,
            &[
                (1, rows.positions),
                (2, Binding::whole(&self.inv_freq)),
                (4, rows.qkv),
                (5, rows.q),
                (6, rows.k),
                (7, rows.v),
            ],
            gpu.grid_workgroups(u64::from(total / 2), WORKGROUP_SIZE),
        )
    }
}
