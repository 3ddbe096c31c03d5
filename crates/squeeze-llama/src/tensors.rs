//! A LLaMA model's tensors, found and checked against the hyperparameters, still borrowed from
//! their files: what the GPU model uploads once and the CPU reference dequantizes. From a GGUF
//! file here (llama.cpp's names); from a Hugging Face, DF11 or native folder in [`crate::hf`].
//!
//! A weight matrix ([`MatrixData`]) is GGUF blocks (squeeze's quantized GEMV), BF16, F16 or F32
//! as stored (the plain GEMV of that format: no conversion at load, so the model's numbers are
//! the file's, at 2 or 4 bytes per weight of device memory), a DF11 unit (the fused DF11 GEMV) or
//! a native unit (the fused native GEMV). Norm weights may be F32, F16 or BF16 (widened to f32
//! exactly). The token embedding may be F32, F16 or BF16 (gathered as stored) or any block format
//! (dequantized once at load). Without `output.weight` the embedding is tied and is the output
//! matrix too, in whichever of those it is stored.

use squeeze::dfloat11::native::CheckedNative;
use squeeze::dfloat11::{Checked, Layout};
use squeeze::quant::Format;
use squeeze::quant::gguf::{GgmlType, GgufFile, Tensor};
use squeeze::{Error, Result};

use crate::config::LlamaConfig;
use crate::error::LlamaError;

/// How a weight matrix is stored, and so which GEMV multiplies it.
#[derive(Debug, Clone)]
pub enum MatrixData<'a> {
    /// GGUF blocks of `format`, row-major.
    Blocks { format: Format, data: &'a [u8] },
    /// BF16, row-major, little-endian.
    Bf16(&'a [u8]),
    /// IEEE f16, row-major, little-endian.
    F16(&'a [u8]),
    /// f32, row-major, little-endian.
    F32(&'a [u8]),
    /// One validated DF11 unit holding exactly this matrix.
    Df11(Checked<'a>),
    /// One validated native unit.
    Native(CheckedNative<'a>),
}

/// A `[rows, cols]` weight matrix.
#[derive(Debug, Clone)]
pub struct Matrix<'a> {
    pub rows: u32,
    pub cols: u32,
    pub data: MatrixData<'a>,
}

/// How the token embedding is stored.
#[derive(Debug, Clone)]
pub enum EmbeddingData<'a> {
    F32(&'a [u8]),
    F16(&'a [u8]),
    /// BF16, little-endian; a DF11 or native table is decoded to this once at load.
    Bf16(std::borrow::Cow<'a, [u8]>),
    Blocks(Matrix<'a>),
}

/// One transformer block's tensors.
#[derive(Debug, Clone)]
pub struct Layer<'a> {
    pub attn_norm: Vec<f32>,
    pub q: Matrix<'a>,
    pub k: Matrix<'a>,
    pub v: Matrix<'a>,
    pub o: Matrix<'a>,
    pub ffn_norm: Vec<f32>,
    pub gate: Matrix<'a>,
    pub up: Matrix<'a>,
    pub down: Matrix<'a>,
}

/// Every tensor of the model, checked.
#[derive(Debug, Clone)]
pub struct ModelTensors<'a> {
    pub config: LlamaConfig,
    pub embedding: EmbeddingData<'a>,
    pub layers: Vec<Layer<'a>>,
    pub output_norm: Vec<f32>,
    /// `output.weight`, or the embedding when tied.
    pub output: Matrix<'a>,
    /// The layout of the DF11 units (a DF11 checkpoint's `dfloat11_config`), if any.
    pub df11_layout: Option<Layout>,
}

fn shape_error(t: &Tensor<'_>, expected: String) -> Error {
    LlamaError::Shape {
        tensor: t.name.into(),
        expected,
        actual: format!("{:?}", t.shape()),
    }
    .into()
}

fn unsupported(t: &Tensor<'_>, why: &'static str) -> Error {
    LlamaError::UnsupportedType {
        tensor: t.name.into(),
        ggml_type: t.ggml_type.to_string(),
        why,
    }
    .into()
}

/// `t` as a `[rows, cols]` matrix: GGUF blocks, or F32/F16/BF16 as stored.
fn matrix<'a>(t: Tensor<'a>, rows: u32, cols: u32) -> Result<Matrix<'a>> {
    if t.dims != [u64::from(cols), u64::from(rows)] {
        return Err(shape_error(&t, format!("[{rows}, {cols}]")));
    }
    let data = match t.ggml_type {
        GgmlType::F32 => MatrixData::F32(t.data),
        GgmlType::F16 => MatrixData::F16(t.data),
        GgmlType::Bf16 => MatrixData::Bf16(t.data),
        other => MatrixData::Blocks {
            format: other.format().ok_or_else(|| {
                unsupported(
                    &t,
                    "weight matrices must be F32, F16, BF16 or in a GGUF block format",
                )
            })?,
            data: t.data,
        },
    };
    Ok(Matrix { rows, cols, data })
}

/// `t` as an f32 vector of `len`.
fn vector(t: Tensor<'_>, len: u32) -> Result<Vec<f32>> {
    if t.dims != [u64::from(len)] {
        return Err(shape_error(&t, format!("[{len}]")));
    }
    let words = t.data.chunks_exact(4).map(|b| [b[0], b[1], b[2], b[3]]);
    let halves = t
        .data
        .chunks_exact(2)
        .map(|b| u16::from_le_bytes([b[0], b[1]]));
    match t.ggml_type {
        GgmlType::F32 => Ok(words.map(f32::from_le_bytes).collect()),
        GgmlType::F16 => Ok(halves.map(|h| half::f16::from_bits(h).to_f32()).collect()),
        GgmlType::Bf16 => Ok(halves.map(|h| half::bf16::from_bits(h).to_f32()).collect()),
        _ => Err(unsupported(&t, "norm weights must be F32, F16 or BF16")),
    }
}

fn embedding(t: Tensor<'_>) -> Result<(EmbeddingData<'_>, u32)> {
    let [cols, vocab] = *t.dims else {
        return Err(shape_error(&t, "[vocab, hidden]".into()));
    };
    let vocab = u32::try_from(vocab).map_err(|_| shape_error(&t, "vocab below 2^32".into()))?;
    let cols = u32::try_from(cols).map_err(|_| shape_error(&t, "hidden below 2^32".into()))?;
    let data = match t.ggml_type {
        GgmlType::F32 => EmbeddingData::F32(t.data),
        GgmlType::F16 => EmbeddingData::F16(t.data),
        GgmlType::Bf16 => EmbeddingData::Bf16(std::borrow::Cow::Borrowed(t.data)),
        _ => EmbeddingData::Blocks(matrix(t, vocab, cols).map_err(|_| {
            unsupported(
                &t,
                "the token embedding must be F32, F16, BF16 or a GGUF block format",
            )
        })?),
    };
    Ok((data, vocab))
}

impl<'a> ModelTensors<'a> {
    /// Finds and checks every tensor of a `llama` GGUF file.
    pub fn from_gguf(file: &'a GgufFile) -> Result<Self> {
        let token_embd = file.tensor("token_embd.weight")?;
        let (embedding, vocab) = embedding(token_embd)?;
        let config = LlamaConfig::from_gguf(file, vocab)?;
        let LlamaConfig {
            hidden,
            heads,
            kv_heads,
            head_dim,
            ffn,
            ..
        } = config;
        if token_embd.dims[0] != u64::from(hidden) {
            return Err(shape_error(&token_embd, format!("[{vocab}, {hidden}]")));
        }
        let tensor = |name: String| file.tensor(&name).map_err(Error::from);
        let layers = (0..config.layers)
            .map(|i| {
                let t = |part: &str| tensor(format!("blk.{i}.{part}.weight"));
                Ok(Layer {
                    attn_norm: vector(t("attn_norm")?, hidden)?,
                    q: matrix(t("attn_q")?, heads * head_dim, hidden)?,
                    k: matrix(t("attn_k")?, kv_heads * head_dim, hidden)?,
                    v: matrix(t("attn_v")?, kv_heads * head_dim, hidden)?,
                    o: matrix(t("attn_output")?, hidden, heads * head_dim)?,
                    ffn_norm: vector(t("ffn_norm")?, hidden)?,
                    gate: matrix(t("ffn_gate")?, ffn, hidden)?,
                    up: matrix(t("ffn_up")?, ffn, hidden)?,
                    down: matrix(t("ffn_down")?, hidden, ffn)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let output = match file.tensor("output.weight") {
            Ok(t) => matrix(t, vocab, hidden)?,
            // Tied embeddings: no output matrix of its own.
            Err(_) => matrix(token_embd, vocab, hidden)?,
        };
        Ok(Self {
            config,
            embedding,
            layers,
            output_norm: vector(tensor("output_norm.weight".into())?, hidden)?,
            output,
            df11_layout: None,
        })
    }
}
