//! Native safetensors files: writing BF16 safetensors (or a DF11 checkpoint) as native files,
//! and reading them back to plain BF16.
//!
//! A native file is a safetensors file whose `__metadata__` holds [`METADATA_KEY`] (JSON:
//! `version`, the layout constants, and `weights` {name → shape}); each listed weight `W` is
//! stored as the tensors `W.lengths`, `W.exponents`, `W.sign_mantissa`, `W.tile_offsets`,
//! `W.chunk_offsets` (see [`crate::native`]); every other tensor passes through unchanged.
//! Compressed are the BF16 tensors of at least two dimensions and one element, as a matrix
//! [product of the leading dimensions, last dimension].

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Instant;

use safetensors::Dtype;
use safetensors::tensor::TensorView;
use serde_json::{Value, json};

use crate::checkpoint::{TensorFile, safetensors_files};
use crate::compress::{Report, nothing_to_compress, prepare_output, view, write_file};
use crate::error::{Df11Error, Result};
use crate::native::decode::NativeDecode;
use crate::native::format::NativeUnit;
use crate::native::{
    CHUNK_SYMBOLS, TILE_CHUNKS, VERSION, encode, huffman::MAX_CODE_BITS, reference,
};

/// The `__metadata__` key that marks a native file.
pub const METADATA_KEY: &str = "squeeze_native";
/// The stored tensors of one weight, by suffix.
pub const TENSORS: [&str; 5] = [
    "lengths",
    "exponents",
    "sign_mantissa",
    "tile_offsets",
    "chunk_offsets",
];

/// Whether `path` is a safetensors file carrying the native metadata key.
pub fn is_native(path: &Path) -> Result<bool> {
    Ok(TensorFile::open(path)?
        .metadata()
        .is_some_and(|m| m.contains_key(METADATA_KEY)))
}

/// The native header of `file`: the weights and their shapes, after checking the version and
/// the layout constants.
pub fn header(file: &TensorFile) -> Result<BTreeMap<String, Vec<usize>>> {
    let bad = |problem: String| Df11Error::Config {
        path: file.path.clone(),
        key: format!("__metadata__.{METADATA_KEY}"),
        problem,
    };
    let text = file
        .metadata()
        .and_then(|m| m.get(METADATA_KEY))
        .ok_or_else(|| bad("is missing: not a native file".into()))?;
    let value: Value = serde_json::from_str(text).map_err(|e| bad(format!("is not JSON: {e}")))?;
    for (key, want) in [
        ("version", u64::from(VERSION)),
        ("chunk_symbols", CHUNK_SYMBOLS as u64),
        ("tile_chunks", TILE_CHUNKS as u64),
        ("max_code_bits", u64::from(MAX_CODE_BITS)),
    ] {
        let got = value.get(key).and_then(Value::as_u64);
        if got != Some(want) {
            return Err(bad(format!(
                "`{key}` must be {want} (native format version {VERSION}), got {}",
                value.get(key).map_or("nothing".into(), Value::to_string)
            )));
        }
    }
    serde_json::from_value(value.get("weights").cloned().unwrap_or(Value::Null))
        .map_err(|e| bad(format!("`weights` must map names to shapes: {e}")))
}

/// The native unit of weight `name` with `shape` in `file`.
pub fn unit<'a>(file: &'a TensorFile, name: &str, shape: &[usize]) -> Result<NativeUnit<'a>> {
    let tensor = |suffix: &str, dtype: Dtype| -> Result<&'a [u8]> {
        let full = format!("{name}.{suffix}");
        let (got, _, data) = file.tensor(&full).ok_or_else(|| Df11Error::Checkpoint {
            path: file.path.clone(),
            what: format!("native weight `{name}` has no tensor `{full}`"),
        })?;
        if got != dtype {
            return Err(Df11Error::Checkpoint {
                path: file.path.clone(),
                what: format!("tensor `{full}` must be {dtype:?}, got {got:?}"),
            });
        }
        Ok(data)
    };
    let (rows, cols) = matrix(shape).ok_or_else(|| Df11Error::Weight {
        name: name.to_string(),
        what: format!("shape {shape:?} holds more values than this machine can address"),
    })?;
    Ok(NativeUnit {
        rows,
        cols,
        lengths: tensor("lengths", Dtype::U8)?,
        exponents: tensor("exponents", Dtype::U32)?,
        sign_mantissa: tensor("sign_mantissa", Dtype::U8)?,
        tile_offsets: tensor("tile_offsets", Dtype::U32)?,
        chunk_offsets: tensor("chunk_offsets", Dtype::U16)?,
    })
}

/// A shape as a matrix: [product of the leading dimensions, last dimension] (a vector is one
/// row); `None` when the element count overflows (a corrupt header).
pub fn matrix(shape: &[usize]) -> Option<(usize, usize)> {
    let (rows, cols) = match shape.split_last() {
        None => (1, 1),
        Some((&cols, lead)) => (
            lead.iter().try_fold(1usize, |a, &d| a.checked_mul(d))?,
            cols,
        ),
    };
    rows.checked_mul(cols)?;
    Some((rows, cols))
}

/// What the native compressor encodes, for errors.
const NATIVE_UNITS: &str = "BF16 tensor with at least 2 dimensions";

/// Whether a tensor is one the native format encodes: a non-empty BF16 matrix (or more).
fn compresses(dtype: Dtype, shape: &[usize], data: &[u8]) -> bool {
    dtype == Dtype::BF16 && shape.len() >= 2 && !data.is_empty()
}

/// Writes each BF16 safetensors file of `inputs` as a native file of the same name in
/// `out_dir` (created; it must hold no safetensors file yet).
pub fn compress(
    inputs: &[PathBuf],
    out_dir: &Path,
    threads: usize,
    mut progress: impl FnMut(u64, u64),
) -> Result<Report> {
    let files = inputs
        .iter()
        .map(|p| TensorFile::open(p))
        .collect::<Result<Vec<_>>>()?;
    let compressible = |f: &TensorFile| {
        f.names().iter().any(|n| {
            let (dtype, shape, data) = f.tensor(n).expect("listed");
            compresses(dtype, shape, data)
        })
    };
    if !files.iter().any(compressible) {
        let path = inputs.first().map_or(out_dir, |p| p.as_path());
        return Err(nothing_to_compress(path, &files, NATIVE_UNITS));
    }
    prepare_output(out_dir)?;
    let total: u64 = files
        .iter()
        .flat_map(|f| {
            f.names()
                .into_iter()
                .map(move |n| f.tensor(&n).expect("listed").2.len() as u64)
        })
        .sum();
    let mut done = 0;
    progress(done, total);
    let mut report = Report::default();
    for f in &files {
        let mut encoded = Vec::new();
        let mut passthrough = Vec::new();
        for name in f.names() {
            let (dtype, shape, data) = f.tensor(&name).expect("listed");
            if compresses(dtype, shape, data) {
                let (rows, cols) = matrix(shape).ok_or_else(|| Df11Error::Weight {
                    name: name.clone(),
                    what: format!("shape {shape:?} overflows"),
                })?;
                let values: Vec<u16> = data
                    .chunks_exact(2)
                    .map(|b| u16::from_le_bytes([b[0], b[1]]))
                    .collect();
                let started = Instant::now();
                let e = encode(&values, rows, cols, threads)?;
                report.encode_seconds += started.elapsed().as_secs_f64();
                report.units += 1;
                report.weights += values.len() as u64;
                report.input_bytes += data.len() as u64;
                report.stored_bytes += e.stored_bytes();
                encoded.push((name, shape.to_vec(), e));
            } else {
                report.passthrough_bytes += data.len() as u64;
                passthrough.push((name, dtype, shape.to_vec(), data));
            }
            done += data.len() as u64;
            progress(done, total);
        }
        let weights: BTreeMap<&str, &[usize]> = encoded
            .iter()
            .map(|(n, s, _)| (n.as_str(), s.as_slice()))
            .collect();
        let meta = json!({
            "version": VERSION,
            "chunk_symbols": CHUNK_SYMBOLS,
            "tile_chunks": TILE_CHUNKS,
            "max_code_bits": MAX_CODE_BITS,
            "weights": weights,
        });
        let mut views: Vec<(String, TensorView<'_>)> = Vec::new();
        for (name, _, e) in &encoded {
            let u = e.unit();
            let stored: [(&[u8], Dtype, usize); 5] = [
                (u.lengths, Dtype::U8, 1),
                (u.exponents, Dtype::U32, 4),
                (u.sign_mantissa, Dtype::U8, 1),
                (u.tile_offsets, Dtype::U32, 4),
                (u.chunk_offsets, Dtype::U16, 2),
            ];
            for (suffix, (data, dtype, size)) in TENSORS.iter().zip(stored) {
                views.push((
                    format!("{name}.{suffix}"),
                    view(dtype, vec![data.len() / size], data)?,
                ));
            }
        }
        for (name, dtype, shape, data) in passthrough {
            views.push((name, view(dtype, shape, data)?));
        }
        let file_name = f.path.file_name().expect("a file").to_owned();
        let metadata = HashMap::from([(METADATA_KEY.to_string(), meta.to_string())]);
        write_file(&out_dir.join(file_name), views, metadata)?;
    }
    Ok(report)
}

/// Which decoder reads native units back.
pub enum NativeDecoder<'a> {
    /// The CPU reference (also checks every chunk against its offsets).
    Cpu,
    Gpu(&'a NativeDecode),
}

/// Native files `inputs` → one plain safetensors file `out`: every native weight decoded to BF16
/// with its shape, every other tensor copied. Returns (weights decoded, bytes written).
pub fn decompress(
    inputs: &[PathBuf],
    out: &Path,
    decoder: NativeDecoder<'_>,
    mut progress: impl FnMut(u64, u64),
) -> Result<(u64, u64)> {
    let files = inputs
        .iter()
        .map(|p| TensorFile::open(p))
        .collect::<Result<Vec<_>>>()?;
    let headers = files.iter().map(header).collect::<Result<Vec<_>>>()?;
    let total = files.len() as u64;
    let mut decoded: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    let mut passthrough = Vec::new();
    let mut weights = 0u64;
    for (i, (f, weights_of)) in files.iter().zip(&headers).enumerate() {
        for (name, shape) in weights_of {
            let c = unit(f, name, shape)?.validate(name)?;
            let values = match decoder {
                NativeDecoder::Cpu => reference::decode_checked(&c, name)?,
                NativeDecoder::Gpu(d) => d.run(&c)?,
            };
            weights += values.len() as u64;
            let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
            decoded.push((name.clone(), shape.clone(), bytes));
        }
        for name in f.names() {
            let stored = name
                .rsplit_once('.')
                .is_some_and(|(w, s)| weights_of.contains_key(w) && TENSORS.contains(&s));
            if !stored {
                passthrough.push((i, name));
            }
        }
        progress(i as u64 + 1, total);
    }
    let mut views: Vec<(String, TensorView<'_>)> = Vec::new();
    for (name, shape, bytes) in &decoded {
        views.push((name.clone(), view(Dtype::BF16, shape.clone(), bytes)?));
    }
    for (i, name) in passthrough {
        let (dtype, shape, data) = files[i].tensor(&name).expect("listed");
        views.push((name, view(dtype, shape.to_vec(), data)?));
    }
    let mut seen = std::collections::HashSet::new();
    if let Some((name, _)) = views.iter().find(|(n, _)| !seen.insert(n.clone())) {
        return Err(Df11Error::Weight {
            name: name.clone(),
            what: "appears twice in the native files".into(),
        });
    }
    write_file(out, views, HashMap::new())?;
    let written = std::fs::metadata(out)
        .map_err(|e| Df11Error::io(out, e))?
        .len();
    Ok((weights, written))
}

/// The safetensors files of `input` (a file, or every one in a folder).
pub fn inputs(input: &Path) -> Result<Vec<PathBuf>> {
    if input.is_dir() {
        safetensors_files(input)
    } else {
        Ok(vec![input.to_path_buf()])
    }
}
