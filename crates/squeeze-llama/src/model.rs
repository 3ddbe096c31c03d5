//! The LLaMA model on the GPU and its decode step: every weight uploaded once, every buffer made
//! at load, and each token recorded into one command encoder — embedding, per layer (RMSNorm,
//! q/k/v GEMVs, RoPE on q and k, KV append into the paged cache, dense decode attention, o GEMV,
//! residual, RMSNorm, gate/up GEMVs, SwiGLU, down GEMV, residual), final norm, output GEMV and
//! the best token by top-k (k = 1 for greedy, or the candidates a sampler draws from) — with
//! only those tokens (and the logits, when asked) read back. Between steps the host writes the token, its position and the page table
//! ([`SequenceCache::grow_to`]) with `queue.write_buffer`; every dispatch's parameters stay the
//! same, so after the first step recording creates no buffers and no bind groups.
//!
//! A prompt runs either through this same step a token at a time, or batched through
//! [`Model::prefill`] ([`prefill`]: GEMM projections and the causal prefill attention kernel),
//! which ends in the same head (final norm, output projection, top-k) on its last token.

use squeeze::attention::{Append, KvDtype, Query, Selector};
use squeeze::topk::{ScoreBindings, TopK};
use squeeze::{Binding, DType, Error, Gpu, Result, wgpu};

use crate::attention::{Attention, AttentionMode, LayerCall};
use crate::cache::{KvShape, SequenceCache};
use crate::config::LlamaConfig;
use crate::embedding::Embedding;
use crate::narrow::Narrow;
use crate::residual::Residual;
use crate::rms_norm::{NormShape, RmsNorm};
use crate::rope::{Rope, RopeConfig};
use crate::state::{State, Workspaces, read_mapped};
use crate::swiglu::SwiGlu;
use crate::tensors::ModelTensors;
use crate::weights::{DeviceLayer, DeviceMatrix, DeviceWeights, MatrixKernels};
use profile::Parts;

#[path = "prefill.rs"]
pub mod prefill;
#[path = "profile.rs"]
pub mod profile;

/// How much cache to make.
#[derive(Debug, Clone, Copy)]
pub struct ModelOptions {
    /// Most tokens (prompt and generated) the cache holds; at most the model's context.
    pub capacity: u32,
    /// Best candidates each step reads back (1: greedy; more for sampling), at most the
    /// vocabulary.
    pub candidates: u32,
    /// The KV cache's format; f16 narrows K and V (round to nearest even) before the append.
    pub kv: KvDtype,
    /// Which tokens each layer attends to.
    pub attention: AttentionMode,
}

/// What one step gave.
#[derive(Debug, Clone)]
pub struct StepOutput {
    /// The greedy next token.
    pub token: u32,
    /// The best [`ModelOptions::candidates`] tokens and their logits, best first (ties to the
    /// lower id), when more than one was asked for.
    pub candidates: Vec<(u32, f32)>,
    /// The logits, when asked for.
    pub logits: Option<Vec<f32>>,
}

/// Every kernel a step records, built (and its pipelines compiled) at load.
struct Kernels {
    embedding: Embedding,
    norm: RmsNorm,
    rope: Rope,
    swiglu: SwiGlu,
    residual: Residual,
    gemv: MatrixKernels,
    append: Append,
    attention: Attention,
    topk: TopK,
    narrow: Narrow,
}

/// A loaded model with its cache.
pub struct Model {
    gpu: Gpu,
    config: LlamaConfig,
    kernels: Kernels,
    weights: DeviceWeights,
    state: State,
    cache: SequenceCache,
    /// The batched prefill's kernels and activations.
    prefill: prefill::PrefillPass,
    len: u32,
}

impl Model {
    /// Uploads the weights, builds every kernel and buffer for `options.capacity` tokens.
    pub fn load(gpu: &Gpu, tensors: &ModelTensors<'_>, options: ModelOptions) -> Result<Self> {
        let config = tensors.config;
        let ModelOptions {
            capacity,
            candidates,
            kv,
            attention,
        } = options;
        if candidates == 0 || candidates > config.vocab {
            return Err(Error::invalid(
                "candidates",
                "count",
                format!("1 ..= vocab = {}", config.vocab),
                candidates,
            ));
        }
        if capacity == 0 || capacity > config.context {
            return Err(Error::invalid(
                "capacity",
                "tokens",
                format!("1 ..= the model's context length {}", config.context),
                capacity,
            ));
        }
        let shape = KvShape {
            kv_heads: config.kv_heads,
            head_dim: config.head_dim,
            dtype: kv,
        };
        let quest = attention.selector() == Some(Selector::Quest);
        let cache = SequenceCache::new(gpu, config.layers, capacity, shape, quest)?;
        cache.layout().check_q_heads(config.heads)?;
        let weights = DeviceWeights::upload(gpu, tensors)?;
        let attention = Attention::new(
            gpu,
            attention,
            config.layers,
            config.heads,
            cache.table(),
            capacity,
        )?;
        let kernels = Kernels {
            embedding: Embedding::new(gpu, weights.embedding_dtype)?,
            norm: RmsNorm::new(gpu)?,
            rope: Rope::new(
                gpu,
                RopeConfig {
                    head_dim: config.head_dim,
                    theta: config.rope_theta,
                    pairing: config.pairing,
                },
            )?,
            swiglu: SwiGlu::new(gpu)?,
            residual: Residual::new(gpu)?,
            gemv: MatrixKernels::new(gpu, &weights)?,
            append: Append::new(gpu, kv)?,
            narrow: Narrow::new(gpu)?,
            attention,
            topk: TopK::new(gpu, DType::F32)?,
        };
        let workspaces = Workspaces {
            topk: kernels.topk.scratch_bytes(1, config.vocab, candidates),
            candidates,
        };
        let state = State::new(gpu, &config, &workspaces)?;
        let prefill = prefill::PrefillPass::new(gpu, &config, kv, capacity, weights.matrices())?;
        Ok(Self {
            gpu: gpu.clone(),
            config,
            kernels,
            weights,
            state,
            cache,
            prefill,
            len: 0,
        })
    }

    pub fn config(&self) -> &LlamaConfig {
        &self.config
    }

    /// Tokens in the cache.
    pub fn len(&self) -> u32 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Runs `token` at the next position: one encoder, one submit, and the greedy next token
    /// (with the logits, if `logits`) read back.
    pub fn step(&mut self, token: u32, logits: bool) -> Result<StepOutput> {
        let c = self.config;
        if token >= c.vocab {
            return Err(Error::invalid(
                "token",
                "id",
                format!("below vocab = {}", c.vocab),
                token,
            ));
        }
        let queue = self.gpu.queue();
        // The table counts the new token (FlashInfer's convention: append, then attend).
        self.cache.grow_to(queue, self.len + 1)?;
        queue.write_buffer(&self.state.token, 0, bytemuck::bytes_of(&token));
        queue.write_buffer(&self.state.position, 0, bytemuck::bytes_of(&self.len));
        let mut encoder = self.gpu.encoder("llama step");
        self.record(&mut encoder, Parts::ALL)?;
        let out = self.finish(encoder, logits);
        self.len += 1;
        out
    }

    /// Copies the best tokens (and the logits, if `logits`) for the host, submits `encoder` and
    /// reads them back: the end of a step and of a prefill.
    fn finish(&self, mut encoder: wgpu::CommandEncoder, logits: bool) -> Result<StepOutput> {
        let c = self.config;
        let s = &self.state;
        let k = self.state.candidates;
        let k_bytes = u64::from(k) * 4;
        encoder.copy_buffer_to_buffer(&s.sampled, 0, &s.sampled_host, 0, k_bytes);
        if k > 1 {
            encoder.copy_buffer_to_buffer(&s.values, 0, &s.values_host, 0, k_bytes);
        }
        if logits {
            let bytes = u64::from(c.vocab) * 4;
            encoder.copy_buffer_to_buffer(&s.logits, 0, &s.logits_host, 0, bytes);
        }
        self.gpu.submit_and_wait(encoder)?;
        let ids = read_mapped::<i32>(&self.gpu, "sampled", &s.sampled_host, k as usize)?
            .into_iter()
            .map(|id| {
                u32::try_from(id)
                    .map_err(|_| Error::invalid("sampled", "token", "an index of the logits", id))
            })
            .collect::<Result<Vec<_>>>()?;
        let token = ids
            .first()
            .copied()
            .ok_or_else(|| Error::invalid("sampled", "tokens", "at least one", "none"))?;
        let candidates = if k > 1 {
            let values = read_mapped::<f32>(&self.gpu, "values", &s.values_host, k as usize)?;
            ids.into_iter().zip(values).collect()
        } else {
            Vec::new()
        };
        let logits = if logits {
            Some(read_mapped(
                &self.gpu,
                "logits",
                &s.logits_host,
                c.vocab as usize,
            )?)
        } else {
            None
        };
        Ok(StepOutput {
            token,
            candidates,
            logits,
        })
    }

    /// The RMSNorm shape of the step's one row.
    fn row_norm(&self) -> NormShape {
        NormShape {
            rows: 1,
            cols: self.config.hidden,
            eps: self.config.rms_eps,
        }
    }

    /// Records `y = m · x` for the step's one row, when `parts` includes the matrix products.
    fn gemv(
        &self,
        parts: Parts,
        encoder: &mut wgpu::CommandEncoder,
        m: &DeviceMatrix,
        x: &wgpu::Buffer,
        y: &wgpu::Buffer,
    ) -> Result<()> {
        if parts.matmul {
            m.encode(
                &self.kernels.gemv,
                encoder,
                1,
                Binding::whole(x),
                Binding::whole(y),
            )?;
        }
        Ok(())
    }

    /// Records the `parts` of the step for the token and position in the state buffers (all
    /// of them for a step; one kind at a time to profile it).
    fn record(&self, encoder: &mut wgpu::CommandEncoder, parts: Parts) -> Result<()> {
        let c = &self.config;
        let k = &self.kernels;
        let s = &self.state;
        let w = &self.weights;
        fn b(buffer: &wgpu::Buffer) -> Binding<'_> {
            Binding::whole(buffer)
        }
        let norm = self.row_norm();
        let glue = parts.glue;
        if glue {
            k.embedding
                .encode(encoder, 1, b(&s.token), &w.table(), b(&s.x))?;
        }
        let table = self.cache.table();
        for (i, layer) in w.layers.iter().enumerate() {
            if glue {
                k.norm
                    .encode(encoder, norm, b(&s.x), b(&layer.attn_norm), b(&s.xn))?;
            }
            self.gemv(parts, encoder, &layer.q, &s.xn, &s.q)?;
            self.gemv(parts, encoder, &layer.k, &s.xn, &s.k)?;
            self.gemv(parts, encoder, &layer.v, &s.xn, &s.v)?;
            if glue {
                k.rope
                    .encode(encoder, 1, c.heads, b(&s.position), b(&s.q))?;
                k.rope
                    .encode(encoder, 1, c.kv_heads, b(&s.position), b(&s.k))?;
            }
            let kv = self
                .cache
                .kv(i)
                .ok_or_else(|| Error::invalid("layer", "index", "one with a cache", i))?;
            let placed = match self.cache.layout().dtype {
                // The block formats quantize f32 rows as they append.
                KvDtype::F32 | KvDtype::Q8_0 | KvDtype::Q4_0 => self.cache.placed(&s.k, &s.v),
                KvDtype::F16 => {
                    if glue {
                        let n = c.kv_heads * c.head_dim;
                        k.narrow.encode(encoder, n, b(&s.k), b(&s.k16))?;
                        k.narrow.encode(encoder, n, b(&s.v), b(&s.v16))?;
                    }
                    self.cache.placed(&s.k16, &s.v16)
                }
            };
            if parts.attention {
                k.append.encode_placed(encoder, table, &placed, &kv)?;
                let query = Query {
                    q: b(&s.q),
                    heads: c.heads,
                    scale: 1.0 / (c.head_dim as f32).sqrt(),
                    dtype: DType::F32,
                };
                k.attention.encode(
                    encoder,
                    &LayerCall {
                        layer: i,
                        table,
                        kv: &kv,
                        query: &query,
                        out: b(&s.attn),
                    },
                )?;
            }
            self.gemv(parts, encoder, &layer.o, &s.attn, &s.delta)?;
            self.record_ffn(encoder, parts, layer)?;
        }
        self.record_head(encoder, parts)
    }

    /// Records the rest of a layer after the o projection: residual, norm, gate/up, SwiGLU,
    /// down, residual.
    fn record_ffn(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        parts: Parts,
        layer: &DeviceLayer,
    ) -> Result<()> {
        let c = &self.config;
        let k = &self.kernels;
        let s = &self.state;
        fn b(buffer: &wgpu::Buffer) -> Binding<'_> {
            Binding::whole(buffer)
        }
        let norm = self.row_norm();
        if parts.glue {
            k.residual.encode(encoder, c.hidden, b(&s.delta), b(&s.x))?;
            k.norm
                .encode(encoder, norm, b(&s.x), b(&layer.ffn_norm), b(&s.xn))?;
        }
        self.gemv(parts, encoder, &layer.gate, &s.xn, &s.gate)?;
        self.gemv(parts, encoder, &layer.up, &s.xn, &s.up)?;
        if parts.glue {
            k.swiglu
                .encode(encoder, c.ffn, b(&s.gate), b(&s.up), b(&s.act))?;
        }
        self.gemv(parts, encoder, &layer.down, &s.act, &s.delta)?;
        if parts.glue {
            k.residual.encode(encoder, c.hidden, b(&s.delta), b(&s.x))?;
        }
        Ok(())
    }

    /// Records the final norm of the residual stream in the state, the output projection and
    /// the top-k of the logits (the `parts` of them).
    fn record_head(&self, encoder: &mut wgpu::CommandEncoder, parts: Parts) -> Result<()> {
        let c = &self.config;
        let k = &self.kernels;
        let s = &self.state;
        let w = &self.weights;
        fn b(buffer: &wgpu::Buffer) -> Binding<'_> {
            Binding::whole(buffer)
        }
        let norm = self.row_norm();
        if parts.glue {
            k.norm
                .encode(encoder, norm, b(&s.x), b(&w.output_norm), b(&s.xn))?;
        }
        self.gemv(parts, encoder, &w.output, &s.xn, &s.logits)?;
        if !parts.glue {
            return Ok(());
        }
        let scores = ScoreBindings {
            x: b(&s.logits),
            lengths: None,
            scratch: b(&s.topk_scratch),
            indices: b(&s.sampled),
            values: (s.candidates > 1).then(|| b(&s.values)),
        };
        k.topk.encode(
            encoder,
            1,
            c.vocab,
            s.candidates,
            Default::default(),
            &scores,
        )
    }
}
