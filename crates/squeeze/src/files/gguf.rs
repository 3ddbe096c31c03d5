//! Every tensor of a GGUF file to f32 in one safetensors file with the same names, quantized
//! blocks dequantized on the GPU (`squeeze gguf dequantize`, Python's `squeeze.gguf.dequantize`).
//!
//! The safetensors file is written here rather than through the `safetensors` crate's
//! serializer, which needs every tensor's bytes in memory at once: the header is known from the
//! GGUF tensor infos alone, so tensors stream to disk one dispatch chunk at a time and a model
//! larger than RAM converts.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use serde_json::{Map, Value as Json, json};

use super::FileError;
use crate::Error;
use crate::quant::gguf::{F32Converter, GgufError, GgufFile, Tensor};

/// The tensors a conversion writes, and those it leaves out.
pub struct Selection<'a> {
    pub tensors: Vec<Tensor<'a>>,
    /// `(name, ggml type)` of each tensor left out as unsupported.
    pub skipped: Vec<(String, String)>,
}

/// The tensors of `gguf` that convert to f32, checked before any work: a tensor of a type
/// squeeze cannot convert yet is an error naming it, unless `skip_unsupported` leaves it out.
pub fn select<'a>(gguf: &'a GgufFile, skip_unsupported: bool) -> Result<Selection<'a>, FileError> {
    let mut selection = Selection {
        tensors: Vec::new(),
        skipped: Vec::new(),
    };
    for t in gguf.tensors() {
        if t.name == "__metadata__" {
            return Err(Error::invalid(
                "FILE",
                "tensor name",
                "not `__metadata__` (the name is reserved in safetensors files)",
                "`__metadata__`",
            )
            .into());
        }
        if t.ggml_type.to_f32().is_some() {
            selection.tensors.push(t);
        } else if skip_unsupported {
            selection
                .skipped
                .push((t.name.to_string(), t.ggml_type.to_string()));
        } else {
            return Err(GgufError::Unsupported {
                tensor: t.name.into(),
                ggml_type: t.ggml_type.to_string(),
                op: "convert to f32",
            }
            .into());
        }
    }
    Ok(selection)
}

/// Bytes the f32 copies of `tensors` take.
pub fn f32_bytes(tensors: &[Tensor<'_>]) -> u64 {
    tensors
        .iter()
        .map(|t| t.dims.iter().product::<u64>() * 4)
        .sum()
}

/// The safetensors header for f32 copies of `tensors`, laid out back to back in order.
fn header(tensors: &[Tensor<'_>]) -> Vec<u8> {
    let mut map = Map::new();
    let mut offset = 0u64;
    for t in tensors {
        let bytes = t.dims.iter().product::<u64>() * 4;
        map.insert(
            t.name.into(),
            json!({ "dtype": "F32", "shape": t.shape(), "data_offsets": [offset, offset + bytes] }),
        );
        offset += bytes;
    }
    let mut header = Json::Object(map).to_string().into_bytes();
    // The data must start 8-byte aligned; safetensors pads the header with spaces.
    header.resize(header.len().next_multiple_of(8), b' ');
    header
}

/// Streams f32 copies of `tensors` into a new safetensors file at `path`; `progress` is told
/// each tensor's name and the bytes of every chunk written.
pub fn write_f32(
    converter: &F32Converter,
    tensors: &[Tensor<'_>],
    path: &Path,
    mut progress: impl FnMut(&str, u64),
) -> Result<(), FileError> {
    let io = |source: std::io::Error| GgufError::Io {
        path: path.to_owned(),
        source,
    };
    let mut out = BufWriter::new(File::create(path).map_err(io)?);
    let header = header(tensors);
    out.write_all(&(header.len() as u64).to_le_bytes())
        .map_err(io)?;
    out.write_all(&header).map_err(io)?;
    for t in tensors {
        converter.convert(t, |chunk| {
            for v in chunk {
                out.write_all(&v.to_le_bytes()).map_err(io)?;
            }
            progress(t.name, chunk.len() as u64 * 4);
            Ok(())
        })?;
    }
    out.flush().map_err(io)?;
    Ok(())
}
