//! Reading a DF11 checkpoint folder as the reference loader does: `config.json` with
//! `dfloat11_config`, then every `*.safetensors` file in the folder (memory-mapped), its units
//! found by their `G.encoded_exponent` tensors and everything else passed through.
//!
//! Naming (the reference's rule, written down because DF11 stores no shapes or module types): a
//! unit `G` whose name fully matches a `pattern_dict` regex with a non-empty list is cut at
//! `split_positions` into `G.<path>.weight`, one per list entry in order; otherwise `G` is one
//! Linear or Embedding and its stream is `G.weight`.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};

use memmap2::Mmap;
use safetensors::Dtype;
use safetensors::tensor::{Metadata, SafeTensors};
use serde_json::Value;

use crate::error::{Df11Error, Result};
use crate::format::{Layout, Unit};

/// Safetensors `__metadata__` key under which squeeze records the original shapes, as a JSON
/// object `{weight name: [dims]}`. The reference loader ignores metadata.
pub const SHAPES_METADATA_KEY: &str = "squeeze.shapes";

/// The tensor names of a unit, after the unit's name and a dot.
pub const UNIT_TENSORS: [&str; 6] = [
    "luts",
    "encoded_exponent",
    "sign_mantissa",
    "output_positions",
    "gaps",
    "split_positions",
];

/// `dfloat11_config` of `config.json`.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub version: String,
    pub layout: Layout,
    /// Regex → sub-module paths, in file order.
    pub pattern_dict: Vec<(String, Vec<String>)>,
}

impl Config {
    /// Parses the `dfloat11_config` object of a `config.json` (the whole file's JSON).
    pub fn from_json(path: &Path, json: &Value) -> Result<Config> {
        let err = |key: &str, problem: &str| Df11Error::Config {
            path: path.to_path_buf(),
            key: key.to_string(),
            problem: problem.to_string(),
        };
        let config = json
            .get("dfloat11_config")
            .ok_or_else(|| err("dfloat11_config", "is missing"))?;
        let version = match config.get("version") {
            None => "unknown".to_string(),
            Some(v) => v
                .as_str()
                .ok_or_else(|| err("dfloat11_config.version", "must be a string"))?
                .to_string(),
        };
        let tpb = config
            .get("threads_per_block")
            .ok_or_else(|| err("dfloat11_config.threads_per_block", "is missing"))?;
        let tpb = match tpb {
            Value::Array(list) => list.first().and_then(Value::as_u64),
            other => other.as_u64(),
        }
        .ok_or_else(|| {
            err(
                "dfloat11_config.threads_per_block",
                "must be a positive integer or a list starting with one",
            )
        })?;
        let bpt = config
            .get("bytes_per_thread")
            .ok_or_else(|| err("dfloat11_config.bytes_per_thread", "is missing"))?
            .as_u64()
            .ok_or_else(|| err("dfloat11_config.bytes_per_thread", "must be an integer"))?;
        let layout = Layout {
            threads_per_block: u32::try_from(tpb).unwrap_or(u32::MAX),
            bytes_per_thread: u32::try_from(bpt).unwrap_or(u32::MAX),
        }
        .check()?;
        let patterns = config
            .get("pattern_dict")
            .ok_or_else(|| err("dfloat11_config.pattern_dict", "is missing"))?
            .as_object()
            .ok_or_else(|| err("dfloat11_config.pattern_dict", "must be an object"))?;
        let mut pattern_dict = Vec::new();
        for (pattern, paths) in patterns {
            let key = format!("dfloat11_config.pattern_dict.{pattern}");
            let list = paths
                .as_array()
                .ok_or_else(|| err(&key, "must be a list of sub-module paths"))?;
            let paths = list
                .iter()
                .map(|p| p.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| err(&key, "must hold only strings"))?;
            pattern_dict.push((pattern.clone(), paths));
        }
        Ok(Config {
            version,
            layout,
            pattern_dict,
        })
    }

    /// The `dfloat11_config` object as the reference writes it.
    pub fn to_json(&self) -> Value {
        let patterns: serde_json::Map<String, Value> = self
            .pattern_dict
            .iter()
            .map(|(k, v)| (k.clone(), Value::from(v.clone())))
            .collect();
        serde_json::json!({
            "version": self.version,
            "threads_per_block": [self.layout.threads_per_block],
            "bytes_per_thread": self.layout.bytes_per_thread,
            "pattern_dict": patterns,
        })
    }

    /// The weight names of unit `group`, in stream order (see the module docs).
    pub fn weight_names(&self, path: &Path, group: &str) -> Result<Vec<String>> {
        for (pattern, paths) in &self.pattern_dict {
            let regex =
                regex::Regex::new(&format!("^(?:{pattern})$")).map_err(|e| Df11Error::Config {
                    path: path.to_path_buf(),
                    key: format!("dfloat11_config.pattern_dict.{pattern}"),
                    problem: format!("is not a valid regex: {e}"),
                })?;
            if regex.is_match(group) && !paths.is_empty() {
                return Ok(paths
                    .iter()
                    .map(|p| format!("{group}.{p}.weight"))
                    .collect());
            }
        }
        Ok(vec![format!("{group}.weight")])
    }
}

/// One memory-mapped safetensors file and its parsed header.
pub struct TensorFile {
    pub path: PathBuf,
    map: Mmap,
    header_len: usize,
    metadata: Metadata,
}

impl TensorFile {
    /// Maps `path` and parses its header (the data stays on disk until read).
    pub fn open(path: &Path) -> Result<TensorFile> {
        let file = File::open(path).map_err(|e| Df11Error::io(path, e))?;
        // SAFETY: the file is opened read-only and only read through this map; as with every
        // memory-mapped reader, a concurrent writer truncating it is outside our control.
        let map = unsafe { Mmap::map(&file) }.map_err(|e| Df11Error::io(path, e))?;
        let (header_len, metadata) =
            SafeTensors::read_metadata(&map).map_err(|e| Df11Error::Safetensors {
                path: path.to_path_buf(),
                message: e.to_string(),
            })?;
        Ok(TensorFile {
            path: path.to_path_buf(),
            map,
            header_len,
            metadata,
        })
    }

    /// Tensor names, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.metadata.tensors().into_keys().collect();
        names.sort();
        names
    }

    /// Dtype, shape and bytes of tensor `name`.
    pub fn tensor(&self, name: &str) -> Option<(Dtype, &[usize], &[u8])> {
        let info = self.metadata.info(name)?;
        let base = 8 + self.header_len;
        let (a, b) = info.data_offsets;
        Some((info.dtype, &info.shape, &self.map[base + a..base + b]))
    }

    /// The `__metadata__` map of the header.
    pub fn metadata(&self) -> Option<&HashMap<String, String>> {
        self.metadata.metadata().as_ref()
    }
}

/// Every `*.safetensors` file directly in `dir`, sorted by name.
pub fn safetensors_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir).map_err(|e| Df11Error::io(dir, e))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| Df11Error::io(dir, e))?.path();
        if path.extension().is_some_and(|e| e == "safetensors") && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Where a tensor lives: file index and name.
#[derive(Debug, Clone)]
pub struct TensorRef {
    pub file: usize,
    pub name: String,
}

/// A compressed unit of a checkpoint and the weights it decodes to.
#[derive(Debug, Clone)]
pub struct UnitEntry {
    pub group: String,
    /// `G.luts`, `G.encoded_exponent`, … in [`UNIT_TENSORS`] order (`split_positions` optional).
    tensors: Vec<Option<TensorRef>>,
    /// Output weight names in stream order.
    pub weights: Vec<String>,
}

/// An opened DF11 checkpoint folder.
pub struct Checkpoint {
    pub dir: PathBuf,
    /// The whole `config.json`.
    pub config_json: Value,
    pub config: Config,
    pub files: Vec<TensorFile>,
    pub units: Vec<UnitEntry>,
    /// Tensors that are not part of a unit, copied through unchanged.
    pub passthrough: Vec<TensorRef>,
    /// Original shapes recorded by squeeze's compressor, by weight name.
    pub recorded_shapes: BTreeMap<String, Vec<usize>>,
}

impl Checkpoint {
    /// Opens `dir`: parses `config.json`, maps every safetensors file and indexes the units.
    pub fn open(dir: &Path) -> Result<Checkpoint> {
        let config_path = dir.join("config.json");
        let text =
            std::fs::read_to_string(&config_path).map_err(|e| Df11Error::io(&config_path, e))?;
        let config_json: Value =
            serde_json::from_str(&text).map_err(|e| Df11Error::Checkpoint {
                path: config_path.clone(),
                what: format!("not valid JSON: {e}"),
            })?;
        let config = Config::from_json(&config_path, &config_json)?;
        let files = safetensors_files(dir)?
            .iter()
            .map(|p| TensorFile::open(p))
            .collect::<Result<Vec<_>>>()?;
        if files.is_empty() {
            return Err(Df11Error::Checkpoint {
                path: dir.to_path_buf(),
                what: "holds no .safetensors file".into(),
            });
        }
        let mut by_name: BTreeMap<String, usize> = BTreeMap::new();
        for (i, f) in files.iter().enumerate() {
            for name in f.names() {
                if let Some(j) = by_name.insert(name.clone(), i) {
                    return Err(Df11Error::Checkpoint {
                        path: f.path.clone(),
                        what: format!("tensor `{name}` is also in {}", files[j].path.display()),
                    });
                }
            }
        }
        let groups: Vec<String> = by_name
            .keys()
            .filter_map(|n| n.strip_suffix(".encoded_exponent").map(str::to_string))
            .collect();
        let mut units = Vec::new();
        let mut in_units = std::collections::HashSet::new();
        for group in groups {
            let mut tensors = Vec::new();
            for suffix in UNIT_TENSORS {
                let name = format!("{group}.{suffix}");
                let found = by_name.get(&name).map(|&file| TensorRef {
                    file,
                    name: name.clone(),
                });
                let Some(found) = found else {
                    if suffix == "split_positions" {
                        tensors.push(None);
                        continue;
                    }
                    return Err(Df11Error::Checkpoint {
                        path: dir.to_path_buf(),
                        what: format!("unit `{group}` has no tensor `{name}`"),
                    });
                };
                let (dtype, _, _) = files[found.file].tensor(&name).expect("indexed");
                let want = if suffix == "split_positions" {
                    Dtype::I64
                } else {
                    Dtype::U8
                };
                if dtype != want {
                    return Err(Df11Error::Checkpoint {
                        path: files[found.file].path.clone(),
                        what: format!("tensor `{name}` has dtype {dtype:?}, expected {want:?}"),
                    });
                }
                in_units.insert(name);
                tensors.push(Some(found));
            }
            let weights = config.weight_names(&config_path, &group)?;
            units.push(UnitEntry {
                group,
                tensors,
                weights,
            });
        }
        let passthrough = by_name
            .iter()
            .filter(|(name, _)| !in_units.contains(*name))
            .map(|(name, &file)| TensorRef {
                file,
                name: name.clone(),
            })
            .collect();
        let mut recorded_shapes = BTreeMap::new();
        for f in &files {
            if let Some(text) = f.metadata().and_then(|m| m.get(SHAPES_METADATA_KEY)) {
                let shapes: BTreeMap<String, Vec<usize>> =
                    serde_json::from_str(text).map_err(|e| Df11Error::Checkpoint {
                        path: f.path.clone(),
                        what: format!("metadata `{SHAPES_METADATA_KEY}` is not a shape map: {e}"),
                    })?;
                recorded_shapes.extend(shapes);
            }
        }
        Ok(Checkpoint {
            dir: dir.to_path_buf(),
            config_json,
            config,
            files,
            units,
            passthrough,
            recorded_shapes,
        })
    }

    fn bytes(&self, r: &TensorRef) -> &[u8] {
        self.files[r.file].tensor(&r.name).expect("indexed").2
    }

    /// The tensors of `entry` as a [`Unit`] (not yet validated).
    pub fn unit(&self, entry: &UnitEntry) -> Unit<'_> {
        let t = |k: usize| entry.tensors[k].as_ref().map_or(&[][..], |r| self.bytes(r));
        Unit {
            luts: t(0),
            encoded_exponent: t(1),
            sign_mantissa: t(2),
            output_positions: t(3),
            gaps: t(4),
            split_positions: t(5)
                .chunks_exact(8)
                .map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes")))
                .collect(),
        }
    }

    /// Dtype, shape and bytes of a pass-through tensor.
    pub fn passthrough_tensor(&self, r: &TensorRef) -> (Dtype, &[usize], &[u8]) {
        self.files[r.file].tensor(&r.name).expect("indexed")
    }
}
