//! Batched prefill: a prompt's tokens through the model together instead of one decode step
//! each. Per chunk of up to [`CHUNK`] tokens, one command encoder records the embedding rows,
//! and per layer RMSNorm of every row, the q/k/v projections as one batch (squeeze's GEMM for
//! GGUF block matrices, the storage's GEMV in batches of [`MAX_BATCH`] rows otherwise), RoPE at
//! the chunk's positions, the append of all its K and V, the causal prefill attention
//! (`squeeze::attention::Prefill`) over the cache, the o projection, residual, FFN and residual;
//! then the final norm, output projection and top-k of the last row only, which is what the
//! decode step of the prompt's last token gives. A longer prompt runs chunk after chunk, each
//! attending to the cache the earlier ones filled.
//!
//! The prefill attends densely in every attention mode: the sparse modes (Quest, TidalDecode,
//! TokenSelect, sinks + window) select at decode, as their papers do.
//!
//! This module is a child of [`crate::model`] (it reads the model's private kernels, weights,
//! state and cache) kept in its own file.

use squeeze::attention::append::PlacedTokens;
use squeeze::attention::{KvDtype, Prefill, PrefillArgs, Query};
use squeeze::quant::{Format, Gemm, Problem};
use squeeze::{Binding, DType, Error, Gpu, Result, wgpu};

use super::profile::Parts;
use super::{Model, StepOutput};
use crate::cache::PAGE_SIZE;
use crate::config::LlamaConfig;
use crate::rms_norm::NormShape;
use crate::weights::{DeviceMatrix, MAX_BATCH, MatrixKernels, MatrixStore};

/// Most prompt tokens one prefill encoder runs: bounds the activation buffers (about 32 KB per
/// token for SmolLM2-135M) while keeping each weight read once per 512 tokens.
pub const CHUNK: u32 = 512;

/// The prefill's kernels (the attention and a GEMM per GGUF block format the matrices use) and
/// the activations of one chunk, made at load.
pub struct PrefillPass {
    attention: Prefill,
    gemm: Vec<(Format, Gemm)>,
    rows: Rows,
}

/// Activations of up to `capacity` tokens, f32 `[tokens, …]` like the decode step's.
struct Rows {
    capacity: u32,
    /// u32 [capacity]: the chunk's token ids, positions (RoPE), and pool rows (the append).
    tokens: wgpu::Buffer,
    positions: wgpu::Buffer,
    pool_rows: wgpu::Buffer,
    /// u32 [pages, 2]: the (sequence, logical page) pairs the chunk touches (Quest metadata).
    touched: wgpu::Buffer,
    x: wgpu::Buffer,
    xn: wgpu::Buffer,
    q: wgpu::Buffer,
    k: wgpu::Buffer,
    v: wgpu::Buffer,
    /// K and V narrowed to f16 for an f16 cache.
    k16: wgpu::Buffer,
    v16: wgpu::Buffer,
    attn: wgpu::Buffer,
    delta: wgpu::Buffer,
    gate: wgpu::Buffer,
    up: wgpu::Buffer,
    act: wgpu::Buffer,
}

impl Rows {
    fn new(gpu: &Gpu, c: &LlamaConfig, capacity: u32) -> Result<Self> {
        let n = u64::from(capacity);
        let f32s = |arg, per_token: u32| gpu.storage_buffer(arg, n * u64::from(per_token) * 4);
        let q_len = c.heads * c.head_dim;
        let kv_len = c.kv_heads * c.head_dim;
        Ok(Self {
            capacity,
            tokens: f32s("prefill tokens", 1)?,
            positions: f32s("prefill positions", 1)?,
            pool_rows: f32s("prefill rows", 1)?,
            touched: gpu.storage_buffer("prefill touched", (n.div_ceil(16) + 1) * 8)?,
            x: f32s("prefill x", c.hidden)?,
            xn: f32s("prefill xn", c.hidden)?,
            q: f32s("prefill q", q_len)?,
            k: f32s("prefill k", kv_len)?,
            v: f32s("prefill v", kv_len)?,
            k16: f32s("prefill k16", kv_len.div_ceil(2))?,
            v16: f32s("prefill v16", kv_len.div_ceil(2))?,
            attn: f32s("prefill attn", q_len)?,
            delta: f32s("prefill delta", c.hidden)?,
            gate: f32s("prefill gate", c.ffn)?,
            up: f32s("prefill up", c.ffn)?,
            act: f32s("prefill act", c.ffn)?,
        })
    }
}

impl PrefillPass {
    /// The kernels for `matrices` and a cache of `kv`, and buffers for chunks of
    /// `min(capacity, CHUNK)` tokens.
    pub fn new<'a>(
        gpu: &Gpu,
        config: &LlamaConfig,
        kv: KvDtype,
        capacity: u32,
        matrices: impl Iterator<Item = &'a DeviceMatrix>,
    ) -> Result<Self> {
        let mut gemm: Vec<(Format, Gemm)> = Vec::new();
        for m in matrices {
            if let MatrixStore::Blocks { format, .. } = &m.store
                && !gemm.iter().any(|(f, _)| f == format)
            {
                gemm.push((*format, Gemm::new(gpu, *format)?));
            }
        }
        Ok(Self {
            attention: Prefill::new(gpu, kv)?,
            gemm,
            rows: Rows::new(gpu, config, capacity.clamp(1, CHUNK))?,
        })
    }

    /// Records `y = x · Wᵀ` for `rows` rows of f32 `x` into f32 `y`: one GEMM for GGUF blocks,
    /// else the matrix's GEMV [`MAX_BATCH`] rows at a time.
    fn matmul(
        &self,
        gemv: &MatrixKernels,
        encoder: &mut wgpu::CommandEncoder,
        m: &DeviceMatrix,
        rows: u32,
        (x, y): (&wgpu::Buffer, &wgpu::Buffer),
    ) -> Result<()> {
        let (x_row, y_row) = (u64::from(m.cols) * 4, u64::from(m.rows) * 4);
        if let MatrixStore::Blocks { format, buffer } = &m.store {
            let gemm = self
                .gemm
                .iter()
                .find(|(f, _)| f == format)
                .map(|(_, g)| g)
                .ok_or_else(|| {
                    Error::invalid("weights", "format", "one compiled at load", format)
                })?;
            let problem = Problem {
                rows: m.rows as usize,
                cols: m.cols as usize,
                batch: rows as usize,
                x_dtype: DType::F32,
            };
            let n = u64::from(rows);
            return gemm.encode(
                encoder,
                problem,
                Binding::whole(buffer),
                Binding::new(x, 0, n * x_row),
                Binding::new(y, 0, n * y_row),
            );
        }
        for first in (0..rows).step_by(MAX_BATCH as usize) {
            let batch = (rows - first).min(MAX_BATCH);
            let (at, n) = (u64::from(first), u64::from(batch));
            // Offsets are multiples of 8 rows of 4-byte values: 32-byte aligned.
            m.encode(
                gemv,
                encoder,
                batch,
                Binding::new(x, at * x_row, n * x_row),
                Binding::new(y, at * y_row, n * y_row),
            )?;
        }
        Ok(())
    }
}

impl Model {
    /// Runs `prompt` at the next positions in batched chunks (see [`crate::model::prefill`])
    /// and returns what the decode step of its last token would: the next token (and the
    /// logits, if `logits`).
    pub fn prefill(&mut self, prompt: &[u32], logits: bool) -> Result<StepOutput> {
        let c = self.config;
        if prompt.is_empty() {
            return Err(Error::invalid("prompt", "tokens", "at least one", 0));
        }
        if let Some((i, &t)) = prompt.iter().enumerate().find(|&(_, &t)| t >= c.vocab) {
            return Err(Error::invalid(
                "prompt",
                "token id",
                format!("below vocab = {}", c.vocab),
                format!("{t} at position {i}"),
            ));
        }
        let end = u64::from(self.len) + prompt.len() as u64;
        if end > u64::from(self.cache.capacity()) {
            return Err(Error::invalid(
                "prompt",
                "tokens",
                format!(
                    "at most the cache's {} free places",
                    self.cache.capacity() - self.len
                ),
                prompt.len(),
            ));
        }
        let chunk = self.prefill.rows.capacity as usize;
        let chunks: Vec<&[u32]> = prompt.chunks(chunk).collect();
        let (last, rest) = chunks
            .split_last()
            .ok_or_else(|| Error::invalid("prompt", "tokens", "at least one", 0))?;
        for tokens in rest {
            let encoder = self.record_chunk(tokens)?;
            self.gpu.submit_and_wait(encoder)?;
            self.len += tokens.len() as u32;
        }
        let mut encoder = self.record_chunk(last)?;
        // The last row's residual stream, where the decode step's head reads it.
        let hidden = u64::from(c.hidden) * 4;
        let last_row = (last.len() as u64 - 1) * hidden;
        encoder.copy_buffer_to_buffer(&self.prefill.rows.x, last_row, &self.state.x, 0, hidden);
        self.record_head(&mut encoder, Parts::ALL)?;
        let out = self.finish(encoder, logits);
        self.len += last.len() as u32;
        out
    }

    /// Writes the chunk's tokens, positions, pool rows, touched pages and the grown table, and
    /// records every layer over them.
    fn record_chunk(&self, tokens: &[u32]) -> Result<wgpu::CommandEncoder> {
        let c = &self.config;
        let p = &self.prefill;
        let r = &p.rows;
        let n = tokens.len() as u32;
        let queue = self.gpu.queue();
        let start = self.len;
        // Consecutive pages: position t is pool row t (see crate::cache).
        let positions: Vec<u32> = (start..start + n).collect();
        let touched: Vec<u32> = (start / PAGE_SIZE..=(start + n - 1) / PAGE_SIZE)
            .flat_map(|page| [0, page])
            .collect();
        queue.write_buffer(&r.tokens, 0, bytemuck::cast_slice(tokens));
        queue.write_buffer(&r.positions, 0, bytemuck::cast_slice(&positions));
        queue.write_buffer(&r.pool_rows, 0, bytemuck::cast_slice(&positions));
        queue.write_buffer(&r.touched, 0, bytemuck::cast_slice(&touched));
        // The table counts the new tokens (append, then attend).
        self.cache.grow_to(queue, start + n)?;

        let k = &self.kernels;
        let w = &self.weights;
        fn b(buffer: &wgpu::Buffer) -> Binding<'_> {
            Binding::whole(buffer)
        }
        let mut encoder = self.gpu.encoder("llama prefill");
        let e = &mut encoder;
        let norm = NormShape {
            rows: n,
            cols: c.hidden,
            eps: c.rms_eps,
        };
        let mm = |e: &mut wgpu::CommandEncoder, m, x, y| p.matmul(&k.gemv, e, m, n, (x, y));
        k.embedding
            .encode(e, n, b(&r.tokens), &w.table(), b(&r.x))?;
        let table = self.cache.table();
        let kv_len = n * c.kv_heads * c.head_dim;
        for (i, layer) in w.layers.iter().enumerate() {
            k.norm
                .encode(e, norm, b(&r.x), b(&layer.attn_norm), b(&r.xn))?;
            mm(e, &layer.q, &r.xn, &r.q)?;
            mm(e, &layer.k, &r.xn, &r.k)?;
            mm(e, &layer.v, &r.xn, &r.v)?;
            k.rope.encode(e, n, c.heads, b(&r.positions), b(&r.q))?;
            k.rope.encode(e, n, c.kv_heads, b(&r.positions), b(&r.k))?;
            let kv = self
                .cache
                .kv(i)
                .ok_or_else(|| Error::invalid("layer", "index", "one with a cache", i))?;
            let (k_new, v_new) = match self.cache.layout().dtype {
                // The block formats quantize f32 rows as they append.
                KvDtype::F32 | KvDtype::Q8_0 | KvDtype::Q4_0 => (&r.k, &r.v),
                KvDtype::F16 => {
                    k.narrow.encode(e, kv_len, b(&r.k), b(&r.k16))?;
                    k.narrow.encode(e, kv_len, b(&r.v), b(&r.v16))?;
                    (&r.k16, &r.v16)
                }
            };
            let placed = PlacedTokens {
                tokens: n,
                rows: b(&r.pool_rows),
                k: b(k_new),
                v: b(v_new),
                touched: Some((
                    b(&r.touched),
                    (start + n - 1) / PAGE_SIZE - start / PAGE_SIZE + 1,
                )),
            };
            k.append.encode_placed(e, table, &placed, &kv)?;
            p.attention.encode(
                e,
                &PrefillArgs {
                    table,
                    kv: &kv,
                    query: &Query {
                        q: b(&r.q),
                        heads: c.heads,
                        scale: 1.0 / (c.head_dim as f32).sqrt(),
                        dtype: DType::F32,
                    },
                    qo_indptr: &[0, n],
                    out: b(&r.attn).into(),
                },
            )?;
            mm(e, &layer.o, &r.attn, &r.delta)?;
            k.residual.encode(e, n * c.hidden, b(&r.delta), b(&r.x))?;
            k.norm
                .encode(e, norm, b(&r.x), b(&layer.ffn_norm), b(&r.xn))?;
            mm(e, &layer.gate, &r.xn, &r.gate)?;
            mm(e, &layer.up, &r.xn, &r.up)?;
            k.swiglu
                .encode(e, n * c.ffn, b(&r.gate), b(&r.up), b(&r.act))?;
            mm(e, &layer.down, &r.act, &r.delta)?;
            k.residual.encode(e, n * c.hidden, b(&r.delta), b(&r.x))?;
        }
        Ok(encoder)
    }
}
