//! The buffers a decode step works in, made once at load: the token and position it reads, every
//! intermediate activation, the top-k workspace, and the mappable buffers the
//! sampled token (and, when asked, the logits) are copied into for the host.

use squeeze::{Error, Gpu, Result, wgpu};

use crate::config::LlamaConfig;

/// The activations of up to `rows` tokens, f32 `[rows, …]`: the decode step's (one row) and
/// a prefill chunk's.
pub struct Activations {
    pub rows: u32,
    /// [hidden]: the residual stream.
    pub x: wgpu::Buffer,
    /// [hidden]: the normalised stream.
    pub xn: wgpu::Buffer,
    /// [heads + 2 · kv_heads, head_dim]: the stacked q|k|v projections' output (made only when
    /// some layer stacks them).
    pub qkv: Option<wgpu::Buffer>,
    /// [heads, head_dim], [kv_heads, head_dim] ×2: q and k after RoPE, and v.
    pub q: wgpu::Buffer,
    pub k: wgpu::Buffer,
    pub v: wgpu::Buffer,
    /// [heads, head_dim]: the attention output.
    pub attn: wgpu::Buffer,
    /// [hidden]: a block's output before the residual add.
    pub delta: wgpu::Buffer,
    /// [2 · ffn]: the stacked gate|up projections' output, made only when some layer stacks
    /// them; [ffn] ×2: gate and up apart, made only when some layer keeps them apart.
    pub gate_up: Option<wgpu::Buffer>,
    pub gate: Option<wgpu::Buffer>,
    pub up: Option<wgpu::Buffer>,
    /// [ffn]: SwiGLU's output.
    pub act: wgpu::Buffer,
}

/// Which projection outputs the layers need (from [`crate::weights::DeviceWeights::layouts`]),
/// so that only those buffers are made: apart q/k/v write straight into `q`, `k`, `v`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Layouts {
    pub stacked_qkv: bool,
    pub stacked_ffn: bool,
    pub apart_ffn: bool,
}

/// `buffer`, or an error naming `arg` when the layouts made none.
pub fn made<'a>(buffer: &'a Option<wgpu::Buffer>, arg: &'static str) -> Result<&'a wgpu::Buffer> {
    buffer
        .as_ref()
        .ok_or_else(|| Error::invalid(arg, "buffer", "made at load for this layout", "none"))
}

impl Activations {
    pub fn new(gpu: &Gpu, c: &LlamaConfig, rows: u32, layouts: Layouts) -> Result<Self> {
        let rows64 = u64::from(rows);
        let f32s = |arg, per_row: u32| gpu.storage_buffer(arg, rows64 * u64::from(per_row) * 4);
        let some = |made: bool, arg, per_row| made.then(|| f32s(arg, per_row)).transpose();
        let q_len = c.heads * c.head_dim;
        let kv_len = c.kv_heads * c.head_dim;
        Ok(Self {
            rows,
            x: f32s("x", c.hidden)?,
            xn: f32s("xn", c.hidden)?,
            qkv: some(layouts.stacked_qkv, "qkv", q_len + 2 * kv_len)?,
            q: f32s("q", q_len)?,
            k: f32s("k", kv_len)?,
            v: f32s("v", kv_len)?,
            attn: f32s("attn", q_len)?,
            delta: f32s("delta", c.hidden)?,
            gate_up: some(layouts.stacked_ffn, "gate_up", 2 * c.ffn)?,
            gate: some(layouts.apart_ffn, "gate", c.ffn)?,
            up: some(layouts.apart_ffn, "up", c.ffn)?,
            act: f32s("act", c.ffn)?,
        })
    }
}

/// What a decode step reads and leaves, beyond its one row of activations.
pub struct State {
    /// u32 [1]: the token the step embeds.
    pub token: wgpu::Buffer,
    /// u32 [1]: its position (RoPE).
    pub position: wgpu::Buffer,
    pub acts: Activations,
    /// [vocab].
    pub logits: wgpu::Buffer,
    /// Top-k's workspace.
    pub topk_scratch: wgpu::Buffer,
    /// i32 [candidates]: the best tokens, best first.
    pub sampled: wgpu::Buffer,
    /// f32 [candidates]: their logits (bound only with more than one candidate).
    pub values: wgpu::Buffer,
    pub candidates: u32,
    /// Mappable copies of `sampled`, `values` and `logits`.
    pub sampled_host: wgpu::Buffer,
    pub values_host: wgpu::Buffer,
    pub logits_host: wgpu::Buffer,
}

/// Workspace sizes the kernels asked for at load.
pub struct Workspaces {
    pub topk: u64,
    /// Tokens the top-k keeps.
    pub candidates: u32,
}

fn readable(gpu: &Gpu, label: &str, bytes: u64) -> wgpu::Buffer {
    gpu.device().create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: bytes.next_multiple_of(4),
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    })
}

impl State {
    pub fn new(
        gpu: &Gpu,
        c: &LlamaConfig,
        workspaces: &Workspaces,
        layouts: Layouts,
    ) -> Result<Self> {
        let f32s = |arg, n: u32| gpu.storage_buffer(arg, u64::from(n) * 4);
        Ok(Self {
            token: f32s("token", 1)?,
            position: f32s("position", 1)?,
            acts: Activations::new(gpu, c, 1, layouts)?,
            logits: f32s("logits", c.vocab)?,
            topk_scratch: gpu.storage_buffer("topk scratch", workspaces.topk)?,
            sampled: f32s("sampled", workspaces.candidates)?,
            values: f32s("values", workspaces.candidates)?,
            candidates: workspaces.candidates,
            sampled_host: readable(gpu, "sampled (host)", u64::from(workspaces.candidates) * 4),
            values_host: readable(gpu, "values (host)", u64::from(workspaces.candidates) * 4),
            logits_host: readable(gpu, "logits (host)", u64::from(c.vocab) * 4),
        })
    }
}

/// Maps `buffer` (a finished copy destination) and returns its first `count` values.
pub fn read_mapped<T: bytemuck::Pod>(
    gpu: &Gpu,
    arg: &'static str,
    buffer: &wgpu::Buffer,
    count: usize,
) -> Result<Vec<T>> {
    let (tx, rx) = std::sync::mpsc::channel();
    buffer.map_async(wgpu::MapMode::Read, .., move |r| {
        // The receiver waits below; a send can only fail if it is gone, which it is not.
        let _ = tx.send(r);
    });
    gpu.device().poll(wgpu::PollType::wait_indefinitely())?;
    let failed = |message: String| Error::Readback { arg, message };
    rx.recv()
        .map_err(|e| failed(e.to_string()))?
        .map_err(|e| failed(e.to_string()))?;
    let view = buffer
        .get_mapped_range(..)
        .map_err(|e| failed(e.to_string()))?;
    let bytes = count * std::mem::size_of::<T>();
    let out = bytemuck::pod_collect_to_vec(&view[..bytes]);
    drop(view);
    buffer.unmap();
    Ok(out)
}
