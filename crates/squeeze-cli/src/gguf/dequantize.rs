//! `squeeze gguf dequantize FILE.gguf -o OUT.safetensors`: every tensor of a GGUF file to f32
//! with the same names, quantized blocks dequantized on the GPU.
//!
//! The safetensors file is written here rather than through the `safetensors` crate's
//! serializer, which needs every tensor's bytes in memory at once: the header is known from the
//! GGUF tensor infos alone, so tensors stream to disk one dispatch chunk at a time and a model
//! larger than RAM converts. Output goes to a temporary beside `OUT` (see [`crate::paths`]) and
//! is renamed only on success.

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Map, Value as Json, json};
use squeeze::quant::gguf::{F32Converter, GgufError, GgufFile, Tensor};
use squeeze::{Gpu, GpuOptions};

use crate::paths;

/// Converts `file` to `output`; see the module doc.
pub fn run(
    options: GpuOptions,
    file: &Path,
    output: paths::Output,
    skip_unsupported: bool,
) -> Result<(), Box<dyn std::error::Error>> {
    let gguf = GgufFile::open(file)?;
    let mut tensors = Vec::new();
    for t in gguf.tensors() {
        if t.name == "__metadata__" {
            return Err("tensor `__metadata__`: the name is reserved in safetensors files".into());
        }
        if t.ggml_type.to_f32().is_some() {
            tensors.push(t);
        } else if skip_unsupported {
            eprintln!(
                "skipping tensor `{}`: {} is not supported yet",
                t.name, t.ggml_type
            );
        } else {
            return Err(GgufError::Unsupported {
                tensor: t.name.into(),
                ggml_type: t.ggml_type.to_string(),
                op: "convert to f32",
            }
            .into());
        }
    }
    let gpu = Gpu::new(options)?;
    let converter = F32Converter::new(&gpu);

    write_safetensors(&converter, &tensors, output.path())?;
    let target = output.target().to_path_buf();
    output.commit()?;
    let quantized = tensors
        .iter()
        .filter(|t| t.ggml_type.format().is_some())
        .count();
    println!(
        "wrote {} tensors to {} ({quantized} dequantized on {}, {} converted on the host)",
        tensors.len(),
        target.display(),
        gpu.info().name,
        tensors.len() - quantized
    );
    Ok(())
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

fn write_safetensors(
    converter: &F32Converter,
    tensors: &[Tensor<'_>],
    path: &Path,
) -> Result<(), Box<dyn std::error::Error>> {
    let io = |e: std::io::Error| format!("{}: {e}", path.display());
    let mut out = BufWriter::new(File::create(path).map_err(io)?);
    let header = header(tensors);
    out.write_all(&(header.len() as u64).to_le_bytes())
        .map_err(io)?;
    out.write_all(&header).map_err(io)?;

    let total: u64 = tensors
        .iter()
        .map(|t| t.dims.iter().product::<u64>() * 4)
        .sum();
    let bar = if std::io::stderr().is_terminal() {
        ProgressBar::new(total).with_style(
            ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {eta} {msg}")
                .expect("the template is valid"),
        )
    } else {
        ProgressBar::hidden()
    };
    for t in tensors {
        bar.set_message(t.name.to_string());
        converter.convert(t, |chunk| {
            for v in chunk {
                out.write_all(&v.to_le_bytes()).map_err(|e| GgufError::Io {
                    path: path.to_owned(),
                    source: e,
                })?;
            }
            bar.inc(chunk.len() as u64 * 4);
            Ok(())
        })?;
    }
    out.flush().map_err(io)?;
    bar.finish_and_clear();
    Ok(())
}
