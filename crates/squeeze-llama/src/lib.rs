//! A thin LLaMA reference engine on the public squeeze API: the glue kernels between the
//! families' matmuls, attention and sampling (`shaders/llama/`), each with a CPU reference.
//!
//! - [`embedding`]: rows of an f32/f16/BF16 table by device token ids.
//! - [`rms_norm`]: RMSNorm with a per-column weight, alone or after the in-place residual add.
//! - [`rope`]: rotary embedding, adjacent pairs (GGUF) or halves (Hugging Face), in place or
//!   splitting stacked q|k|v rows.
//! - [`swiglu`]: the FFN activation, from separate or stacked gate|up rows.
//! - [`mod@reference`]: the CPU definition of each.
//!
//! The model ([`model`]) is a GGUF file of architecture `llama` ([`config`], [`tensors`]) or a
//! Hugging Face folder, BF16 or compressed to DF11 or native ([`hf`]; [`source`] opens either),
//! uploaded once ([`weights`]) and run a token per step, each step one command encoder that
//! reads back only the greedy token; [`cpu`] is the same forward pass on the host from the CPU
//! references, [`mod@generate`] the prompt-then-decode loop with its timings, and [`tiny`] a
//! random model small enough for tests.
//!
//! Decisions (issue #14 leaves room):
//! - Weight matrices are GGUF blocks (squeeze's quantized GEMV), BF16, F16 or F32 as stored (the
//!   plain GEMV with that weight format, from GGUF or Hugging Face files: converting at load
//!   would change the model's numbers), DF11 units (the fused DF11 GEMV) or native units (the
//!   fused native GEMV), one [`weights::DeviceMatrix`] each; q/k/v and gate/up are stacked into
//!   one matrix each where the storage stacks (GGUF blocks of one format, or one plain type:
//!   [`weights::Projections`]), so a step dispatches one GEMV for each group.
//! - The BF16, fused DF11 and fused native GEMVs add in one order (`gemv_rows.wgsl` of
//!   squeeze's shaders), so a DF11 or native folder's logits equal its BF16 folder's bit for bit
//!   on one adapter.
//! - A block-quantized token embedding is dequantized to f32 once at load (squeeze's dequantize
//!   kernel has no row offset to dequantize a token's row in a step; binding one row at a time
//!   would need offsets aligned to `min_storage_buffer_offset_alignment`, which rows are not).
//!   That costs 4 bytes per embedding weight of device memory; the tied output GEMV still reads
//!   the quantized blocks.
//! - The KV cache is in any `KvDtype`; `Append` takes the f32 K/V the projections write and
//!   rounds (f16) or quantizes them as it appends.
//! - Each residual add is done by the RMSNorm after it (`add_rms_norm`), the last by the final
//!   norm: per layer a step dispatches two norms and no separate add.
//! - Prefill ([`model::prefill`], what [`generate()`] runs) takes the prompt in chunks of up to
//!   512 tokens, each one encoder: the projections as one GEMM per GGUF block matrix (the
//!   storage's GEMV 8 rows at a time for BF16/F16/F32, DF11 and native), the glue kernels over all rows,
//!   the causal prefill attention of squeeze-attention, and the head on the last row only. It
//!   attends densely in every attention mode (the sparse modes select at decode, as their
//!   papers do). Its logits equal the token-by-token path's within 1e-5 of the largest logit
//!   (GEMM and GEMV, prefill and decode attention add in different orders).

pub mod attention;
pub mod cache;
mod check;
pub mod config;
pub mod cpu;
pub mod embedding;
pub mod error;
pub mod generate;
mod glue;
pub mod hf;
pub mod model;
pub mod params;
pub mod reference;
pub mod request;
pub mod rms_norm;
pub mod rope;
pub mod sampler;
pub mod source;
pub mod state;
pub mod stream;
pub mod swiglu;
pub mod tensors;
pub mod tiny;
pub mod tokenizer;
pub mod vocab;
pub mod weights;

pub use attention::AttentionMode;
pub use config::LlamaConfig;
pub use cpu::CpuModel;
pub use embedding::{Embedding, Table, TableDtype};
pub use error::LlamaError;
pub use generate::{GenerateOptions, Generation, generate};
pub use model::{Model, ModelOptions, StepOutput};
pub use rms_norm::{NormShape, ResidualUpdate, RmsNorm};
pub use rope::{Pairing, Rope, RopeConfig, StackedQkv};
pub use sampler::{Sampler, Sampling};
pub use swiglu::SwiGlu;
pub use tensors::ModelTensors;
pub use tokenizer::Tokenizer;
pub use vocab::Vocab;
