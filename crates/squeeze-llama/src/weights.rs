//! The model's weights on the device, uploaded once at load: block matrices as stored (the
//! decode step multiplies them with squeeze's GEMV), norms as f32, and the token embedding as
//! the table the embedding kernel gathers from (a block-quantized table is dequantized to f32
//! here, once, by squeeze's dequantize kernel; that costs 4 bytes per weight of device memory,
//! see the crate docs).

use squeeze::quant::{Dequantize, Format, Problem};
use squeeze::{Binding, DType, Gpu, Result, wgpu};

use crate::embedding::{Table, TableDtype};
use crate::tensors::{EmbeddingData, Matrix, ModelTensors};

/// A `[rows, cols]` block matrix on the device.
pub struct DeviceMatrix {
    pub format: Format,
    pub rows: u32,
    pub cols: u32,
    pub buffer: wgpu::Buffer,
}

impl DeviceMatrix {
    fn upload(gpu: &Gpu, m: &Matrix<'_>) -> Result<Self> {
        Ok(Self {
            format: m.format,
            rows: m.rows,
            cols: m.cols,
            buffer: gpu.upload("weights", m.data)?,
        })
    }

    /// The GEMV problem `y[rows] = W · x[cols]` with f32 activations.
    pub fn problem(&self) -> Problem {
        Problem {
            rows: self.rows as usize,
            cols: self.cols as usize,
            batch: 1,
            x_dtype: DType::F32,
        }
    }
}

/// One transformer block's weights.
pub struct DeviceLayer {
    pub attn_norm: wgpu::Buffer,
    pub q: DeviceMatrix,
    pub k: DeviceMatrix,
    pub v: DeviceMatrix,
    pub o: DeviceMatrix,
    pub ffn_norm: wgpu::Buffer,
    pub gate: DeviceMatrix,
    pub up: DeviceMatrix,
    pub down: DeviceMatrix,
}

impl DeviceLayer {
    pub fn matrices(&self) -> [&DeviceMatrix; 7] {
        [
            &self.q, &self.k, &self.v, &self.o, &self.gate, &self.up, &self.down,
        ]
    }
}

/// Every weight of the model on the device.
pub struct DeviceWeights {
    pub embedding: wgpu::Buffer,
    pub embedding_dtype: TableDtype,
    pub vocab: u32,
    pub hidden: u32,
    pub layers: Vec<DeviceLayer>,
    pub output_norm: wgpu::Buffer,
    pub output: DeviceMatrix,
}

impl DeviceWeights {
    pub fn upload(gpu: &Gpu, tensors: &ModelTensors<'_>) -> Result<Self> {
        let (embedding, embedding_dtype) = match tensors.embedding {
            EmbeddingData::F32(bytes) => (gpu.upload("token_embd", bytes)?, TableDtype::F32),
            EmbeddingData::F16(bytes) => (gpu.upload("token_embd", bytes)?, TableDtype::F16),
            EmbeddingData::Blocks(m) => (dequantized(gpu, &m)?, TableDtype::F32),
        };
        let layers = tensors
            .layers
            .iter()
            .map(|l| {
                let m = |m| DeviceMatrix::upload(gpu, m);
                Ok(DeviceLayer {
                    attn_norm: gpu.upload("attn_norm", &l.attn_norm)?,
                    q: m(&l.q)?,
                    k: m(&l.k)?,
                    v: m(&l.v)?,
                    o: m(&l.o)?,
                    ffn_norm: gpu.upload("ffn_norm", &l.ffn_norm)?,
                    gate: m(&l.gate)?,
                    up: m(&l.up)?,
                    down: m(&l.down)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            embedding,
            embedding_dtype,
            vocab: tensors.config.vocab,
            hidden: tensors.config.hidden,
            layers,
            output_norm: gpu.upload("output_norm", &tensors.output_norm)?,
            output: DeviceMatrix::upload(gpu, &tensors.output)?,
        })
    }

    /// The embedding as the gather kernel binds it.
    pub fn table(&self) -> Table<'_> {
        Table {
            data: Binding::whole(&self.embedding),
            vocab: self.vocab,
            cols: self.hidden,
        }
    }

    /// Every block format the matrices use (each needs a GEMV).
    pub fn formats(&self) -> Vec<Format> {
        let mut formats: Vec<Format> = self
            .layers
            .iter()
            .flat_map(|l| l.matrices().map(|m| m.format))
            .chain([self.output.format])
            .collect();
        formats.sort_by_key(|f| f.ggml_type());
        formats.dedup();
        formats
    }
}

/// A block-quantized table dequantized to f32 on the device.
fn dequantized(gpu: &Gpu, m: &Matrix<'_>) -> Result<wgpu::Buffer> {
    let blocks = gpu.upload("token_embd", m.data)?;
    let table = gpu.storage_buffer("token_embd_f32", u64::from(m.rows) * u64::from(m.cols) * 4)?;
    let mut encoder = gpu.encoder("dequantize token_embd");
    Dequantize::new(gpu, m.format)?.encode(
        &mut encoder,
        m.rows as usize,
        m.cols as usize,
        Binding::whole(&blocks),
        Binding::whole(&table),
    )?;
    gpu.submit_and_wait(encoder)?;
    Ok(table)
}
