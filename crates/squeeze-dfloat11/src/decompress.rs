//! A DF11 checkpoint folder → one plain safetensors file: every unit decoded (GPU or CPU) and cut
//! into its weights with their original names and shapes, every other tensor copied through.
//! The output is streamed: the header is computed from the units' sizes first, then one unit at
//! a time is decoded and written.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use safetensors::Dtype;
use serde_json::Value;

use crate::checkpoint::Checkpoint;
use crate::decode::Decode;
use crate::error::{Df11Error, Result};
use crate::reference;
use crate::shapes::{self, ShapeMap, ShapeSource};

/// Which decoder runs.
pub enum Decoder<'a> {
    /// The CPU reference (also checks the stream against its gaps and positions).
    Cpu,
    Gpu(&'a Decode),
}

/// What a decompression did.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub units: usize,
    /// BF16 weights decoded.
    pub weights: u64,
    /// Bytes of the units' DF11 tensors.
    pub compressed_bytes: u64,
    /// Bytes of pass-through tensors.
    pub passthrough_bytes: u64,
    /// Size of the written file.
    pub output_bytes: u64,
    /// Weights written 1-D because no shape was found.
    pub flat: Vec<String>,
}

struct Entry {
    name: String,
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: u64,
}

/// Decodes `checkpoint` into the safetensors file `out`. `given` shapes win over recorded and
/// derived ones; `progress(done, total)` is told the bytes written so far.
pub fn decompress(
    checkpoint: &Checkpoint,
    out: &Path,
    given: &ShapeMap,
    decoder: Decoder<'_>,
    mut progress: impl FnMut(u64, u64),
) -> Result<Report> {
    let layout = checkpoint.config.layout;
    let mut report = Report::default();
    let mut entries = Vec::new();
    let mut checked = Vec::new();
    for unit in &checkpoint.units {
        let c = checkpoint.unit(unit).validate(&unit.group, layout)?;
        if c.unit.split_positions.len() + 1 != unit.weights.len() {
            return Err(Df11Error::tensor(
                &unit.group,
                "split_positions",
                "length",
                format!(
                    "{} (one cut between each of the weights {:?})",
                    unit.weights.len() - 1,
                    unit.weights
                ),
                c.unit.split_positions.len(),
            ));
        }
        let mut start = 0usize;
        let ends = c
            .unit
            .split_positions
            .iter()
            .map(|&s| s as usize)
            .chain([c.n]);
        for (name, end) in unit.weights.iter().zip(ends) {
            let count = end - start;
            start = end;
            let (shape, source) = shapes::resolve(
                name,
                count,
                given,
                &checkpoint.recorded_shapes,
                &checkpoint.config_json,
            )?;
            if source == ShapeSource::Flat {
                report.flat.push(name.clone());
            }
            entries.push(Entry {
                name: name.clone(),
                dtype: Dtype::BF16,
                shape,
                bytes: 2 * count as u64,
            });
        }
        report.units += 1;
        report.weights += c.n as u64;
        report.compressed_bytes += [
            c.unit.luts,
            c.unit.encoded_exponent,
            c.unit.sign_mantissa,
            c.unit.output_positions,
            c.unit.gaps,
        ]
        .iter()
        .map(|t| t.len() as u64)
        .sum::<u64>()
            + 8 * c.unit.split_positions.len() as u64;
        checked.push(c);
    }
    for r in &checkpoint.passthrough {
        let (dtype, shape, bytes) = checkpoint.passthrough_tensor(r);
        report.passthrough_bytes += bytes.len() as u64;
        entries.push(Entry {
            name: r.name.clone(),
            dtype,
            shape: shape.to_vec(),
            bytes: bytes.len() as u64,
        });
    }
    let header = header(&entries)?;
    let total: u64 = entries.iter().map(|e| e.bytes).sum();
    let file = File::create(out).map_err(|e| Df11Error::io(out, e))?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    let io = |e| Df11Error::io(out, e);
    w.write_all(&(header.len() as u64).to_le_bytes())
        .map_err(io)?;
    w.write_all(&header).map_err(io)?;
    let mut done = 0u64;
    progress(done, total);
    for (c, unit) in checked.iter().zip(&checkpoint.units) {
        let values = match decoder {
            Decoder::Cpu => reference::decode_checked(c, &unit.group)?,
            Decoder::Gpu(d) => d.run(c)?,
        };
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        w.write_all(&bytes).map_err(io)?;
        done += bytes.len() as u64;
        progress(done, total);
    }
    for r in &checkpoint.passthrough {
        let bytes = checkpoint.passthrough_tensor(r).2;
        w.write_all(bytes).map_err(io)?;
        done += bytes.len() as u64;
        progress(done, total);
    }
    w.flush().map_err(io)?;
    report.output_bytes = 8 + header.len() as u64 + total;
    Ok(report)
}

/// The safetensors JSON header for `entries` laid out in order, padded with spaces to 8 bytes.
fn header(entries: &[Entry]) -> Result<Vec<u8>> {
    let mut map = BTreeMap::new();
    map.insert(
        "__metadata__".to_string(),
        serde_json::json!({ "format": "pt" }),
    );
    let mut offset = 0u64;
    for e in entries {
        let value = serde_json::json!({
            "dtype": serde_json::to_value(e.dtype).expect("dtype serialises"),
            "shape": e.shape,
            "data_offsets": [offset, offset + e.bytes],
        });
        if map.insert(e.name.clone(), value).is_some() {
            return Err(Df11Error::Weight {
                name: e.name.clone(),
                what: "is produced twice (a decoded weight and a stored tensor share the name)"
                    .into(),
            });
        }
        offset += e.bytes;
    }
    let mut text =
        serde_json::to_vec(&Value::from(serde_json::Map::from_iter(map))).map_err(|e| {
            Df11Error::Weight {
                name: "header".into(),
                what: e.to_string(),
            }
        })?;
    while text.len() % 8 != 0 {
        text.push(b' ');
    }
    Ok(text)
}
