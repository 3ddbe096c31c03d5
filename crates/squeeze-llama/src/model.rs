//! The LLaMA model on the GPU and its decode step: every weight uploaded once, every buffer made
//! at load, and each token recorded into one command encoder — embedding, per layer (RMSNorm,
//! the q/k/v projections and RoPE on q and k, KV append into the paged cache, decode attention,
//! o projection, residual add and RMSNorm, gate/up projections, SwiGLU, down projection), the
//! last residual add and final norm, output GEMV and the best token by top-k (k = 1 for greedy,
//! or the candidates a sampler draws from) — with only those tokens (and the logits, when
//! asked) read back.
//!
//! Fewer dispatches where the math allows (each costs a fixed time, most on CPU adapters):
//! q/k/v and gate/up are stacked into one matrix each when their storage stacks (one GEMV,
//! then one RoPE pass that also splits q, k and v — [`Projections`]); each residual add is
//! done by the RMSNorm that follows it; an f16 cache takes f32 K and V and rounds them as it
//! appends. Between steps the host writes the token, its position and the page table
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
use crate::rms_norm::{NormShape, ResidualUpdate, RmsNorm};
use crate::rope::{Rope, RopeConfig, StackedQkv};
use crate::state::{Activations, State, Workspaces, made, read_mapped};
use crate::swiglu::SwiGlu;
use crate::tensors::ModelTensors;
use crate::weights::{DeviceLayer, DeviceMatrix, DeviceWeights, MatrixKernels, Projections};
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
    /// The KV cache's format; the append rounds (f16) or quantizes K and V from f32.
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
    gemv: MatrixKernels,
    append: Append,
    attention: Attention,
    topk: TopK,
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
            gemv: MatrixKernels::new(gpu, &weights)?,
            append: Append::with_input(gpu, kv, DType::F32)?,
            attention,
            topk: TopK::new(gpu, DType::F32)?,
        };
        let workspaces = Workspaces {
            topk: kernels.topk.scratch_bytes(1, config.vocab, candidates),
            candidates,
        };
        let state = State::new(gpu, &config, &workspaces, weights.layouts())?;
        let prefill = prefill::PrefillPass::new(gpu, &config, kv, capacity, &weights)?;
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

    /// Runs a two-token prefill and a decode step of token 0, then empties the cache, as
    /// llama.cpp warms a model at load: a driver may compile a kernel at its first dispatch
    /// rather than at pipeline creation (lavapipe builds its LLVM code then: SmolLM2-135M's
    /// first 128-token prefill took 1.04–1.30 s, the same prompt again 0.99–1.04 s), so
    /// without it the first prompt and step time that too. Nothing of it survives: every
    /// later token overwrites the cache rows it wrote, and Quest's page bounds are recomputed
    /// over the valid tokens of each page an append touches.
    pub fn warm_up(&mut self) -> Result<()> {
        let prompt = [0; 2];
        let n = (self.cache.capacity() as usize).min(prompt.len());
        self.prefill(&prompt[..n], false)?;
        if self.len < self.cache.capacity() {
            self.step(0, false)?;
        }
        self.len = 0;
        Ok(())
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

    /// Records `y = m · x` for the pass's rows, when `pass.parts` includes the matrix products:
    /// the GEMV of the matrix's storage for one row, the prefill's matmul for more.
    fn matmul(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        pass: &Pass<'_>,
        m: &DeviceMatrix,
        (x, y): (&wgpu::Buffer, &wgpu::Buffer),
    ) -> Result<()> {
        if !pass.parts.matmul {
            return Ok(());
        }
        if pass.rows == 1 {
            return m.encode(
                &self.kernels.gemv,
                encoder,
                1,
                Binding::whole(x),
                Binding::whole(y),
            );
        }
        self.prefill
            .matmul(&self.kernels.gemv, encoder, m, pass.rows, (x, y))
    }

    /// Records the `parts` of the step for the token and position in the state buffers (all
    /// of them for a step; one kind at a time to profile it).
    fn record(&self, encoder: &mut wgpu::CommandEncoder, parts: Parts) -> Result<()> {
        let c = &self.config;
        let s = &self.state;
        if parts.glue {
            self.kernels.embedding.encode(
                encoder,
                1,
                Binding::whole(&s.token),
                &self.weights.table(),
                Binding::whole(&s.acts.x),
            )?;
        }
        let pass = Pass {
            rows: 1,
            acts: &s.acts,
            positions: &s.position,
            parts,
        };
        let table = self.cache.table();
        let mut attend = |encoder: &mut wgpu::CommandEncoder, i: usize| -> Result<()> {
            if !parts.attention {
                return Ok(());
            }
            let kv = self.layer_cache(i)?;
            let placed = self.cache.placed(&s.acts.k, &s.acts.v);
            self.kernels
                .append
                .encode_placed(encoder, table, &placed, &kv)?;
            let query = Query {
                q: Binding::whole(&s.acts.q),
                heads: c.heads,
                scale: 1.0 / (c.head_dim as f32).sqrt(),
                dtype: DType::F32,
            };
            self.kernels.attention.encode(
                encoder,
                &LayerCall {
                    layer: i,
                    table,
                    kv: &kv,
                    query: &query,
                    out: Binding::whole(&s.acts.attn),
                },
            )
        };
        self.record_layers(encoder, &pass, &mut attend)?;
        self.record_head(encoder, parts)
    }

    /// Layer `layer`'s K and V pools.
    fn layer_cache(&self, layer: usize) -> Result<squeeze::attention::KvCache<'_>> {
        self.cache
            .kv(layer)
            .ok_or_else(|| Error::invalid("layer", "index", "one with a cache", layer))
    }

    /// Records every layer over the pass's rows: the norm (after the previous block's residual
    /// add), the q/k/v projections and RoPE, `attend` (the append and attention of that layer:
    /// q, k, v in, `attn` out), the o projection, the residual add and norm, and the FFN. The
    /// last block's output is left in `delta` for the head to add.
    fn record_layers(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        pass: &Pass<'_>,
        attend: &mut dyn FnMut(&mut wgpu::CommandEncoder, usize) -> Result<()>,
    ) -> Result<()> {
        let c = &self.config;
        let k = &self.kernels;
        let a = pass.acts;
        let b = Binding::whole;
        let norm = NormShape {
            rows: pass.rows,
            cols: c.hidden,
            eps: c.rms_eps,
        };
        let residual = ResidualUpdate {
            h: b(&a.x),
            delta: b(&a.delta),
        };
        for (i, layer) in self.weights.layers.iter().enumerate() {
            if pass.parts.glue {
                let weight = b(&layer.attn_norm);
                if i == 0 {
                    k.norm.encode(encoder, norm, b(&a.x), weight, b(&a.xn))?;
                } else {
                    k.norm
                        .encode_add(encoder, norm, residual, weight, b(&a.xn))?;
                }
            }
            self.record_qkv(encoder, pass, layer)?;
            attend(encoder, i)?;
            self.matmul(encoder, pass, &layer.o, (&a.attn, &a.delta))?;
            if pass.parts.glue {
                let weight = b(&layer.ffn_norm);
                k.norm
                    .encode_add(encoder, norm, residual, weight, b(&a.xn))?;
            }
            self.record_ffn(encoder, pass, layer)?;
        }
        Ok(())
    }

    /// Records the q, k and v projections of the normalised rows and RoPE on q and k, leaving
    /// them in the pass's `q`, `k` and `v`.
    fn record_qkv(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        pass: &Pass<'_>,
        layer: &DeviceLayer,
    ) -> Result<()> {
        let c = &self.config;
        let rope = &self.kernels.rope;
        let a = pass.acts;
        let b = Binding::whole;
        let glue = pass.parts.glue;
        match &layer.qkv {
            Projections::Stacked(m) => {
                let qkv = made(&a.qkv, "qkv")?;
                self.matmul(encoder, pass, m, (&a.xn, qkv))?;
                if glue {
                    let rows = StackedQkv {
                        rows: pass.rows,
                        positions: b(pass.positions),
                        heads: c.heads,
                        kv_heads: c.kv_heads,
                        qkv: b(qkv),
                        q: b(&a.q),
                        k: b(&a.k),
                        v: b(&a.v),
                    };
                    rope.encode_qkv(encoder, &rows)?;
                }
            }
            Projections::Apart(ms) => {
                for (m, y) in ms.iter().zip([&a.q, &a.k, &a.v]) {
                    self.matmul(encoder, pass, m, (&a.xn, y))?;
                }
                if glue {
                    let positions = b(pass.positions);
                    rope.encode(encoder, pass.rows, c.heads, positions, b(&a.q))?;
                    rope.encode(encoder, pass.rows, c.kv_heads, positions, b(&a.k))?;
                }
            }
        }
        Ok(())
    }

    /// Records the FFN of the normalised rows: gate and up, SwiGLU, down into `delta`.
    fn record_ffn(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        pass: &Pass<'_>,
        layer: &DeviceLayer,
    ) -> Result<()> {
        let c = &self.config;
        let swiglu = &self.kernels.swiglu;
        let a = pass.acts;
        let b = Binding::whole;
        let glue = pass.parts.glue;
        match &layer.gate_up {
            Projections::Stacked(m) => {
                let gate_up = made(&a.gate_up, "gate_up")?;
                self.matmul(encoder, pass, m, (&a.xn, gate_up))?;
                if glue {
                    let shape = (pass.rows, c.ffn);
                    swiglu.encode_stacked(encoder, shape, b(gate_up), b(&a.act))?;
                }
            }
            Projections::Apart(ms) => {
                let (gate, up) = (made(&a.gate, "gate")?, made(&a.up, "up")?);
                for (m, y) in ms.iter().zip([gate, up]) {
                    self.matmul(encoder, pass, m, (&a.xn, y))?;
                }
                if glue {
                    let n = pass.rows * c.ffn;
                    swiglu.encode(encoder, n, b(gate), b(up), b(&a.act))?;
                }
            }
        }
        self.matmul(encoder, pass, &layer.down, (&a.act, &a.delta))
    }

    /// Records the last block's residual add and the final norm of the state's residual
    /// stream, the output projection and the top-k of the logits (the `parts` of them).
    fn record_head(&self, encoder: &mut wgpu::CommandEncoder, parts: Parts) -> Result<()> {
        let c = &self.config;
        let k = &self.kernels;
        let s = &self.state;
        let w = &self.weights;
        let b = Binding::whole;
        let norm = NormShape {
            rows: 1,
            cols: c.hidden,
            eps: c.rms_eps,
        };
        if parts.glue {
            let residual = ResidualUpdate {
                h: b(&s.acts.x),
                delta: b(&s.acts.delta),
            };
            k.norm
                .encode_add(encoder, norm, residual, b(&w.output_norm), b(&s.acts.xn))?;
        }
        let pass = Pass {
            rows: 1,
            acts: &s.acts,
            positions: &s.position,
            parts,
        };
        self.matmul(encoder, &pass, &w.output, (&s.acts.xn, &s.logits))?;
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

/// One pass over the layers: the decode step's one row, or a prefill chunk's rows.
struct Pass<'a> {
    rows: u32,
    acts: &'a Activations,
    /// u32 [rows]: each row's position (RoPE).
    positions: &'a wgpu::Buffer,
    parts: Parts,
}
