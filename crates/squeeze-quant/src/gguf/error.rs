//! Everything that can be wrong with a GGUF file, each naming the field or tensor involved and
//! the expected and actual value. Reading never panics on bad input; it returns one of these.

use std::path::PathBuf;

use crate::gguf::value::ValueType;

#[derive(Debug, thiserror::Error)]
pub enum GgufError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("not a GGUF file: magic must be the bytes `GGUF`, got {actual:02x?}")]
    BadMagic { actual: Vec<u8> },

    #[error(
        "big-endian GGUF file (version {version} byte-swapped): only little-endian files are \
         supported"
    )]
    BigEndian { version: u32 },

    #[error("GGUF version must be 2 or 3, got {actual}")]
    BadVersion { actual: u32 },

    #[error("{what} at byte {offset}: needs {needed} bytes, the file has {available} left")]
    Truncated {
        what: String,
        offset: u64,
        needed: u64,
        available: u64,
    },

    #[error(
        "{what} is {count}, but the {available} bytes left can hold at most {max} (each takes at \
         least {min_bytes} bytes)"
    )]
    CountTooLarge {
        what: String,
        count: u64,
        available: u64,
        max: u64,
        min_bytes: u64,
    },

    #[error("{what} is not valid UTF-8")]
    BadUtf8 { what: String },

    #[error("{what}: value type id must be 0..=12, got {actual}")]
    UnknownValueType { what: String, actual: u32 },

    #[error("{what}: a bool must be the byte 0 or 1, got {actual}")]
    BadBool { what: String, actual: u8 },

    #[error("{what}: arrays nest at most {max} deep")]
    NestingTooDeep { what: String, max: usize },

    #[error("{what}: array elements must all be {expected}, element {index} is {actual}")]
    MixedArray {
        what: String,
        index: usize,
        expected: ValueType,
        actual: ValueType,
    },

    #[error("metadata key `{key}` appears twice")]
    DuplicateKey { key: String },

    #[error("general.alignment must be {expected}, got {actual}")]
    BadAlignment {
        expected: &'static str,
        actual: String,
    },

    #[error("tensor `{tensor}`: ggml type id {actual} is unknown")]
    UnknownGgmlType { tensor: String, actual: u32 },

    #[error("tensor `{tensor}`: n_dims must be 1..={max}, got {actual}")]
    BadDimCount {
        tensor: String,
        max: u32,
        actual: u32,
    },

    #[error("tensor `{tensor}`: dimension {axis} must be at least 1, got 0 (dims {dims:?})")]
    ZeroDim {
        tensor: String,
        axis: usize,
        dims: Vec<u64>,
    },

    #[error("tensor `{tensor}`: {what} of dims {dims:?} overflows u64")]
    DimOverflow {
        tensor: String,
        what: &'static str,
        dims: Vec<u64>,
    },

    #[error(
        "tensor `{tensor}`: rows of {ggml_type} must be a whole number of {block}-weight blocks, \
         got a row length (dims[0]) of {row}"
    )]
    PartialBlock {
        tensor: String,
        ggml_type: String,
        block: u64,
        row: u64,
    },

    #[error("tensor name `{tensor}` appears twice")]
    DuplicateTensor { tensor: String },

    #[error(
        "tensor `{tensor}`: data offset must be a multiple of the alignment {alignment}, got {offset}"
    )]
    MisalignedOffset {
        tensor: String,
        alignment: u64,
        offset: u64,
    },

    #[error(
        "tensor `{tensor}`: data bytes {start}..{end} must lie inside the file of {file_len} bytes"
    )]
    DataPastEnd {
        tensor: String,
        start: u64,
        end: u64,
        file_len: u64,
    },

    #[error(
        "tensors `{first}` and `{second}` overlap: {second} starts at byte {start}, before {first} ends at {end}"
    )]
    Overlap {
        first: String,
        second: String,
        start: u64,
        end: u64,
    },

    #[error("tensor `{tensor}`: data must be {expected} bytes for its type and dims, got {actual}")]
    DataSize {
        tensor: String,
        expected: u64,
        actual: u64,
    },

    #[error("tensor `{tensor}` not found{}", hint(suggestions))]
    NoSuchTensor {
        tensor: String,
        /// The file's names closest to `tensor` (best first), for a "did you mean".
        suggestions: Vec<String>,
    },

    #[error("tensor `{tensor}` is {ggml_type}, which squeeze cannot {op} yet")]
    Unsupported {
        tensor: String,
        ggml_type: String,
        /// What was asked: "convert to f32", "multiply (matmul)".
        op: &'static str,
    },

    #[error("tensor `{tensor}`: matmul needs a 2-D weight matrix, got dims {dims:?}")]
    NotAMatrix { tensor: String, dims: Vec<u64> },

    /// A squeeze kernel refused the tensor (a device limit, a bad activation shape) or failed.
    #[error("tensor `{tensor}`: {source}")]
    Kernel {
        tensor: String,
        #[source]
        source: squeeze_core::Error,
    },
}

fn hint(suggestions: &[String]) -> String {
    if suggestions.is_empty() {
        return "; `squeeze gguf list FILE` lists the file's tensors".into();
    }
    let names: Vec<_> = suggestions.iter().map(|s| format!("`{s}`")).collect();
    format!("; did you mean {}?", names.join(" or "))
}

/// Into squeeze's one error type: file errors are kept whole as
/// [`squeeze_core::Error::Family`] (recover them with `downcast_ref::<GgufError>()`).
impl From<GgufError> for squeeze_core::Error {
    fn from(e: GgufError) -> Self {
        squeeze_core::Error::Family(Box::new(e))
    }
}
