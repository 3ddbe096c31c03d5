//! `squeeze.gguf.dequantize`: every tensor of a GGUF file to f32 safetensors, as
//! `squeeze gguf dequantize`: the same path policy (the input must be a GGUF file; an existing
//! output is refused unless `force`; written to a hidden temporary and renamed on success) and
//! the same writer.

use std::path::PathBuf;

use pyo3::prelude::*;
use pyo3::types::PyDict;
use squeeze::files::FileError;
use squeeze::files::gguf::{select, write_f32};
use squeeze::files::paths::{self, Kind, Output, OutputKind};
use squeeze::quant::gguf::{F32Converter, GgufFile};

use crate::device::{Device, resolve};
use crate::errors::file_to_py;

/// Every tensor of the GGUF file `path` to float32 in the safetensors file `out`, with the same
/// names and shapes (outermost first); block-quantized tensors are dequantized on the GPU,
/// f32/f16/bf16 converted exactly on the host. A tensor of a type squeeze cannot convert yet is
/// a `ValueError` naming it, unless `skip_unsupported` leaves it out. Returns
/// `{"tensors": written, "dequantized": on the GPU, "skipped": [names]}`.
#[pyfunction]
#[pyo3(signature = (path, out, *, force=false, skip_unsupported=false, device=None))]
pub fn dequantize<'py>(
    py: Python<'py>,
    path: PathBuf,
    out: PathBuf,
    force: bool,
    skip_unsupported: bool,
    device: Option<&Bound<'py, Device>>,
) -> PyResult<Bound<'py, PyDict>> {
    let run = || -> Result<_, FileError> {
        paths::input("path", &path, Kind::Gguf)?;
        let output = Output::new("out", &out, OutputKind::File, force)?;
        let gguf = GgufFile::open(&path)?;
        Ok((output, gguf))
    };
    let (output, gguf) = run().map_err(file_to_py)?;
    let selection = select(&gguf, skip_unsupported).map_err(file_to_py)?;
    let gpu = resolve(py, device)?;
    let tensors = &selection.tensors;
    py.detach(|| -> Result<(), FileError> {
        write_f32(&F32Converter::new(&gpu), tensors, output.path(), |_, _| {})?;
        Ok(output.commit()?)
    })
    .map_err(file_to_py)?;
    let summary = PyDict::new(py);
    summary.set_item("tensors", tensors.len())?;
    let quantized = tensors
        .iter()
        .filter(|t| t.ggml_type.format().is_some())
        .count();
    summary.set_item("dequantized", quantized)?;
    let skipped: Vec<&str> = selection.skipped.iter().map(|(n, _)| n.as_str()).collect();
    summary.set_item("skipped", skipped)?;
    Ok(summary)
}

/// The `squeeze.gguf` submodule.
pub fn module(py: Python<'_>) -> PyResult<Bound<'_, PyModule>> {
    let m = PyModule::new(py, "gguf")?;
    m.add_function(wrap_pyfunction!(dequantize, &m)?)?;
    Ok(m)
}
