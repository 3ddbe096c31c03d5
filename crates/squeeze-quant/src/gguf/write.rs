//! The GGUF writer: builds a valid little-endian file (version 3 unless told 2) from metadata
//! and tensors, so tests and users can make real files. It checks what the reader checks —
//! unique keys and names, well-formed arrays, dims, block-aligned rows and data sizes — so
//! whatever it writes reads back unchanged.

use std::collections::HashSet;
use std::path::Path;

use crate::gguf::error::GgufError;
use crate::gguf::ggml_type::GgmlType;
use crate::gguf::read::{MAGIC, MAX_NESTING, align_up, alignment_of, tensor_bytes};
use crate::gguf::value::Value;

/// A GGUF file under construction. Tensor data is laid out in insertion order, each tensor at
/// the next multiple of the alignment (`general.alignment` if set, else 32), zero-padded.
#[derive(Debug, Clone)]
pub struct GgufWriter {
    version: u32,
    metadata: Vec<(String, Value)>,
    tensors: Vec<(String, GgmlType, Vec<u64>, Vec<u8>)>,
}

impl Default for GgufWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl GgufWriter {
    /// An empty version-3 file.
    pub fn new() -> Self {
        Self {
            version: 3,
            metadata: Vec::new(),
            tensors: Vec::new(),
        }
    }

    /// Writes this GGUF version instead (2 or 3; they differ only in the version field).
    pub fn version(mut self, version: u32) -> Self {
        self.version = version;
        self
    }

    /// Adds a metadata key/value (`general.alignment` also sets the data alignment).
    pub fn metadata(mut self, key: impl Into<String>, value: Value) -> Self {
        self.metadata.push((key.into(), value));
        self
    }

    /// Adds a tensor of `ggml_type` with `dims` innermost first (`dims[0]` is the row length)
    /// and its raw data.
    pub fn tensor(
        mut self,
        name: impl Into<String>,
        ggml_type: GgmlType,
        dims: &[u64],
        data: impl Into<Vec<u8>>,
    ) -> Self {
        self.tensors
            .push((name.into(), ggml_type, dims.to_vec(), data.into()));
        self
    }

    /// The file's bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, GgufError> {
        if !(2..=3).contains(&self.version) {
            return Err(GgufError::BadVersion {
                actual: self.version,
            });
        }
        let alignment = alignment_of(&self.metadata)?;
        let mut out = Vec::new();
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&self.version.to_le_bytes());
        out.extend_from_slice(&(self.tensors.len() as u64).to_le_bytes());
        out.extend_from_slice(&(self.metadata.len() as u64).to_le_bytes());

        let mut keys = HashSet::new();
        for (key, value) in &self.metadata {
            if !keys.insert(key) {
                return Err(GgufError::DuplicateKey { key: key.clone() });
            }
            put_string(&mut out, key);
            out.extend_from_slice(&value.value_type().id().to_le_bytes());
            put_value(&mut out, value, 0, &|| format!("metadata `{key}`"))?;
        }

        let mut names = HashSet::new();
        let mut offset = 0u64;
        let mut offsets = Vec::with_capacity(self.tensors.len());
        for (name, ggml_type, dims, data) in &self.tensors {
            let expected = tensor_bytes(name, *ggml_type, dims)?;
            if expected != data.len() as u64 {
                return Err(GgufError::DataSize {
                    tensor: name.clone(),
                    expected,
                    actual: data.len() as u64,
                });
            }
            if !names.insert(name) {
                return Err(GgufError::DuplicateTensor {
                    tensor: name.clone(),
                });
            }
            put_string(&mut out, name);
            out.extend_from_slice(&(dims.len() as u32).to_le_bytes());
            for d in dims {
                out.extend_from_slice(&d.to_le_bytes());
            }
            out.extend_from_slice(&ggml_type.id().to_le_bytes());
            out.extend_from_slice(&offset.to_le_bytes());
            offsets.push(offset);
            offset = align_up(offset + expected, alignment);
        }

        let data_start = align_up(out.len() as u64, alignment);
        out.resize(data_start as usize, 0);
        for ((_, _, _, data), offset) in self.tensors.iter().zip(offsets) {
            out.resize((data_start + offset) as usize, 0);
            out.extend_from_slice(data);
        }
        let end = align_up(out.len() as u64, alignment);
        out.resize(end as usize, 0);
        Ok(out)
    }

    /// Writes the file to `path`.
    pub fn write(&self, path: &Path) -> Result<(), GgufError> {
        std::fs::write(path, self.to_bytes()?).map_err(|source| GgufError::Io {
            path: path.to_owned(),
            source,
        })
    }
}

fn put_string(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u64).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn put_value(
    out: &mut Vec<u8>,
    value: &Value,
    depth: usize,
    what: &dyn Fn() -> String,
) -> Result<(), GgufError> {
    match value {
        Value::U8(v) => out.extend_from_slice(&v.to_le_bytes()),
        Value::I8(v) => out.extend_from_slice(&v.to_le_bytes()),
        Value::U16(v) => out.extend_from_slice(&v.to_le_bytes()),
        Value::I16(v) => out.extend_from_slice(&v.to_le_bytes()),
        Value::U32(v) => out.extend_from_slice(&v.to_le_bytes()),
        Value::I32(v) => out.extend_from_slice(&v.to_le_bytes()),
        Value::F32(v) => out.extend_from_slice(&v.to_le_bytes()),
        Value::U64(v) => out.extend_from_slice(&v.to_le_bytes()),
        Value::I64(v) => out.extend_from_slice(&v.to_le_bytes()),
        Value::F64(v) => out.extend_from_slice(&v.to_le_bytes()),
        Value::Bool(v) => out.push(u8::from(*v)),
        Value::String(s) => put_string(out, s),
        Value::Array(elem, values) => {
            if depth >= MAX_NESTING {
                return Err(GgufError::NestingTooDeep {
                    what: what(),
                    max: MAX_NESTING,
                });
            }
            out.extend_from_slice(&elem.id().to_le_bytes());
            out.extend_from_slice(&(values.len() as u64).to_le_bytes());
            for (index, v) in values.iter().enumerate() {
                if v.value_type() != *elem {
                    return Err(GgufError::MixedArray {
                        what: what(),
                        index,
                        expected: *elem,
                        actual: v.value_type(),
                    });
                }
                put_value(out, v, depth + 1, &|| format!("{}[{index}]", what()))?;
            }
        }
    }
    Ok(())
}
