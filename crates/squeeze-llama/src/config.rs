//! A LLaMA model's hyperparameters, read from GGUF metadata (`llama.*` keys, as llama.cpp's
//! converter writes them) or a Hugging Face `config.json` (`LlamaForCausalLM`), and checked
//! against what the engine supports.

use serde_json::Value as Json;
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
    /// End-of-sequence token (`tokenizer.ggml.eos_token_id`; Hugging Face: the first
    /// `eos_token_id` of `generation_config.json`, else of `config.json`), if one is named.
    pub eos: Option<u32>,
    /// Whether the output matrix is the token embedding (Hugging Face `tie_word_embeddings`;
    /// GGUF: no `output.weight`).
    pub tied: bool,
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
            tied: file.tensor("output.weight").is_err(),
        })
    }

    /// Reads and checks a Hugging Face `config.json` of architecture `LlamaForCausalLM`;
    /// `generation` is `generation_config.json`, if the folder has one (its `eos_token_id`
    /// wins). An architecture, activation, bias or `rope_scaling` this engine does not run is
    /// an error naming it.
    pub fn from_hf(config: &Json, generation: Option<&Json>) -> Result<Self> {
        let architecture = match config.get("architectures") {
            Some(Json::Array(a)) if a.len() == 1 => a[0].as_str().unwrap_or_default().to_string(),
            Some(other) => other.to_string(),
            None => return Err(missing("config.json: architectures")),
        };
        if architecture != "LlamaForCausalLM" {
            return Err(LlamaError::Architecture { architecture }.into());
        }
        let json_bad = |key: &str, expected: &str, actual: &Json| -> Error {
            LlamaError::BadMetadata {
                key: format!("config.json: {key}"),
                expected: expected.into(),
                actual: actual.to_string(),
            }
            .into()
        };
        let count = |key: &str| -> Result<Option<u32>> {
            match config.get(key) {
                None | Some(Json::Null) => Ok(None),
                Some(v) => v
                    .as_u64()
                    .and_then(|v| u32::try_from(v).ok())
                    .filter(|&v| v > 0)
                    .map(Some)
                    .ok_or_else(|| json_bad(key, "a positive integer below 2^32", v)),
            }
        };
        let required = |key: &str| -> Result<u32> {
            count(key)?.ok_or_else(|| missing(&format!("config.json: {key}")))
        };
        let number = |key: &str| -> Result<Option<f32>> {
            match config.get(key) {
                None | Some(Json::Null) => Ok(None),
                Some(v) => v
                    .as_f64()
                    .map(|f| f as f32)
                    .filter(|f| f.is_finite())
                    .map(Some)
                    .ok_or_else(|| json_bad(key, "a finite number", v)),
            }
        };
        match config.get("hidden_act").and_then(Json::as_str) {
            None | Some("silu") => {}
            Some(other) => {
                return Err(json_bad(
                    "hidden_act",
                    "\"silu\" (SwiGLU)",
                    &Json::from(other),
                ));
            }
        }
        for key in ["attention_bias", "mlp_bias"] {
            if let Some(v) = config.get(key)
                && v != &Json::Bool(false)
            {
                return Err(json_bad(key, "false (biases are not supported)", v));
            }
        }
        if let Some(v) = config.get("rope_scaling")
            && !v.is_null()
        {
            return Err(json_bad(
                "rope_scaling",
                "null (no RoPE scaling is implemented)",
                v,
            ));
        }
        let hidden = required("hidden_size")?;
        let heads = required("num_attention_heads")?;
        let kv_heads = count("num_key_value_heads")?.unwrap_or(heads);
        if !heads.is_multiple_of(kv_heads) {
            return Err(json_bad(
                "num_key_value_heads",
                &format!("a divisor of num_attention_heads = {heads}"),
                &Json::from(kv_heads),
            ));
        }
        let head_dim = match count("head_dim")? {
            Some(d) => d,
            None if hidden.is_multiple_of(heads) => hidden / heads,
            None => {
                return Err(json_bad(
                    "num_attention_heads",
                    &format!("a divisor of hidden_size = {hidden} (no head_dim given)"),
                    &Json::from(heads),
                ));
            }
        };
        let rms_eps =
            number("rms_norm_eps")?.ok_or_else(|| missing("config.json: rms_norm_eps"))?;
        if rms_eps < 0.0 {
            return Err(json_bad("rms_norm_eps", "≥ 0", &Json::from(rms_eps)));
        }
        let rope_theta = number("rope_theta")?.unwrap_or(DEFAULT_ROPE_THETA);
        if rope_theta <= 0.0 {
            return Err(json_bad("rope_theta", "> 0", &Json::from(rope_theta)));
        }
        let tied = match config.get("tie_word_embeddings") {
            None | Some(Json::Null) => false,
            Some(Json::Bool(b)) => *b,
            Some(v) => return Err(json_bad("tie_word_embeddings", "a boolean", v)),
        };
        let eos_of = |json: &Json, file: &str| -> Result<Option<u32>> {
            let id = |v: &Json| v.as_u64().and_then(|v| u32::try_from(v).ok());
            let parsed = match json.get("eos_token_id") {
                None | Some(Json::Null) => Some(None),
                Some(Json::Array(ids)) if ids.is_empty() => Some(None),
                Some(Json::Array(ids)) => id(&ids[0]).map(Some),
                Some(v) => id(v).map(Some),
            };
            parsed.ok_or_else(|| {
                LlamaError::BadMetadata {
                    key: format!("{file}: eos_token_id"),
                    expected: "a token id or a list of them".into(),
                    actual: json
                        .get("eos_token_id")
                        .map_or(Json::Null, Clone::clone)
                        .to_string(),
                }
                .into()
            })
        };
        let eos = match generation
            .map(|g| eos_of(g, "generation_config.json"))
            .transpose()?
        {
            Some(Some(id)) => Some(id),
            _ => eos_of(config, "config.json")?,
        };
        Ok(Self {
            layers: required("num_hidden_layers")?,
            hidden,
            heads,
            kv_heads,
            head_dim,
            ffn: required("intermediate_size")?,
            vocab: required("vocab_size")?,
            context: required("max_position_embeddings")?,
            rope_theta,
            rms_eps,
            pairing: Pairing::Halves,
            eos,
            tied,
        })
    }
}
