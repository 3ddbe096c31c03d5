//! The CPU reference forward pass: the same model and step as [`crate::model`], built from the
//! CPU references of every kernel (dequantization, DF11 and native decoding, BF16/F16 widening,
//! matmul and decode attention of the families,
//! the glue references of [`crate::reference`]), with f64 reductions. Slow and plain; tests
//! compare the GPU's logits and tokens against it.

use squeeze::attention::reference::{HostCache, decode, dequantize_row, kivi, quantize_row};
use squeeze::attention::{CacheLayout, KvDtype, PageTable};
use squeeze::dfloat11::native::reference::decode_checked as native_decode_checked;
use squeeze::dfloat11::reference::decode_checked;
use squeeze::quant::reference;
use squeeze::{Error, Result};

use crate::config::LlamaConfig;
use crate::reference::{
    RopeInput, embedding_rows, narrow_f16, residual_add, rms_norm, rope, swiglu,
};
use crate::tensors::{EmbeddingData, Matrix, MatrixData, ModelTensors};

/// BF16 bits widened to f32 (exact).
fn widen(bits: impl IntoIterator<Item = u16>) -> Vec<f32> {
    bits.into_iter()
        .map(|b| half::bf16::from_bits(b).to_f32())
        .collect()
}

/// Little-endian BF16 bytes widened to f32.
fn widen_bytes(bytes: &[u8]) -> Vec<f32> {
    widen(
        bytes
            .chunks_exact(2)
            .map(|b| u16::from_le_bytes([b[0], b[1]])),
    )
}

/// Little-endian f16 bytes widened to f32 (exact).
fn f16_bytes(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(2)
        .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
        .collect()
}

/// Little-endian f32 bytes.
fn f32_bytes(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// A dequantized (or decoded, or widened) `[rows, cols]` matrix.
struct Dense {
    w: Vec<f32>,
    cols: usize,
}

impl Dense {
    fn new(m: &Matrix<'_>) -> Result<Self> {
        let w = match &m.data {
            MatrixData::Blocks { format, data } => {
                reference::dequantize(*format, data, m.cols as usize)?
            }
            MatrixData::Bf16(bytes) => widen_bytes(bytes),
            MatrixData::F16(bytes) => f16_bytes(bytes),
            MatrixData::F32(bytes) => f32_bytes(bytes),
            MatrixData::Df11(unit) => widen(decode_checked(unit, "weights")?),
            MatrixData::Native(unit) => widen(native_decode_checked(unit, "weights")?),
        };
        Ok(Self {
            w,
            cols: m.cols as usize,
        })
    }

    /// `W · x`, summed in f64 and rounded to f32.
    fn apply(&self, x: &[f32]) -> Vec<f32> {
        let (y, _) = reference::matmul(&self.w, self.cols, x);
        y.into_iter().map(|v| v as f32).collect()
    }
}

struct CpuLayer {
    attn_norm: Vec<f32>,
    q: Dense,
    k: Dense,
    v: Dense,
    o: Dense,
    ffn_norm: Vec<f32>,
    gate: Dense,
    up: Dense,
    down: Dense,
    /// K and V of every position so far, `[len, kv_heads, head_dim]`.
    k_cache: Vec<f32>,
    v_cache: Vec<f32>,
}

/// The model on the host, with its KV cache.
pub struct CpuModel {
    config: LlamaConfig,
    embedding: Vec<f32>,
    layers: Vec<CpuLayer>,
    output_norm: Vec<f32>,
    output: Dense,
    kv: KvDtype,
    len: u32,
}

impl CpuModel {
    /// Dequantizes every tensor; K and V are kept in `kv`'s precision (f16: rounded to nearest
    /// even, as the GPU's append stores them).
    pub fn new(tensors: &ModelTensors<'_>, kv: KvDtype) -> Result<Self> {
        let config = tensors.config;
        let embedding = match &tensors.embedding {
            EmbeddingData::F32(bytes) => f32_bytes(bytes),
            EmbeddingData::F16(bytes) => f16_bytes(bytes),
            EmbeddingData::Bf16(bytes) => widen_bytes(bytes),
            EmbeddingData::Blocks(m) => Dense::new(m)?.w,
        };
        let layers = tensors
            .layers
            .iter()
            .map(|l| {
                Ok(CpuLayer {
                    attn_norm: l.attn_norm.clone(),
                    q: Dense::new(&l.q)?,
                    k: Dense::new(&l.k)?,
                    v: Dense::new(&l.v)?,
                    o: Dense::new(&l.o)?,
                    ffn_norm: l.ffn_norm.clone(),
                    gate: Dense::new(&l.gate)?,
                    up: Dense::new(&l.up)?,
                    down: Dense::new(&l.down)?,
                    k_cache: Vec::new(),
                    v_cache: Vec::new(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            config,
            embedding,
            layers,
            output_norm: tensors.output_norm.clone(),
            output: Dense::new(&tensors.output)?,
            kv,
            len: 0,
        })
    }

    /// Tokens in the cache.
    pub fn len(&self) -> u32 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Runs `token` at the next position and returns the logits `[vocab]`.
    pub fn step(&mut self, token: u32) -> Result<Vec<f32>> {
        let c = self.config;
        if token >= c.vocab {
            return Err(Error::invalid(
                "token",
                "id",
                format!("below vocab = {}", c.vocab),
                token,
            ));
        }
        let (hd, heads, kv_heads) = (c.head_dim as usize, c.heads as usize, c.kv_heads as usize);
        let position = self.len;
        let len = position + 1;
        let mut x = embedding_rows(&self.embedding, c.hidden as usize, &[token]);
        let positions = [position];
        let rope_input = |heads| RopeInput {
            positions: &positions,
            heads,
            head_dim: hd,
            theta: c.rope_theta,
            pairing: c.pairing,
        };
        // The cache as one sequence on consecutive one-token pages.
        let (table, pages) = PageTable::contiguous(&[len], 1);
        let layout = CacheLayout {
            pages,
            page_size: 1,
            kv_heads: c.kv_heads,
            head_dim: c.head_dim,
            dtype: KvDtype::F32,
        };
        for layer in &mut self.layers {
            let xn = rms_norm(&x, &layer.attn_norm, c.rms_eps);
            let mut q = layer.q.apply(&xn);
            let mut k = layer.k.apply(&xn);
            rope(&mut q, &rope_input(heads));
            rope(&mut k, &rope_input(kv_heads));
            let v = layer.v.apply(&xn);
            let stored = |x: Vec<f32>| match self.kv {
                KvDtype::F32 => x,
                KvDtype::F16 => narrow_f16(&x)
                    .into_iter()
                    .map(|h| half::f16::from_bits(h).to_f32())
                    .collect(),
                // What the GPU's append stores: ggml's blocks, read back dequantized.
                kv @ (KvDtype::Q8_0 | KvDtype::Q4_0) => quantize_row(kv, &x)
                    .and_then(|q| dequantize_row(kv, &q))
                    .unwrap_or(x),
                // KIVI's formats depend on the page a token is in: kept as computed, and read
                // below as the GPU's paged cache presents them.
                KvDtype::Int4 | KvDtype::Int2 => x,
            };
            layer.k_cache.extend(stored(k));
            layer.v_cache.extend(stored(v));
            let shape = (crate::cache::PAGE_SIZE, c.kv_heads, c.head_dim);
            let kivi = kivi::sequence(self.kv, shape, &layer.k_cache, &layer.v_cache);
            let (k_cache, v_cache) = match &kivi {
                Some((k, v)) => (k, v),
                None => (&layer.k_cache, &layer.v_cache),
            };
            let cache = HostCache {
                layout,
                k: k_cache,
                v: v_cache,
            };
            let scale = 1.0 / (hd as f32).sqrt();
            let all = |_, _| (0..len).collect();
            let attn = decode(&cache, &table, &q, c.heads, scale, &all);
            residual_add(&mut x, &layer.o.apply(&attn));
            let xn = rms_norm(&x, &layer.ffn_norm, c.rms_eps);
            let act = swiglu(&layer.gate.apply(&xn), &layer.up.apply(&xn));
            residual_add(&mut x, &layer.down.apply(&act));
        }
        self.len = len;
        let xn = rms_norm(&x, &self.output_norm, c.rms_eps);
        Ok(self.output.apply(&xn))
    }
}
