//! Tensors of a GGUF file to f32, row-major. Block-quantized tensors are dequantized on the GPU
//! with [`Dequantize`], split by rows into as many dispatches as the device's binding limit
//! needs (a 4096 × 151936 embedding does not fit one 128 MiB binding); f32, f16 and bf16 are
//! converted exactly on the host, where the conversion is a copy or a bit shift and a GPU round
//! trip would only add transfers.

use half::{bf16, f16};
use squeeze_core::Gpu;

use crate::dequant::Dequantize;
use crate::gguf::Tensor;
use crate::gguf::error::GgufError;
use crate::gguf::ggml_type::ToF32;
use crate::gguf::row_chunks;

/// Elements converted per host chunk, so a huge plain tensor streams in bounded memory.
const HOST_CHUNK: usize = 1 << 20;

/// Converts GGUF tensors to f32 on one device.
pub struct F32Converter {
    gpu: Gpu,
    max_chunk_bytes: u64,
}

impl F32Converter {
    /// Chunks as large as one binding allows ([`row_chunks::device_limit`]).
    pub fn new(gpu: &Gpu) -> Self {
        Self {
            gpu: gpu.clone(),
            max_chunk_bytes: row_chunks::device_limit(gpu),
        }
    }

    /// Caps each dispatch's input and output at `bytes` (at most the device limit): tests use
    /// it to exercise the row split on small tensors.
    pub fn with_max_chunk_bytes(mut self, bytes: u64) -> Self {
        self.max_chunk_bytes = self.max_chunk_bytes.min(bytes);
        self
    }

    /// How many rows of `tensor` one dispatch converts: as many as fit the chunk limit both as
    /// quantized input and as f32 output.
    pub fn rows_per_dispatch(&self, tensor: &Tensor<'_>) -> Result<u64, GgufError> {
        let row_in = tensor.data.len() as u64 / tensor.rows();
        let row_out = tensor.row_len() * 4;
        row_chunks::rows_per_dispatch(tensor, row_in.max(row_out), self.max_chunk_bytes)
    }

    /// Converts `tensor`, handing its f32 values to `sink` in row order, a chunk at a time.
    pub fn convert(
        &self,
        tensor: &Tensor<'_>,
        mut sink: impl FnMut(&[f32]) -> Result<(), GgufError>,
    ) -> Result<(), GgufError> {
        let unsupported = || GgufError::Unsupported {
            tensor: tensor.name.into(),
            ggml_type: tensor.ggml_type.to_string(),
            op: "convert to f32",
        };
        match tensor.ggml_type.to_f32().ok_or_else(unsupported)? {
            ToF32::F32 => host(tensor.data, 4, &mut sink, |b| {
                f32::from_le_bytes([b[0], b[1], b[2], b[3]])
            }),
            ToF32::F16 => host(tensor.data, 2, &mut sink, |b| {
                f16::from_le_bytes([b[0], b[1]]).to_f32()
            }),
            ToF32::Bf16 => host(tensor.data, 2, &mut sink, |b| {
                bf16::from_le_bytes([b[0], b[1]]).to_f32()
            }),
            ToF32::Dequantize(format) => {
                let device = |source| GgufError::Kernel {
                    tensor: tensor.name.into(),
                    source,
                };
                let dequantize = Dequantize::new(&self.gpu, format).map_err(device)?;
                let cols = tensor.row_len() as usize;
                let row_bytes = tensor.data.len() / tensor.rows() as usize;
                let chunk = self.rows_per_dispatch(tensor)? as usize * row_bytes;
                for blocks in tensor.data.chunks(chunk) {
                    sink(&dequantize.run(blocks, cols).map_err(device)?)?;
                }
                Ok(())
            }
        }
    }

    /// Converts `tensor` into one vector.
    pub fn to_vec(&self, tensor: &Tensor<'_>) -> Result<Vec<f32>, GgufError> {
        let mut out = Vec::with_capacity(tensor.dims.iter().product::<u64>() as usize);
        self.convert(tensor, |chunk| {
            out.extend_from_slice(chunk);
            Ok(())
        })?;
        Ok(out)
    }
}

fn host(
    data: &[u8],
    size: usize,
    sink: &mut impl FnMut(&[f32]) -> Result<(), GgufError>,
    decode: impl Fn(&[u8]) -> f32,
) -> Result<(), GgufError> {
    for bytes in data.chunks(HOST_CHUNK * size) {
        let values: Vec<f32> = bytes.chunks_exact(size).map(&decode).collect();
        sink(&values)?;
    }
    Ok(())
}
