//! A LLaMA model's hyperparameters, read from GGUF metadata (`llama.*` keys, as llama.cpp's
//! converter writes them) and checked against what the engine supports.

use squeeze::quant::gguf::{GgufFile, Value};
use squeeze::{Error, Result};

use crate::error::LlamaError;
use crate::rope::Pairing;

/// RoPE base llama.cpp assumes when `llama.rope.freq_base` is absent.
pub const DEFAULT_ROPE_THETA: f32 = 10000.0;

/// The shape and constants of a LLaMA model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LlamaConfig {
    /// Transformer blocks (`llama.block_count`).
    pub layers: u32,
    /// Hidden size (`llama.embedding_length`).
    pub hidden: u32,
    /// Query heads (`llama.attention.head_count`).
    pub heads: u32,
    /// Key/value heads (`llama.attention.head_count_kv`, default: `heads`).
    pub kv_heads: u32,
    /// hidden / heads.
    pub head_dim: u32,
    /// FFN inner size (`llama.feed_forward_length`).
    pub ffn: u32,
    /// Rows of the token embedding.
    pub vocab: u32,
    /// Longest context the model was trained for (`llama.context_length`).
    pub context: u32,
    /// RoPE base (`llama.rope.freq_base`, default [`DEFAULT_ROPE_THETA`]).
    pub rope_theta: f32,
    /// RMSNorm epsilon (`llama.attention.layer_norm_rms_epsilon`).
    pub rms_eps: f32,
    /// GGUF LLaMA checkpoints rotate adjacent pairs (llama.cpp's converter permutes Q and K).
    pub pairing: Pairing,
    /// End-of-sequence token (`tokenizer.ggml.eos_token_id`), if the file names one.
    pub eos: Option<u32>,
}

fn missing(key: &str) -> Error {
    LlamaError::MissingMetadata { key: key.into() }.into()
}

fn bad(key: &str, expected: &str, actual: &Value) -> Error {
    LlamaError::BadMetadata {
        key: key.into(),
        expected: expected.into(),
        actual: format!("{actual:?}"),
    }
    .into()
}

/// A positive count that fits u32.
fn count(file: &GgufFile, key: &str) -> Result<u32> {
    let value = file.get(key).ok_or_else(|| missing(key))?;
    value
        .as_u64()
        .and_then(|v| u32::try_from(v).ok())
        .filter(|&v| v > 0)
        .ok_or_else(|| bad(key, "a positive integer below 2^32", value))
}

/// A finite float, from any numeric value.
fn float(file: &GgufFile, key: &str) -> Result<Option<f32>> {
    let Some(value) = file.get(key) else {
        return Ok(None);
    };
    let v = match *value {
        Value::F32(v) => v,
        Value::F64(v) => v as f32,
        _ => value
            .as_u64()
            .map(|v| v as f32)
            .ok_or_else(|| bad(key, "a number", value))?,
    };
    if !v.is_finite() {
        return Err(bad(key, "finite", value));
    }
    Ok(Some(v))
}

impl LlamaConfig {
    /// Reads and checks the hyperparameters of `file`; `vocab` is the embedding's row count.
    pub fn from_gguf(file: &GgufFile, vocab: u32) -> Result<Self> {
        let key = "general.architecture";
        let arch = file.get(key).ok_or_else(|| missing(key))?;
        let arch = arch.as_str().ok_or_else(|| bad(key, "a string", arch))?;
        if arch != "llama" {
            return Err(LlamaError::Architecture {
                architecture: arch.into(),
            }
            .into());
        }
        let hidden = count(file, "llama.embedding_length")?;
        let heads = count(file, "llama.attention.head_count")?;
        let kv_heads = match file.get("llama.attention.head_count_kv") {
            Some(_) => count(file, "llama.attention.head_count_kv")?,
            None => heads,
        };
        if !hidden.is_multiple_of(heads) || !heads.is_multiple_of(kv_heads) {
            return Err(bad(
                "llama.attention.head_count_kv",
                &format!("a divisor of head_count = {heads}, which must divide {hidden}"),
                &Value::U32(kv_heads),
            ));
        }
        let head_dim = hidden / heads;
        let rope_key = "llama.rope.dimension_count";
        if let Some(v) = file.get(rope_key)
            && v.as_u64() != Some(u64::from(head_dim))
        {
            return Err(bad(
                rope_key,
                &format!("the head size {head_dim} (partial rotary is not supported)"),
                v,
            ));
        }
        let eps_key = "llama.attention.layer_norm_rms_epsilon";
        let rms_eps = float(file, eps_key)?.ok_or_else(|| missing(eps_key))?;
        if rms_eps < 0.0 {
            return Err(bad(eps_key, "≥ 0", &Value::F32(rms_eps)));
        }
        let theta_key = "llama.rope.freq_base";
        let rope_theta = float(file, theta_key)?.unwrap_or(DEFAULT_ROPE_THETA);
        if rope_theta <= 0.0 {
            return Err(bad(theta_key, "> 0", &Value::F32(rope_theta)));
        }
        let eos_key = "tokenizer.ggml.eos_token_id";
        let eos = file
            .get(eos_key)
            .map(|v| {
                v.as_u64()
                    .and_then(|id| u32::try_from(id).ok())
                    .ok_or_else(|| bad(eos_key, "a token id", v))
            })
            .transpose()?;
        Ok(Self {
            layers: count(file, "llama.block_count")?,
            hidden,
            heads,
            kv_heads,
            head_dim,
            ffn: count(file, "llama.feed_forward_length")?,
            vocab,
            context: count(file, "llama.context_length")?,
            rope_theta,
            rms_eps,
            pairing: Pairing::Adjacent,
            eos,
        })
    }
}
