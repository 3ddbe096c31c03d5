//! GGUF files (versions 2 and 3, little-endian): a strict memory-mapped reader, a writer,
//! conversion of every tensor to f32 with quantized blocks dequantized on the GPU, and
//! matrix-vector products with a quantized weight tensor on the GPU.
//!
//! ```text
//! magic "GGUF" | version u32 | tensor_count u64 | metadata_kv_count u64
//! metadata_kv_count × (key: string, value_type u32, value)
//! tensor_count × (name: string, n_dims u32, dims[n_dims] u64, ggml_type u32, offset u64)
//! zero padding to `general.alignment` (u32, default 32)
//! data section: each tensor at data_start + offset (a multiple of the alignment)
//! string = len u64, UTF-8 bytes; array = elem_type u32, len u64, len × value
//! ```
//!
//! Why squeeze has its own reader: the GGUF crates on crates.io were checked (`gguf-rs`,
//! `gguf-rs-lib`, `ggus`, `gguf`) and none fits. `gguf-rs` returns `anyhow` errors and pulls a
//! CLI's dependencies (clap, comfy-table, a logger) into the library; `gguf-rs-lib` reports
//! corruption as free-text strings; `ggus` reads version 3 only and computes tensor ends and
//! the trailing-data length with unchecked arithmetic, so a corrupt file can panic it; `gguf` is
//! a small metadata dumper without tensor data access. squeeze needs every corrupt field to be a
//! typed error naming the field and the expected and actual values, and no panic on any input —
//! a few hundred lines of plain parsing, tested with property tests.
//!
//! Dims are stored innermost first: `dims[0]` is the row length, so a `[rows, cols]` matrix in
//! row-major order has `dims = [cols, rows]`.

mod error;
mod ggml_type;
mod matmul;
mod read;
mod row_chunks;
mod to_f32;
mod value;
mod write;

use std::fs::File;
use std::path::Path;

use memmap2::Mmap;

pub use error::GgufError;
pub use ggml_type::{GgmlType, ToF32};
pub use matmul::TensorMatmul;
pub use read::{
    ALIGNMENT_KEY, DEFAULT_ALIGNMENT, Layout, MAGIC, MAX_DIMS, MAX_NESTING, TensorInfo, parse,
    tensor_bytes,
};
pub use to_f32::F32Converter;
pub use value::{Value, ValueType};
pub use write::GgufWriter;

/// The bytes of a GGUF file: a read-only memory map, or bytes already in memory.
enum Storage {
    Map(Mmap),
    Bytes(Vec<u8>),
}

impl Storage {
    fn bytes(&self) -> &[u8] {
        match self {
            Storage::Map(m) => m,
            Storage::Bytes(b) => b,
        }
    }
}

/// A parsed, checked GGUF file whose tensor data stays in the file's memory map.
pub struct GgufFile {
    storage: Storage,
    layout: Layout,
}

/// One tensor: its name, type, dims (innermost first) and data, borrowed from the file.
#[derive(Debug, Clone, Copy)]
pub struct Tensor<'a> {
    pub name: &'a str,
    pub ggml_type: GgmlType,
    pub dims: &'a [u64],
    pub data: &'a [u8],
}

impl Tensor<'_> {
    /// Weights per row (`dims[0]`).
    pub fn row_len(&self) -> u64 {
        self.dims[0]
    }

    /// Rows: the product of the outer dims.
    pub fn rows(&self) -> u64 {
        self.dims[1..].iter().product()
    }

    /// The shape outermost first (row-major, as safetensors, NumPy and PyTorch write it).
    pub fn shape(&self) -> Vec<u64> {
        self.dims.iter().rev().copied().collect()
    }
}

impl GgufFile {
    /// Memory-maps and checks the file at `path`.
    pub fn open(path: &Path) -> Result<Self, GgufError> {
        let io = |source| GgufError::Io {
            path: path.to_owned(),
            source,
        };
        let file = File::open(path).map_err(io)?;
        // SAFETY: the map is read-only and lives as long as `self`; like every memory-mapped
        // reader, this assumes no other process truncates or rewrites the file while it is open.
        let map = unsafe { Mmap::map(&file) }.map_err(io)?;
        Self::new(Storage::Map(map))
    }

    /// Checks a GGUF file already in memory.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, GgufError> {
        Self::new(Storage::Bytes(bytes))
    }

    fn new(storage: Storage) -> Result<Self, GgufError> {
        let layout = parse(storage.bytes())?;
        Ok(Self { storage, layout })
    }

    /// Header, metadata and tensor infos.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    pub fn version(&self) -> u32 {
        self.layout.version
    }

    /// Metadata in file order.
    pub fn metadata(&self) -> &[(String, Value)] {
        &self.layout.metadata
    }

    /// The value of metadata `key`, if present.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.layout
            .metadata
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// Every tensor in file order.
    pub fn tensors(&self) -> impl ExactSizeIterator<Item = Tensor<'_>> {
        self.layout.tensors.iter().map(|t| self.view(t))
    }

    /// The tensor called `name`.
    pub fn tensor(&self, name: &str) -> Result<Tensor<'_>, GgufError> {
        self.layout
            .tensors
            .iter()
            .find(|t| t.name == name)
            .map(|t| self.view(t))
            .ok_or_else(|| GgufError::NoSuchTensor {
                tensor: name.into(),
                suggestions: closest(name, self.layout.tensors.iter().map(|t| t.name.as_str())),
            })
    }

    fn view<'a>(&'a self, t: &'a TensorInfo) -> Tensor<'a> {
        // `parse` checked start + bytes against the file length.
        let (start, end) = (t.start as usize, (t.start + t.bytes) as usize);
        Tensor {
            name: &t.name,
            ggml_type: t.ggml_type,
            dims: &t.dims,
            data: &self.storage.bytes()[start..end],
        }
    }
}

/// Up to three of `names` a user most likely meant by `wanted`: those that extend it (a name
/// given without its `.weight`), else the nearest within a few edits of it.
fn closest<'a>(wanted: &str, names: impl Iterator<Item = &'a str>) -> Vec<String> {
    const MAX: usize = 3;
    let names: Vec<&str> = names.collect();
    let mut extending: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| n.starts_with(wanted) && !wanted.is_empty())
        .collect();
    if !extending.is_empty() {
        extending.sort_by_key(|n| n.len());
        return extending.into_iter().take(MAX).map(String::from).collect();
    }
    let limit = (wanted.chars().count() / 3).max(2);
    let mut near: Vec<(usize, &str)> = names
        .iter()
        .map(|n| (edit_distance(wanted, n), *n))
        .filter(|(d, _)| *d <= limit)
        .collect();
    near.sort();
    let best = near.first().map_or(0, |(d, _)| *d);
    near.into_iter()
        .take_while(|(d, _)| *d == best)
        .take(MAX)
        .map(|(_, n)| n.into())
        .collect()
}

/// Levenshtein distance over chars.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::{closest, edit_distance};

    #[test]
    fn edit_distance_counts_insertions_deletions_and_substitutions() {
        assert_eq!(edit_distance("", ""), 0);
        assert_eq!(edit_distance("abc", ""), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("blk.0.ffn_up", "blk.0.ffn_up"), 0);
    }

    #[test]
    fn closest_prefers_names_that_extend_the_given_one() {
        let names = [
            "blk.0.ffn_up.weight",
            "blk.0.ffn_down.weight",
            "blk.10.ffn_up.weight",
        ];
        assert_eq!(
            closest("blk.0.ffn_up", names.into_iter()),
            ["blk.0.ffn_up.weight"]
        );
        assert_eq!(
            closest("blk.0.ffn_dwn.weight", names.into_iter()),
            ["blk.0.ffn_down.weight"]
        );
        assert!(closest("token_embd.weight", names.into_iter()).is_empty());
        assert!(closest("", names.into_iter()).is_empty());
    }
}
