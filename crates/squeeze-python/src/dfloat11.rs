//! `squeeze.dfloat11`: `decode`, the DF11 tensors of one unit to bfloat16, bit-exact, as
//! `squeeze run dfloat11-decode`; `encode`, bfloat16 weights to one unit with squeeze's encoder
//! (what `squeeze dfloat11 compress` writes per weight), so a unit can be made in memory; and
//! `compress` / `decompress`, the `squeeze dfloat11` file commands through `squeeze::files`.

use std::path::PathBuf;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyDictMethods};
use squeeze::dfloat11::{Decode, Layout, Unit, encode as run_encode};
use squeeze::files::FileError;
use squeeze::files::dfloat11::{self as files, Decompressed, Source};
use squeeze::files::paths::{Output, OutputKind};

use crate::device::{Device, resolve};
use crate::errors::{df11_to_py, file_to_py, invalid, to_py};
use crate::input::{Input, Kind, Named, typed};
use crate::output;
use crate::params::count;

/// The tensor names of one unit, in the DF11 checkpoint's spelling (without the `G.` prefix).
const TENSORS: [&str; 6] = [
    "luts",
    "encoded_exponent",
    "sign_mantissa",
    "output_positions",
    "gaps",
    "split_positions",
];

/// One unit's tensors from a dict: the five uint8 tensors (any shape; their bytes are what
/// counts) and optional int64 `split_positions` (checked, not applied).
struct UnitArrays<'py> {
    bytes: Vec<Named<'py, u8>>,
    split_positions: Vec<i64>,
}

impl<'py> UnitArrays<'py> {
    fn new(unit: &Bound<'py, PyDict>) -> PyResult<Self> {
        for key in unit.keys() {
            let key: String = key.extract()?;
            if !TENSORS.contains(&key.as_str()) {
                return Err(invalid("unit", "tensor name", TENSORS.join(" | "), key));
            }
        }
        let bytes = TENSORS[..5]
            .iter()
            .map(|&name| {
                let array = unit
                    .get_item(name)?
                    .ok_or_else(|| invalid(name, "tensor", "present in unit", "missing"))?;
                typed(name, &array, Kind::U8)
            })
            .collect::<PyResult<Vec<_>>>()?;
        let split_positions = match unit.get_item("split_positions")? {
            None => Vec::new(),
            Some(s) => typed::<i64>("split_positions", &s, Kind::I64)?
                .array()?
                .data
                .to_vec(),
        };
        Ok(Self {
            bytes,
            split_positions,
        })
    }

    fn unit(&self) -> PyResult<Unit<'_>> {
        let b = |i: usize| self.bytes[i].array().map(|a| a.data);
        Ok(Unit {
            luts: b(0)?,
            encoded_exponent: b(1)?,
            sign_mantissa: b(2)?,
            output_positions: b(3)?,
            gaps: b(4)?,
            split_positions: self.split_positions.clone(),
        })
    }
}

/// The weights of one DF11 unit (a dict of its tensors: `luts`, `encoded_exponent`,
/// `sign_mantissa`, `output_positions`, `gaps`, optional `split_positions`) decoded on the GPU,
/// bit-exact: `[n]` of dtype `ml_dtypes.bfloat16` when ml_dtypes is installed, else uint16 bit
/// patterns. `threads_per_block` and `bytes_per_thread` are the checkpoint's
/// `dfloat11_config` values.
#[pyfunction]
#[pyo3(signature = (unit, *, threads_per_block=512, bytes_per_thread=8, device=None))]
pub fn decode<'py>(
    py: Python<'py>,
    unit: &Bound<'py, PyDict>,
    threads_per_block: i64,
    bytes_per_thread: i64,
    device: Option<&Bound<'py, Device>>,
) -> PyResult<Bound<'py, PyAny>> {
    let layout = Layout {
        threads_per_block: count("threads_per_block", threads_per_block)?,
        bytes_per_thread: count("bytes_per_thread", bytes_per_thread)?,
    };
    let arrays = UnitArrays::new(unit)?;
    let checked = arrays
        .unit()?
        .validate("unit", layout)
        .map_err(df11_to_py)?;
    let gpu = resolve(py, device)?;
    let bits = py
        .detach(|| Decode::new(&gpu, layout)?.run(&checked))
        .map_err(df11_to_py)?;
    let n = bits.len();
    output::bf16(py, bits, &[n], output::has_ml_dtypes(py))
}

/// bfloat16 weights (`ml_dtypes.bfloat16`, or uint16 bit patterns; any shape, read in C order)
/// as one DF11 unit: a dict of NumPy arrays with the names `decode` takes (uint8 tensors and
/// int64 `split_positions`), encoded with `threads` CPU threads (default: all cores).
#[pyfunction]
#[pyo3(signature = (w, *, threads_per_block=512, threads=None))]
pub fn encode<'py>(
    py: Python<'py>,
    w: &Bound<'py, PyAny>,
    threads_per_block: i64,
    threads: Option<i64>,
) -> PyResult<Bound<'py, PyDict>> {
    let layout = Layout {
        threads_per_block: count("threads_per_block", threads_per_block)?,
        ..Layout::DF11
    };
    let threads = match threads {
        Some(t) => count("threads", t)?,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let w = Input::new("w", w, &[Kind::Bf16, Kind::Bf16Bits])?.typed::<u16>()?;
    let bits = w.array()?.data;
    let bytes: &[u8] = bytemuck::cast_slice(bits);
    let encoded = py
        .detach(|| run_encode(&[bytes], layout, threads.max(1)))
        .map_err(df11_to_py)?;
    let unit = PyDict::new(py);
    for (name, bytes) in [
        ("luts", encoded.luts),
        ("encoded_exponent", encoded.encoded_exponent),
        ("sign_mantissa", encoded.sign_mantissa),
        ("output_positions", encoded.output_positions),
        ("gaps", encoded.gaps),
    ] {
        let n = bytes.len();
        unit.set_item(name, output::array(py, bytes, &[n])?)?;
    }
    let n = encoded.split_positions.len();
    unit.set_item(
        "split_positions",
        output::array(py, encoded.split_positions, &[n])?,
    )?;
    Ok(unit)
}

/// A BF16 safetensors file, or a model folder of shards, compressed into the folder `out`:
/// `format="df11"` a DF11 checkpoint the reference `dfloat11` loader reads, `"native"` squeeze's
/// native files. `src` may also be a DF11 folder or native files (decoded by the CPU reference
/// first, so the formats convert losslessly). A model folder's config and tokenizer files are
/// copied. `out` must be new or an empty folder (or `force`). Returns a summary dict.
#[pyfunction]
#[pyo3(signature = (src, out, format="df11", *, force=false, threads=None))]
pub fn compress<'py>(
    py: Python<'py>,
    src: PathBuf,
    out: PathBuf,
    format: &str,
    force: bool,
    threads: Option<i64>,
) -> PyResult<Bound<'py, PyDict>> {
    let format = match format {
        "df11" => files::Format::Df11,
        "native" => files::Format::Native,
        other => {
            return Err(invalid(
                "format",
                "name",
                "df11 | native",
                format!("`{other}`"),
            ));
        }
    };
    let threads = match threads {
        Some(t) => count("threads", t)?,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let mut notes = Vec::new();
    let done = py
        .detach(|| -> Result<_, FileError> {
            let source = Source::detect("src", &src)?;
            let output = Output::new("out", &out, OutputKind::Folder, force)?;
            let note = |n| notes.push(n);
            files::compress(
                &src,
                &source,
                output,
                format,
                threads.max(1),
                |_, _| {},
                note,
            )
        })
        .map_err(file_to_py)?;
    let r = &done.report;
    let summary = PyDict::new(py);
    summary.set_item("units", r.units)?;
    summary.set_item("weights", r.weights)?;
    summary.set_item("input_bytes", r.input_bytes)?;
    summary.set_item("stored_bytes", r.stored_bytes)?;
    summary.set_item("passthrough_bytes", r.passthrough_bytes)?;
    summary.set_item("copied", &done.companions.copied)?;
    summary.set_item("not_copied", &done.companions.skipped)?;
    summary.set_item("notes", notes)?;
    Ok(summary)
}

/// A DF11 checkpoint folder, or a native file or folder of them (detected), decompressed into
/// the BF16 safetensors file `out` with the original tensor names, on the GPU (or the CPU
/// reference with `cpu`). DF11 stores no shapes: they come from `shapes` (the original
/// safetensors file or its index JSON), squeeze's own metadata, or config.json for LLaMA-style
/// models, else weights are written 1-D (listed under `"flat"`). Returns a summary dict.
#[pyfunction]
#[pyo3(signature = (src, out, *, force=false, cpu=false, shapes=None, device=None))]
pub fn decompress<'py>(
    py: Python<'py>,
    src: PathBuf,
    out: PathBuf,
    force: bool,
    cpu: bool,
    shapes: Option<PathBuf>,
    device: Option<&Bound<'py, Device>>,
) -> PyResult<Bound<'py, PyDict>> {
    // Paths first, as the command checks them: a bad path is named even without a device.
    let source = Source::compressed("src", &src).map_err(file_to_py)?;
    let output = Output::new("out", &out, OutputKind::File, force).map_err(to_py)?;
    let gpu = if cpu {
        None
    } else {
        Some(resolve(py, device)?)
    };
    // `decompress_to` opens the device only when `cpu` is false, when `gpu` is set.
    let open = || {
        gpu.clone()
            .ok_or_else(|| squeeze::Error::invalid("cpu", "value", "false to use a device", "true"))
    };
    let (done, on) = py
        .detach(|| {
            files::decompress_to(
                &src,
                &source,
                output,
                cpu,
                open,
                shapes.as_deref(),
                |_, _| {},
            )
        })
        .map_err(file_to_py)?;
    let summary = PyDict::new(py);
    summary.set_item("on", on)?;
    match done {
        Decompressed::Df11(r) => {
            summary.set_item("format", "df11")?;
            summary.set_item("units", r.units)?;
            summary.set_item("weights", r.weights)?;
            summary.set_item("compressed_bytes", r.compressed_bytes)?;
            summary.set_item("passthrough_bytes", r.passthrough_bytes)?;
            summary.set_item("output_bytes", r.output_bytes)?;
            summary.set_item("flat", r.flat)?;
        }
        Decompressed::Native {
            files,
            weights,
            written,
        } => {
            summary.set_item("format", "native")?;
            summary.set_item("files", files)?;
            summary.set_item("weights", weights)?;
            summary.set_item("output_bytes", written)?;
        }
    }
    Ok(summary)
}

/// The `squeeze.dfloat11` submodule.
pub fn module(py: Python<'_>) -> PyResult<Bound<'_, PyModule>> {
    let m = PyModule::new(py, "dfloat11")?;
    m.add_function(wrap_pyfunction!(decode, &m)?)?;
    m.add_function(wrap_pyfunction!(encode, &m)?)?;
    m.add_function(wrap_pyfunction!(compress, &m)?)?;
    m.add_function(wrap_pyfunction!(decompress, &m)?)?;
    Ok(m)
}
