//! A LLaMA model from a Hugging Face folder: `config.json` (`LlamaForCausalLM`), BF16, F16 or F32
//! weights in
//! `model.safetensors` or the shards `model.safetensors.index.json` names, `tokenizer.json`;
//! or the same folder compressed by `squeeze dfloat11 compress` — a DF11 checkpoint
//! (`dfloat11_config` in `config.json`; each matrix one DF11 unit) or native files (squeeze's
//! native metadata in every safetensors file). Every tensor stays memory-mapped; the matrices
//! reach the GPU as stored and are multiplied by the plain (BF16/F16/F32), fused DF11 or fused
//! native GEMV.
//!
//! Decisions (issue #14 leaves room):
//! - F16 and F32 matrices are multiplied as stored by the plain GEMV of their format (no
//!   conversion at load, so the model's numbers are the checkpoint's); a folder may mix dtypes.
//!   Other dtypes are an error naming the tensor. (F16/BF16 norms are widened exactly.)
//! - A compressed token embedding (DF11 or native) is decoded once at load by the CPU reference
//!   to a BF16 table for the gather; the tied output GEMV still reads the compressed unit.
//! - A DF11 unit must hold one matrix (squeeze's compressor writes one per `*.weight`); a unit
//!   of several (the reference compressor's grouping of a block's projections) is an error
//!   naming it: the fused GEMV multiplies whole units.
//! - `eos_token_id`: the first of `generation_config.json`'s, else of `config.json`'s.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use safetensors::Dtype;
use serde_json::Value;
use squeeze::dfloat11::checkpoint::{Checkpoint, TensorFile, safetensors_files};
use squeeze::dfloat11::native::CheckedNative;
use squeeze::dfloat11::native::file as native_file;
use squeeze::dfloat11::{Checked, Layout};
use squeeze::{Error, Result};

use crate::config::LlamaConfig;
use crate::error::LlamaError;
use crate::tensors::{EmbeddingData, Layer, Matrix, MatrixData, ModelTensors};

/// How a folder's weight matrices are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FolderKind {
    /// Plain safetensors (BF16, F16 or F32 matrices).
    Bf16,
    /// A DF11 checkpoint.
    Df11,
    /// squeeze's native format.
    Native,
}

/// Where a tensor is: a plain tensor of a file, or a compressed unit.
enum Entry {
    Plain { file: usize, name: String },
    Df11 { unit: usize },
    Native { file: usize, shape: Vec<usize> },
}

/// An opened model folder: its parsed configuration and its tensors, mapped.
pub struct HfFolder {
    pub dir: PathBuf,
    pub kind: FolderKind,
    pub config: LlamaConfig,
    files: Vec<TensorFile>,
    checkpoint: Option<Checkpoint>,
    entries: BTreeMap<String, Entry>,
}

fn folder_error(path: &Path, what: impl Into<String>) -> Error {
    LlamaError::Folder {
        path: path.to_path_buf(),
        what: what.into(),
    }
    .into()
}

fn read_json(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| folder_error(path, format!("cannot be read: {e}")))?;
    serde_json::from_str(&text).map_err(|e| folder_error(path, format!("is not valid JSON: {e}")))
}

/// The BF16 shard files: those `model.safetensors.index.json` names (each must exist), else
/// `model.safetensors`, else every `*.safetensors` file of the folder.
fn shard_paths(dir: &Path) -> Result<Vec<PathBuf>> {
    let index = dir.join("model.safetensors.index.json");
    if index.is_file() {
        let json = read_json(&index)?;
        let map = json
            .get("weight_map")
            .and_then(Value::as_object)
            .ok_or_else(|| folder_error(&index, "has no `weight_map` object"))?;
        let mut shards: Vec<String> = Vec::new();
        for (tensor, shard) in map {
            let shard = shard.as_str().ok_or_else(|| {
                folder_error(&index, format!("`weight_map.{tensor}` is not a file name"))
            })?;
            if shard.contains('/') || shard.contains('\\') || shard.starts_with('.') {
                return Err(folder_error(
                    &index,
                    format!("shard `{shard}` is not a plain file name in the folder"),
                ));
            }
            if !shards.iter().any(|s| s == shard) {
                shards.push(shard.to_string());
            }
        }
        shards.sort();
        return shards
            .into_iter()
            .map(|s| {
                let path = dir.join(&s);
                if path.is_file() {
                    Ok(path)
                } else {
                    Err(folder_error(
                        &path,
                        "is missing: model.safetensors.index.json names this shard",
                    ))
                }
            })
            .collect();
    }
    let single = dir.join("model.safetensors");
    if single.is_file() {
        return Ok(vec![single]);
    }
    let all = safetensors_files(dir)?;
    if all.is_empty() {
        return Err(folder_error(
            dir,
            "holds no model.safetensors, no model.safetensors.index.json and no *.safetensors",
        ));
    }
    Ok(all)
}

impl HfFolder {
    /// Opens `dir`: reads `config.json` (and `generation_config.json`), detects the storage and
    /// indexes every tensor.
    pub fn open(dir: &Path) -> Result<Self> {
        let config_path = dir.join("config.json");
        if !config_path.is_file() {
            return Err(folder_error(
                &config_path,
                "is missing: a model folder needs its config.json",
            ));
        }
        let config_json = read_json(&config_path)?;
        let generation_path = dir.join("generation_config.json");
        let generation = generation_path
            .is_file()
            .then(|| read_json(&generation_path))
            .transpose()?;
        let config = LlamaConfig::from_hf(&config_json, generation.as_ref())?;
        let mut entries = BTreeMap::new();
        let insert = |entries: &mut BTreeMap<String, Entry>, name: String, entry, path: &Path| {
            if entries.insert(name.clone(), entry).is_some() {
                return Err(folder_error(
                    path,
                    format!("tensor `{name}` is stored twice"),
                ));
            }
            Ok(())
        };
        if config_json.get("dfloat11_config").is_some() {
            let checkpoint = Checkpoint::open(dir)?;
            for (i, unit) in checkpoint.units.iter().enumerate() {
                let [weight] = unit.weights.as_slice() else {
                    return Err(folder_error(
                        dir,
                        format!(
                            "DF11 unit `{}` holds {} weights ({}); the fused GEMV multiplies a \
                             unit of one matrix (compress the BF16 model with squeeze)",
                            unit.group,
                            unit.weights.len(),
                            unit.weights.join(", ")
                        ),
                    ));
                };
                insert(&mut entries, weight.clone(), Entry::Df11 { unit: i }, dir)?;
            }
            for r in &checkpoint.passthrough {
                let entry = Entry::Plain {
                    file: r.file,
                    name: r.name.clone(),
                };
                insert(&mut entries, r.name.clone(), entry, dir)?;
            }
            return Ok(Self {
                dir: dir.to_path_buf(),
                kind: FolderKind::Df11,
                config,
                files: Vec::new(),
                checkpoint: Some(checkpoint),
                entries,
            });
        }
        let files = shard_paths(dir)?
            .iter()
            .map(|p| TensorFile::open(p))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let native = files
            .iter()
            .map(|f| native_file::is_native(&f.path))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let kind = if native.iter().all(|&n| n) {
            FolderKind::Native
        } else if native.iter().any(|&n| n) {
            return Err(folder_error(
                dir,
                "mixes native-format and plain safetensors files",
            ));
        } else {
            FolderKind::Bf16
        };
        for (i, f) in files.iter().enumerate() {
            let units = if kind == FolderKind::Native {
                native_file::header(f)?
            } else {
                BTreeMap::new()
            };
            let parts: Vec<String> = units.keys().map(|u| format!("{u}.")).collect();
            for name in f.names() {
                if parts.iter().any(|p| name.starts_with(p.as_str())) {
                    continue;
                }
                let entry = Entry::Plain {
                    file: i,
                    name: name.clone(),
                };
                insert(&mut entries, name, entry, &f.path)?;
            }
            for (name, shape) in units {
                insert(
                    &mut entries,
                    name,
                    Entry::Native { file: i, shape },
                    &f.path,
                )?;
            }
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            kind,
            config,
            files,
            checkpoint: None,
            entries,
        })
    }

    fn entry(&self, name: &str) -> Result<&Entry> {
        self.entries
            .get(name)
            .ok_or_else(|| folder_error(&self.dir, format!("has no tensor `{name}`")))
    }

    fn plain(&self, file: usize, name: &str) -> (Dtype, &[usize], &[u8]) {
        let tensor = match &self.checkpoint {
            Some(c) => c.files[file].tensor(name),
            None => self.files[file].tensor(name),
        };
        tensor.expect("indexed at open")
    }

    fn layout(&self) -> Layout {
        self.checkpoint
            .as_ref()
            .map_or(Layout::DF11, |c| c.config.layout)
    }

    fn df11(&self, unit: usize, name: &str) -> Result<Checked<'_>> {
        let c = self
            .checkpoint
            .as_ref()
            .expect("a DF11 entry has its checkpoint");
        Ok(c.unit(&c.units[unit]).validate(name, self.layout())?)
    }

    fn native(&self, file: usize, name: &str, shape: &[usize]) -> Result<CheckedNative<'_>> {
        Ok(native_file::unit(&self.files[file], name, shape)?.validate(name)?)
    }

    /// Weight `name` as a `[rows, cols]` matrix.
    fn matrix(&self, name: &str, rows: u32, cols: u32) -> Result<Matrix<'_>> {
        let shape_error = |actual: String| -> Error {
            LlamaError::Shape {
                tensor: name.into(),
                expected: format!("[{rows}, {cols}]"),
                actual,
            }
            .into()
        };
        let want = [rows as usize, cols as usize];
        let data = match self.entry(name)? {
            Entry::Plain { file, name } => {
                let (dtype, shape, bytes) = self.plain(*file, name);
                if shape != want {
                    return Err(shape_error(format!("{shape:?}")));
                }
                match dtype {
                    Dtype::BF16 => MatrixData::Bf16(bytes),
                    Dtype::F16 => MatrixData::F16(bytes),
                    Dtype::F32 => MatrixData::F32(bytes),
                    other => {
                        return Err(unsupported_dtype(
                            name,
                            other,
                            "weight matrices must be BF16, F16 or F32",
                        ));
                    }
                }
            }
            Entry::Df11 { unit } => {
                let checked = self.df11(*unit, name)?;
                if checked.n != want[0] * want[1] {
                    return Err(shape_error(format!("a DF11 unit of {} weights", checked.n)));
                }
                MatrixData::Df11(checked)
            }
            Entry::Native { file, shape } => {
                if shape.as_slice() != want {
                    return Err(shape_error(format!("{shape:?}")));
                }
                MatrixData::Native(self.native(*file, name, shape)?)
            }
        };
        Ok(Matrix { rows, cols, data })
    }

    /// Norm weight `name` as f32 (BF16, F16 or F32 stored).
    fn vector(&self, name: &str, len: u32) -> Result<Vec<f32>> {
        let Entry::Plain { file, name } = self.entry(name)? else {
            return Err(folder_error(
                &self.dir,
                format!("norm `{name}` is compressed"),
            ));
        };
        let (dtype, shape, bytes) = self.plain(*file, name);
        if shape != [len as usize] {
            return Err(LlamaError::Shape {
                tensor: name.clone(),
                expected: format!("[{len}]"),
                actual: format!("{shape:?}"),
            }
            .into());
        }
        let halves = bytes
            .chunks_exact(2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]));
        match dtype {
            Dtype::BF16 => Ok(halves.map(|h| half::bf16::from_bits(h).to_f32()).collect()),
            Dtype::F16 => Ok(halves.map(|h| half::f16::from_bits(h).to_f32()).collect()),
            Dtype::F32 => Ok(bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect()),
            other => Err(unsupported_dtype(
                name,
                other,
                "norm weights must be BF16, F16 or F32",
            )),
        }
    }

    /// The token embedding as a BF16 table (a compressed one decoded by the CPU reference).
    fn embedding<'a>(&'a self, matrix: &Matrix<'a>) -> Result<EmbeddingData<'a>> {
        let bits = match &matrix.data {
            MatrixData::Bf16(bytes) => return Ok(EmbeddingData::Bf16(Cow::Borrowed(bytes))),
            MatrixData::F16(bytes) => return Ok(EmbeddingData::F16(bytes)),
            MatrixData::F32(bytes) => return Ok(EmbeddingData::F32(bytes)),
            MatrixData::Df11(unit) => {
                squeeze::dfloat11::reference::decode_checked(unit, "model.embed_tokens.weight")?
            }
            MatrixData::Native(unit) => squeeze::dfloat11::native::reference::decode_checked(
                unit,
                "model.embed_tokens.weight",
            )?,
            MatrixData::Blocks { .. } => {
                return Err(folder_error(&self.dir, "the embedding is GGUF blocks"));
            }
        };
        Ok(EmbeddingData::Bf16(Cow::Owned(
            bits.iter().flat_map(|b| b.to_le_bytes()).collect(),
        )))
    }

    /// Finds and checks every tensor of the model (Hugging Face names).
    pub fn tensors(&self) -> Result<ModelTensors<'_>> {
        let c = self.config;
        let (q_rows, kv_rows) = (c.heads * c.head_dim, c.kv_heads * c.head_dim);
        let layers = (0..c.layers)
            .map(|i| {
                let name = |part: &str| format!("model.layers.{i}.{part}.weight");
                let m = |part: &str, rows, cols| self.matrix(&name(part), rows, cols);
                Ok(Layer {
                    attn_norm: self.vector(&name("input_layernorm"), c.hidden)?,
                    q: m("self_attn.q_proj", q_rows, c.hidden)?,
                    k: m("self_attn.k_proj", kv_rows, c.hidden)?,
                    v: m("self_attn.v_proj", kv_rows, c.hidden)?,
                    o: m("self_attn.o_proj", c.hidden, q_rows)?,
                    ffn_norm: self.vector(&name("post_attention_layernorm"), c.hidden)?,
                    gate: m("mlp.gate_proj", c.ffn, c.hidden)?,
                    up: m("mlp.up_proj", c.ffn, c.hidden)?,
                    down: m("mlp.down_proj", c.hidden, c.ffn)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let embed = self.matrix("model.embed_tokens.weight", c.vocab, c.hidden)?;
        let embedding = self.embedding(&embed)?;
        let output = if c.tied {
            embed
        } else {
            self.matrix("lm_head.weight", c.vocab, c.hidden)?
        };
        Ok(ModelTensors {
            config: c,
            embedding,
            layers,
            output_norm: self.vector("model.norm.weight", c.hidden)?,
            output,
            df11_layout: (self.kind == FolderKind::Df11).then(|| self.layout()),
        })
    }

    /// The folder's `tokenizer.json`.
    pub fn tokenizer(&self) -> Result<tokenizers::Tokenizer> {
        let path = self.dir.join("tokenizer.json");
        tokenizers::Tokenizer::from_file(&path)
            .map_err(|e| folder_error(&path, format!("is not a tokenizer this build reads: {e}")))
    }
}

fn unsupported_dtype(name: &str, dtype: Dtype, why: &'static str) -> Error {
    LlamaError::UnsupportedType {
        tensor: name.into(),
        ggml_type: format!("{dtype:?}"),
        why,
    }
    .into()
}
