//! Batched prefill: a prompt's tokens through the model together instead of one decode step
//! each. Per chunk of up to [`CHUNK`] tokens, one command encoder records the embedding rows,
//! and the decode step's layers over every row (`Model::record_layers`): the projections as
//! one batch (squeeze's GEMM for GGUF block matrices, the storage's GEMV in batches of
//! [`MAX_BATCH`] rows otherwise), RoPE at the chunk's positions, then here the append of all
//! its K and V and the causal prefill attention (`squeeze::attention::Prefill`) over the cache;
//! then the last residual add, final norm, output projection and top-k of the last row only,
//! which is what the decode step of the prompt's last token gives. A longer prompt runs chunk after chunk, each
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
use super::{Model, Pass, StepOutput};
use crate::cache::PAGE_SIZE;
use crate::config::LlamaConfig;
use crate::state::{Activations, Layouts};
use crate::weights::{DeviceMatrix, DeviceWeights, MAX_BATCH, MatrixKernels, MatrixStore};

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

/// A chunk's token ids, positions and pool rows, and its activations.
struct Rows {
    capacity: u32,
    /// u32 [capacity]: the chunk's token ids, positions (RoPE), and pool rows (the append).
    tokens: wgpu::Buffer,
    positions: wgpu::Buffer,
    pool_rows: wgpu::Buffer,
    /// u32 [pages, 2]: the (sequence, logical page) pairs the chunk touches (Quest metadata).
    touched: wgpu::Buffer,
    acts: Activations,
}

impl Rows {
    fn new(gpu: &Gpu, c: &LlamaConfig, capacity: u32, layouts: Layouts) -> Result<Self> {
        let n = u64::from(capacity);
        let u32s = |arg| gpu.storage_buffer(arg, n * 4);
        Ok(Self {
            capacity,
            tokens: u32s("prefill tokens")?,
            positions: u32s("prefill positions")?,
            pool_rows: u32s("prefill rows")?,
            touched: gpu.storage_buffer("prefill touched", (n.div_ceil(16) + 1) * 8)?,
            acts: Activations::new(gpu, c, capacity, layouts)?,
        })
    }
}

impl PrefillPass {
    /// The kernels for `matrices` and a cache of `kv`, and buffers for chunks of
    /// `min(capacity, CHUNK)` tokens.
    pub fn new(
        gpu: &Gpu,
        config: &LlamaConfig,
        kv: KvDtype,
        capacity: u32,
        weights: &DeviceWeights,
    ) -> Result<Self> {
        let mut gemm: Vec<(Format, Gemm)> = Vec::new();
        for m in weights.matrices() {
            if let MatrixStore::Blocks { format, .. } = &m.store
                && !gemm.iter().any(|(f, _)| f == format)
            {
                gemm.push((*format, Gemm::new(gpu, *format)?));
            }
        }
        Ok(Self {
            attention: Prefill::new(gpu, kv)?,
            gemm,
            rows: Rows::new(gpu, config, capacity.clamp(1, CHUNK), weights.layouts())?,
        })
    }

    /// Records `y = x · Wᵀ` for `rows` rows of f32 `x` into f32 `y`: one GEMM for GGUF blocks,
    /// else the matrix's GEMV [`MAX_BATCH`] rows at a time.
    pub(super) fn matmul(
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
        // The last row's residual stream and last block's output, where the decode step's head
        // reads them.
        let hidden = u64::from(c.hidden) * 4;
        let last_row = (last.len() as u64 - 1) * hidden;
        let (rows, step) = (&self.prefill.rows.acts, &self.state.acts);
        encoder.copy_buffer_to_buffer(&rows.x, last_row, &step.x, 0, hidden);
        encoder.copy_buffer_to_buffer(&rows.delta, last_row, &step.delta, 0, hidden);
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
        let b = Binding::whole;
        let mut encoder = self.gpu.encoder("llama prefill");
        k.embedding.encode(
            &mut encoder,
            n,
            b(&r.tokens),
            &self.weights.table(),
            b(&r.acts.x),
        )?;
        let pass = Pass {
            rows: n,
            acts: &r.acts,
            positions: &r.positions,
            parts: Parts::ALL,
        };
        let table = self.cache.table();
        let touched_pages = (start + n - 1) / PAGE_SIZE - start / PAGE_SIZE + 1;
        let mut attend = |e: &mut wgpu::CommandEncoder, i: usize| -> Result<()> {
            let kv = self.layer_cache(i)?;
            let placed = PlacedTokens {
                tokens: n,
                rows: b(&r.pool_rows),
                k: b(&r.acts.k),
                v: b(&r.acts.v),
                touched: Some((b(&r.touched), touched_pages)),
            };
            k.append.encode_placed(e, table, &placed, &kv)?;
            p.attention.encode(
                e,
                &PrefillArgs {
                    table,
                    kv: &kv,
                    query: &Query {
                        q: b(&r.acts.q),
                        heads: c.heads,
                        scale: 1.0 / (c.head_dim as f32).sqrt(),
                        dtype: DType::F32,
                    },
                    qo_indptr: &[0, n],
                    out: b(&r.acts.attn).into(),
                },
            )
        };
        self.record_layers(&mut encoder, &pass, &mut attend)?;
        Ok(encoder)
    }
}
