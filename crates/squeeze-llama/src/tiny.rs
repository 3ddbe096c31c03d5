//! A tiny random LLaMA written as GGUF, for tests and demos that must not download a model:
//! seeded weights, quantized with squeeze's reference quantizers, in the tensor names and
//! metadata of llama.cpp's converter. Its tokenizer is byte-level BPE (`gpt2`, pre-tokenizer
//! `smollm`) without merges: with a vocabulary of 256, token i is byte i, so text encodes to its
//! bytes and generated ids decode to text.

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
    /// Format of the block matrices (Q8_0, Q4_0 or Q4_1: the ones squeeze quantizes).
    pub matrices: Format,
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
            matrices: Format::Q8_0,
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
    let mut matrix = |w: GgufWriter, name: String, format: Format, rows: u32, cols: u32| {
        // Uniform weights of standard deviation ≈ 1/√cols keep activations of order 1.
        let scale = 1.7 / (cols as f32).sqrt();
        let values = rng.values(rows * cols, scale, 0.0);
        Ok::<_, Error>(w.tensor(
            name,
            block_type(format)?,
            &[u64::from(cols), u64::from(rows)],
            quantize(format, &values)?,
        ))
    };
    let embedding_values = Rng(s.seed ^ 0xe).values(s.vocab * s.hidden, 1.0, 0.0);
    let embedding = match s.embedding {
        GgmlType::F32 => f32_bytes(&embedding_values),
        GgmlType::F16 => embedding_values
            .iter()
            .flat_map(|&v| half::f16::from_f32(v).to_le_bytes())
            .collect(),
        other => {
            let format = other.format().ok_or_else(|| {
                Error::invalid("embedding", "type", "F32, F16 or a block format", other)
            })?;
            quantize(format, &embedding_values)?
        }
    };
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
        w = matrix(w, "output.weight".into(), format, s.vocab, s.hidden)?;
    }
    Ok(w.to_bytes()?)
}
