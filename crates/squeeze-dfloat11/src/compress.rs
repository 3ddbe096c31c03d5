//! A BF16 safetensors file, or a folder of shards, → a DF11 checkpoint folder the reference
//! loader accepts.
//!
//! Grouping without model code: every BF16 tensor named `X.weight` with at least two dimensions
//! (a Linear or Embedding weight) becomes its own unit `X`, written to its own file `X` with dots
//! as underscores (as the reference does for blocks), and `pattern_dict` gets `{escaped X: []}`
//! so the reference loader treats `X` as one module whose whole stream is `X.weight`. Every other
//! tensor (norms, biases, non-BF16 tensors) passes through unchanged into `model.safetensors`.
//! `config.json` is the input folder's own, if it has one, plus `dfloat11_config`. The original
//! shapes are recorded in each unit file's metadata under
//! [`crate::checkpoint::SHAPES_METADATA_KEY`].
//!
//! Units are encoded one at a time, each in parallel over chunks, and written before the next is
//! read, so memory holds about one unit (inputs stay memory-mapped).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use safetensors::Dtype;
use safetensors::tensor::TensorView;
use serde_json::Value;

use crate::checkpoint::{Config, SHAPES_METADATA_KEY, TensorFile, safetensors_files};
use crate::encode::{Encoded, encode};
use crate::error::{Df11Error, Result};
use crate::format::Layout;

/// What the DF11 compressor turns into units, for errors.
const DF11_UNITS: &str = "BF16 tensor named `*.weight` with at least 2 dimensions";

/// `dfloat11_config.version` written: the reference release whose format this matches.
pub const VERSION: &str = "0.5.0";

/// What a compression did.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub units: usize,
    /// BF16 weights compressed.
    pub weights: u64,
    /// Their BF16 bytes.
    pub input_bytes: u64,
    /// Bytes of the units' DF11 tensors.
    pub stored_bytes: u64,
    /// Bytes copied through.
    pub passthrough_bytes: u64,
    /// Seconds spent encoding (not reading or writing).
    pub encode_seconds: f64,
}

/// Compresses `input` into the new or empty folder `out_dir` with `threads` encoder threads;
/// `progress(done, total)` counts input bytes.
pub fn compress(
    input: &Path,
    out_dir: &Path,
    layout: Layout,
    threads: usize,
    mut progress: impl FnMut(u64, u64),
) -> Result<Report> {
    let layout = layout.check()?;
    let (paths, base_config) = if input.is_dir() {
        let config = input.join("config.json");
        let base = if config.is_file() {
            let text = std::fs::read_to_string(&config).map_err(|e| Df11Error::io(&config, e))?;
            serde_json::from_str(&text).map_err(|e| Df11Error::Checkpoint {
                path: config.clone(),
                what: format!("not valid JSON: {e}"),
            })?
        } else {
            Value::Object(Default::default())
        };
        (safetensors_files(input)?, base)
    } else {
        (vec![input.to_path_buf()], Value::Object(Default::default()))
    };
    if paths.is_empty() {
        return Err(Df11Error::Checkpoint {
            path: input.to_path_buf(),
            what: "holds no .safetensors file".into(),
        });
    }
    let files = paths
        .iter()
        .map(|p| TensorFile::open(p))
        .collect::<Result<Vec<_>>>()?;

    let mut seen = HashMap::new();
    let mut units = Vec::new();
    let mut passthrough = Vec::new();
    for (i, f) in files.iter().enumerate() {
        for name in f.names() {
            if let Some(j) = seen.insert(name.clone(), i) {
                return Err(Df11Error::Checkpoint {
                    path: f.path.clone(),
                    what: format!("tensor `{name}` is also in {}", paths[j].display()),
                });
            }
            let (dtype, shape, _) = f.tensor(&name).expect("listed");
            let compressible = dtype == Dtype::BF16
                && shape.len() >= 2
                && shape.iter().product::<usize>() > 0
                && name.ends_with(".weight");
            if compressible {
                units.push((i, name));
            } else {
                passthrough.push((i, name));
            }
        }
    }
    if units.is_empty() {
        return Err(nothing_to_compress(input, &files, DF11_UNITS));
    }
    let total: u64 = units
        .iter()
        .chain(&passthrough)
        .map(|(i, n)| files[*i].tensor(n).expect("listed").2.len() as u64)
        .sum();
    prepare_output(out_dir)?;
    let mut done = 0;
    progress(done, total);

    let mut report = Report::default();
    let mut used_files = HashSet::new();
    let mut pattern_dict = Vec::new();
    for (i, name) in &units {
        let (_, shape, data) = files[*i].tensor(name).expect("listed");
        let group = name.strip_suffix(".weight").expect("filtered");
        let started = Instant::now();
        let encoded = encode(&[data], layout, threads)?;
        report.encode_seconds += started.elapsed().as_secs_f64();
        let file = unique_file(&mut used_files, &group.replace('.', "_"));
        let shapes = BTreeMap::from([(name.clone(), shape.to_vec())]);
        write_unit(&out_dir.join(file), group, &encoded, &shapes)?;
        pattern_dict.push((regex::escape(group), Vec::new()));
        report.units += 1;
        report.weights += (data.len() / 2) as u64;
        report.input_bytes += data.len() as u64;
        report.stored_bytes += encoded.stored_bytes();
        done += data.len() as u64;
        progress(done, total);
    }
    if !passthrough.is_empty() {
        let file = unique_file(&mut used_files, "model");
        let views = passthrough
            .iter()
            .map(|(i, name)| {
                let (dtype, shape, data) = files[*i].tensor(name).expect("listed");
                report.passthrough_bytes += data.len() as u64;
                view(dtype, shape.to_vec(), data).map(|v| (name.clone(), v))
            })
            .collect::<Result<Vec<_>>>()?;
        write_file(&out_dir.join(file), views, HashMap::new())?;
        progress(total, total);
    }
    let config = Config {
        version: VERSION.to_string(),
        layout,
        pattern_dict,
    };
    let mut json = base_config;
    if !json.is_object() {
        json = Value::Object(Default::default());
    }
    json["dfloat11_config"] = config.to_json();
    let path = out_dir.join("config.json");
    let text = serde_json::to_string_pretty(&json).expect("JSON value serialises");
    std::fs::write(&path, text).map_err(|e| Df11Error::io(&path, e))?;
    Ok(report)
}

/// Creates `dir`, refusing one that already holds safetensors files (the loader reads them all).
pub(crate) fn prepare_output(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Df11Error::io(dir, e))?;
    if !safetensors_files(dir)?.is_empty() {
        return Err(Df11Error::Checkpoint {
            path: dir.to_path_buf(),
            what: "already holds .safetensors files; the DF11 loader would read them too".into(),
        });
    }
    Ok(())
}

pub(crate) fn unique_file(used: &mut HashSet<String>, stem: &str) -> String {
    let mut name = format!("{stem}.safetensors");
    let mut k = 2;
    while !used.insert(name.clone()) {
        name = format!("{stem}_{k}.safetensors");
        k += 1;
    }
    name
}

pub(crate) fn view(dtype: Dtype, shape: Vec<usize>, data: &[u8]) -> Result<TensorView<'_>> {
    TensorView::new(dtype, shape, data).map_err(|e| Df11Error::Safetensors {
        path: PathBuf::new(),
        message: e.to_string(),
    })
}

fn write_unit(
    path: &Path,
    group: &str,
    e: &Encoded,
    shapes: &BTreeMap<String, Vec<usize>>,
) -> Result<()> {
    let splits: Vec<u8> = e
        .split_positions
        .iter()
        .flat_map(|s| s.to_le_bytes())
        .collect();
    let views = vec![
        (
            format!("{group}.luts"),
            view(Dtype::U8, vec![e.luts.len() / 256, 256], &e.luts)?,
        ),
        (
            format!("{group}.encoded_exponent"),
            view(
                Dtype::U8,
                vec![e.encoded_exponent.len()],
                &e.encoded_exponent,
            )?,
        ),
        (
            format!("{group}.sign_mantissa"),
            view(Dtype::U8, vec![e.sign_mantissa.len()], &e.sign_mantissa)?,
        ),
        (
            format!("{group}.output_positions"),
            view(
                Dtype::U8,
                vec![e.output_positions.len()],
                &e.output_positions,
            )?,
        ),
        (
            format!("{group}.gaps"),
            view(Dtype::U8, vec![e.gaps.len()], &e.gaps)?,
        ),
        (
            format!("{group}.split_positions"),
            view(Dtype::I64, vec![e.split_positions.len()], &splits)?,
        ),
    ];
    let metadata = HashMap::from([(
        SHAPES_METADATA_KEY.to_string(),
        serde_json::to_string(shapes).expect("shapes serialise"),
    )]);
    write_file(path, views, metadata)
}

pub(crate) fn write_file(
    path: &Path,
    views: Vec<(String, TensorView<'_>)>,
    mut metadata: HashMap<String, String>,
) -> Result<()> {
    metadata.insert("format".into(), "pt".into());
    // Serialised in memory and written with `fs::write`, so the file gets the process umask
    // (`serialize_to_file` goes through a 0600 temporary file).
    let bytes =
        safetensors::serialize(views, Some(metadata)).map_err(|e| Df11Error::Safetensors {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
    std::fs::write(path, bytes).map_err(|e| Df11Error::io(path, e))
}

/// The error for inputs holding nothing `compressible` selects: what they hold instead, as
/// counts per dtype and rank, so the user sees why (f32 weights, 1-D tensors only, …).
pub(crate) fn nothing_to_compress(
    input: &Path,
    files: &[TensorFile],
    wanted: &'static str,
) -> Df11Error {
    let mut found: BTreeMap<String, usize> = BTreeMap::new();
    for f in files {
        for name in f.names() {
            let (dtype, shape, _) = f.tensor(&name).expect("listed");
            let rank = if shape.len() >= 2 { "≥ 2-D" } else { "1-D" };
            *found.entry(format!("{dtype:?} {rank}")).or_default() += 1;
        }
    }
    let found: Vec<_> = found.iter().map(|(k, n)| format!("{n} {k}")).collect();
    let found = if found.is_empty() {
        "no tensors".to_string()
    } else {
        found.join(", ")
    };
    Df11Error::NothingToCompress {
        path: input.to_path_buf(),
        wanted,
        found,
    }
}
