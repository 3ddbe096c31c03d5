//! The buffers a decode step works in, made once at load: the token and position it reads, every
//! intermediate activation, the top-k workspace, and the mappable buffers the
//! sampled token (and, when asked, the logits) are copied into for the host.

use squeeze::{Error, Gpu, Result, wgpu};

use crate::config::LlamaConfig;

/// Every activation of one token, f32.
pub struct State {
    /// u32 [1]: the token the step embeds.
    pub token: wgpu::Buffer,
    /// u32 [1]: its position (RoPE).
    pub position: wgpu::Buffer,
    /// [hidden]: the residual stream.
    pub x: wgpu::Buffer,
    /// [hidden]: the normalised stream.
    pub xn: wgpu::Buffer,
    /// [heads, head_dim], [kv_heads, head_dim] ×2.
    pub q: wgpu::Buffer,
    pub k: wgpu::Buffer,
    pub v: wgpu::Buffer,
    /// [kv_heads, head_dim] f16 (packed): K and V narrowed for an f16 cache.
    pub k16: wgpu::Buffer,
    pub v16: wgpu::Buffer,
    /// [heads, head_dim]: the attention output.
    pub attn: wgpu::Buffer,
    /// [hidden]: a block's output before the residual add.
    pub delta: wgpu::Buffer,
    /// [ffn] ×3.
    pub gate: wgpu::Buffer,
    pub up: wgpu::Buffer,
    pub act: wgpu::Buffer,
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
    pub fn new(gpu: &Gpu, c: &LlamaConfig, workspaces: &Workspaces) -> Result<Self> {
        let f32s = |arg, n: u32| gpu.storage_buffer(arg, u64::from(n) * 4);
        let q_len = c.heads * c.head_dim;
        let kv_len = c.kv_heads * c.head_dim;
        Ok(Self {
            token: f32s("token", 1)?,
            position: f32s("position", 1)?,
            x: f32s("x", c.hidden)?,
            xn: f32s("xn", c.hidden)?,
            q: f32s("q", q_len)?,
            k: f32s("k", kv_len)?,
            v: f32s("v", kv_len)?,
            k16: f32s("k16", kv_len.div_ceil(2))?,
            v16: f32s("v16", kv_len.div_ceil(2))?,
            attn: f32s("attn", q_len)?,
            delta: f32s("delta", c.hidden)?,
            gate: f32s("gate", c.ffn)?,
            up: f32s("up", c.ffn)?,
            act: f32s("act", c.ffn)?,
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
