//! A tiny random LLaMA written as GGUF or as a Hugging Face folder ([`tiny_hf`]), for tests and
//! demos that must not download a model: seeded weights, quantized with squeeze's reference
//! quantizers (GGUF, in the tensor names and metadata of llama.cpp's converter) or rounded to
//! BF16 (Hugging Face names and `config.json`). Its tokenizer is byte-level BPE (`gpt2`,
//! pre-tokenizer `smollm`; [`tiny_tokenizer_json`] for the folder) without merges: with a
//! vocabulary of 256, token i is byte i, so text encodes to its bytes and generated ids decode to
//! text.

use squeeze::quant::Format;
use squeeze::quant::gguf::{GgmlType, GgufWriter, Value};
use squeeze::quant::reference::quantize;
use squeeze::{Error, Result};

use crate::vocab::gpt2_char;

/// The shape of a tiny model and how its tensors are stored.
#[derive(Debug, Clone, Copy)]
pub struct TinySpec {
    pub layers: u32,
    pub hidden: u32,
    pub heads: u32,
    pub kv_heads: u32,
    pub ffn: u32,
    pub vocab: u32,
    pub context: u32,
    /// Type of the layers' matrices: F32, F16, BF16, or a block format squeeze quantizes (Q8_0,
    /// Q4_0, Q4_1). [`tiny_hf`] writes F16 or F32 for those, BF16 otherwise.
    pub matrices: GgmlType,
    /// Token embedding: F32, F16, or a block format.
    pub embedding: GgmlType,
    /// `output.weight` in this format, or `None` for tied embeddings.
    pub output: Option<Format>,
    pub seed: u64,
}

impl TinySpec {
    /// 2 layers, hidden 128, 2 query heads of 64 over 1 KV head (GQA 2), FFN 256, vocab 256,
    /// Q8_0 everywhere, tied embeddings. (Head size 64 is the smallest squeeze's attention
    /// kernels are built for.)
    pub fn default_q8_0() -> Self {
        Self {
            layers: 2,
            hidden: 128,
            heads: 2,
            kv_heads: 1,
            ffn: 256,
            vocab: 256,
            context: 64,
            matrices: GgmlType::Q8_0,
            embedding: GgmlType::Q8_0,
            output: None,
            seed: 1,
        }
    }
}

/// SplitMix64, so every run writes the same model.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f32 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        // Uniform in [−1, 1).
        (z >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }

    fn values(&mut self, n: u32, scale: f32, offset: f32) -> Vec<f32> {
        (0..n).map(|_| offset + scale * self.next()).collect()
    }
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn block_type(format: Format) -> Result<GgmlType> {
    GgmlType::from_id(format.ggml_type())
        .ok_or_else(|| Error::invalid("format", "GGUF type", "one GGUF defines", format))
}

/// The GGUF bytes of a random model of `spec`.
pub fn tiny_gguf(spec: &TinySpec) -> Result<Vec<u8>> {
    let s = *spec;
    let head_dim = s.hidden / s.heads;
    let mut rng = Rng(s.seed);
    let mut w = GgufWriter::new()
        .metadata("general.architecture", Value::String("llama".into()))
        .metadata("general.name", Value::String("squeeze tiny llama".into()))
        .metadata("llama.block_count", Value::U32(s.layers))
        .metadata("llama.context_length", Value::U32(s.context))
        .metadata("llama.embedding_length", Value::U32(s.hidden))
        .metadata("llama.feed_forward_length", Value::U32(s.ffn))
        .metadata("llama.attention.head_count", Value::U32(s.heads))
        .metadata("llama.attention.head_count_kv", Value::U32(s.kv_heads))
        .metadata("llama.rope.freq_base", Value::F32(10000.0))
        .metadata("llama.rope.dimension_count", Value::U32(head_dim))
        .metadata("llama.attention.layer_norm_rms_epsilon", Value::F32(1e-5))
        .metadata("tokenizer.ggml.model", Value::String("gpt2".into()))
        .metadata("tokenizer.ggml.pre", Value::String("smollm".into()))
        .metadata(
            "tokenizer.ggml.merges",
            Value::Array(squeeze::quant::gguf::ValueType::String, Vec::new()),
        );
    let pieces = (0..s.vocab)
        .map(|i| match u8::try_from(i) {
            Ok(byte) => Value::String(gpt2_char(byte).to_string()),
            Err(_) => Value::String(format!("<|extra_{i}|>")),
        })
        .collect();
    w = w.metadata(
        "tokenizer.ggml.tokens",
        Value::Array(squeeze::quant::gguf::ValueType::String, pieces),
    );
    let mut matrix = |w: GgufWriter, name: String, ty: GgmlType, rows: u32, cols: u32| {
        // Uniform weights of standard deviation ≈ 1/√cols keep activations of order 1.
        let scale = 1.7 / (cols as f32).sqrt();
        let values = rng.values(rows * cols, scale, 0.0);
        Ok::<_, Error>(w.tensor(
            name,
            ty,
            &[u64::from(cols), u64::from(rows)],
            stored("matrices", ty, &values)?,
        ))
    };
    let embedding_values = Rng(s.seed ^ 0xe).values(s.vocab * s.hidden, 1.0, 0.0);
    let embedding = stored("embedding", s.embedding, &embedding_values)?;
    w = w.tensor(
        "token_embd.weight",
        s.embedding,
        &[u64::from(s.hidden), u64::from(s.vocab)],
        embedding,
    );
    let (q_rows, kv_rows) = (s.heads * head_dim, s.kv_heads * head_dim);
    let mut norm_rng = Rng(s.seed ^ 0x40);
    let mut norm = |w: GgufWriter, name: String| {
        let values = norm_rng.values(s.hidden, 0.2, 1.0);
        w.tensor(
            name,
            GgmlType::F32,
            &[u64::from(s.hidden)],
            f32_bytes(&values),
        )
    };
    for i in 0..s.layers {
        let name = |part: &str| format!("blk.{i}.{part}.weight");
        let f = s.matrices;
        w = norm(w, name("attn_norm"));
        w = matrix(w, name("attn_q"), f, q_rows, s.hidden)?;
        w = matrix(w, name("attn_k"), f, kv_rows, s.hidden)?;
        w = matrix(w, name("attn_v"), f, kv_rows, s.hidden)?;
        w = matrix(w, name("attn_output"), f, s.hidden, q_rows)?;
        w = norm(w, name("ffn_norm"));
        w = matrix(w, name("ffn_gate"), f, s.ffn, s.hidden)?;
        w = matrix(w, name("ffn_up"), f, s.ffn, s.hidden)?;
        w = matrix(w, name("ffn_down"), f, s.hidden, s.ffn)?;
    }
    w = norm(w, "output_norm.weight".into());
    if let Some(format) = s.output {
        w = matrix(
            w,
            "output.weight".into(),
            block_type(format)?,
            s.vocab,
            s.hidden,
        )?;
    }
    Ok(w.to_bytes()?)
}

/// `values` as GGUF stores type `ty`: F32, F16, BF16 (rounded to nearest even) or a block format.
fn stored(arg: &'static str, ty: GgmlType, values: &[f32]) -> Result<Vec<u8>> {
    Ok(match ty {
        GgmlType::F32 => f32_bytes(values),
        GgmlType::F16 => f16_bytes(values),
        GgmlType::Bf16 => bf16_bytes(values),
        other => {
            let format = other.format().ok_or_else(|| {
                Error::invalid(arg, "type", "F32, F16, BF16 or a block format", other)
            })?;
            quantize(format, values)?
        }
    })
}

/// f16 bits of `values`, rounded to nearest even, little-endian.
fn f16_bytes(values: &[f32]) -> Vec<u8> {
    values
        .iter()
        .flat_map(|&v| half::f16::from_f32(v).to_le_bytes())
        .collect()
}

/// BF16 bits of `values`, rounded to nearest even, little-endian.
fn bf16_bytes(values: &[f32]) -> Vec<u8> {
    values
        .iter()
        .flat_map(|&v| half::bf16::from_f32(v).to_le_bytes())
        .collect()
}

fn write_file(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).map_err(|e| {
        Error::invalid(
            "dir",
            "path",
            "a writable folder",
            format!("{}: {e}", path.display()),
        )
    })
}

/// The `tokenizer.json` of a tiny model: byte-level BPE without merges over the 256 bytes (in
/// GPT-2's byte-to-character map), so text encodes to its bytes as with [`tiny_gguf`]'s
/// vocabulary; ids past 255 are `<|extra_i|>`.
pub fn tiny_tokenizer_json(vocab: u32) -> String {
    let pieces: serde_json::Map<String, serde_json::Value> = (0..vocab)
        .map(|i| {
            let piece = match u8::try_from(i) {
                Ok(byte) => gpt2_char(byte).to_string(),
                Err(_) => format!("<|extra_{i}|>"),
            };
            (piece, serde_json::Value::from(i))
        })
        .collect();
    let byte_level = serde_json::json!({
        "type": "ByteLevel",
        "add_prefix_space": false,
        "trim_offsets": true,
        "use_regex": true
    });
    serde_json::json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": [],
        "normalizer": null,
        "pre_tokenizer": byte_level,
        "post_processor": null,
        "decoder": byte_level,
        "model": {
            "type": "BPE",
            "dropout": null,
            "unk_token": null,
            "continuing_subword_prefix": null,
            "end_of_word_suffix": null,
            "fuse_unk": false,
            "byte_fallback": false,
            "ignore_merges": false,
            "vocab": pieces,
            "merges": []
        }
    })
    .to_string()
}

/// Writes a random model of `spec`'s shape into the existing folder `dir` as a Hugging Face
/// checkpoint: `config.json` (`LlamaForCausalLM`), `model.safetensors` in Hugging Face's
/// tensor names (RoPE on halves), `generation_config.json` and [`tiny_tokenizer_json`]. The
/// layers' matrices are F16 or F32 when `spec.matrices` is, BF16 otherwise; every other tensor
/// is BF16. `spec.output` chooses tied embeddings (`None`) or a BF16 `lm_head`; the block formats
/// of `spec` are not used.
pub fn tiny_hf(spec: &TinySpec, dir: &std::path::Path) -> Result<()> {
    use safetensors::{Dtype, tensor::TensorView};
    let s = *spec;
    let head_dim = s.hidden / s.heads;
    let (q_rows, kv_rows) = (s.heads * head_dim, s.kv_heads * head_dim);
    let mut rng = Rng(s.seed);
    let mut norm_rng = Rng(s.seed ^ 0x40);
    let layer_dtype = match s.matrices {
        GgmlType::F16 => Dtype::F16,
        GgmlType::F32 => Dtype::F32,
        _ => Dtype::BF16,
    };
    let mut tensors: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
    let mut matrix = |name: String, dtype: Dtype, rows: u32, cols: u32| {
        let scale = 1.7 / (cols as f32).sqrt();
        let values = rng.values(rows * cols, scale, 0.0);
        let bytes = match dtype {
            Dtype::F16 => f16_bytes(&values),
            Dtype::F32 => f32_bytes(&values),
            _ => bf16_bytes(&values),
        };
        (name, dtype, vec![rows as usize, cols as usize], bytes)
    };
    let mut norm = |name: String| {
        let values = norm_rng.values(s.hidden, 0.2, 1.0);
        (
            name,
            Dtype::BF16,
            vec![s.hidden as usize],
            bf16_bytes(&values),
        )
    };
    let embedding = Rng(s.seed ^ 0xe).values(s.vocab * s.hidden, 1.0, 0.0);
    tensors.push((
        "model.embed_tokens.weight".into(),
        Dtype::BF16,
        vec![s.vocab as usize, s.hidden as usize],
        bf16_bytes(&embedding),
    ));
    for i in 0..s.layers {
        let name = |part: &str| format!("model.layers.{i}.{part}.weight");
        tensors.push(norm(name("input_layernorm")));
        let d = layer_dtype;
        tensors.push(matrix(name("self_attn.q_proj"), d, q_rows, s.hidden));
        tensors.push(matrix(name("self_attn.k_proj"), d, kv_rows, s.hidden));
        tensors.push(matrix(name("self_attn.v_proj"), d, kv_rows, s.hidden));
        tensors.push(matrix(name("self_attn.o_proj"), d, s.hidden, q_rows));
        tensors.push(norm(name("post_attention_layernorm")));
        tensors.push(matrix(name("mlp.gate_proj"), d, s.ffn, s.hidden));
        tensors.push(matrix(name("mlp.up_proj"), d, s.ffn, s.hidden));
        tensors.push(matrix(name("mlp.down_proj"), d, s.hidden, s.ffn));
    }
    tensors.push(norm("model.norm.weight".into()));
    if s.output.is_some() {
        tensors.push(matrix(
            "lm_head.weight".into(),
            Dtype::BF16,
            s.vocab,
            s.hidden,
        ));
    }
    let views = tensors
        .iter()
        .map(|(name, dtype, shape, data)| {
            TensorView::new(*dtype, shape.clone(), data)
                .map(|v| (name.clone(), v))
                .map_err(|e| Error::invalid("tensor", "view", "a valid tensor", e))
        })
        .collect::<Result<Vec<_>>>()?;
    let bytes = safetensors::serialize(views, None)
        .map_err(|e| Error::invalid("tensors", "file", "serializable", e))?;
    write_file(&dir.join("model.safetensors"), &bytes)?;
    let config = serde_json::json!({
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": s.hidden,
        "intermediate_size": s.ffn,
        "num_hidden_layers": s.layers,
        "num_attention_heads": s.heads,
        "num_key_value_heads": s.kv_heads,
        "hidden_act": "silu",
        "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0,
        "rope_scaling": null,
        "vocab_size": s.vocab,
        "max_position_embeddings": s.context,
        "tie_word_embeddings": s.output.is_none(),
        "torch_dtype": "bfloat16",
        "eos_token_id": 0
    });
    write_file(&dir.join("config.json"), config.to_string().as_bytes())?;
    let generation = serde_json::json!({ "eos_token_id": [0] });
    write_file(
        &dir.join("generation_config.json"),
        generation.to_string().as_bytes(),
    )?;
    write_file(
        &dir.join("tokenizer.json"),
        tiny_tokenizer_json(s.vocab).as_bytes(),
    )
}
