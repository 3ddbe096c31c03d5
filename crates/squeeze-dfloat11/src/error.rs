//! Errors of the DF11 family: malformed checkpoints and units name the unit, the tensor or key
//! and the expected and actual values; GPU failures keep the runtime's own [`squeeze_core::Error`].

use std::path::PathBuf;

/// Result alias of this crate.
pub type Result<T, E = Df11Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Df11Error {
    /// A unit's tensor has the wrong size, dtype or contents.
    #[error("DF11 unit `{unit}`: `{tensor}` {what} must be {expected}, got {actual}")]
    Tensor {
        unit: String,
        tensor: &'static str,
        what: &'static str,
        expected: String,
        actual: String,
    },

    /// A decode table entry that cannot be followed to a symbol.
    #[error("DF11 unit `{unit}`: luts table {table} entry {entry} (level {level}): {problem}")]
    Lut {
        unit: String,
        table: usize,
        entry: usize,
        level: usize,
        problem: String,
    },

    /// The encoded stream disagrees with the gaps or output positions that index it.
    #[error("DF11 unit `{unit}`: {what}")]
    Stream { unit: String, what: String },

    /// `threads_per_block` / `bytes_per_thread` outside what a decoder supports.
    #[error("DF11 layout: {what} must be {expected}, got {actual}")]
    Layout {
        what: &'static str,
        expected: String,
        actual: String,
    },

    /// A key of `config.json` is missing or has the wrong type.
    #[error("{path}: config key `{key}` {problem}")]
    Config {
        path: PathBuf,
        key: String,
        problem: String,
    },

    /// A checkpoint that does not hold what DF11 requires (tensors, names, dtypes).
    #[error("{path}: {what}")]
    Checkpoint { path: PathBuf, what: String },

    /// A decoded weight that does not fit its shape or name.
    #[error("weight `{name}`: {what}")]
    Weight { name: String, what: String },

    /// Input to the encoder that is not BF16 weights.
    #[error("encoder input `{name}`: {what}")]
    Input { name: String, what: String },

    /// Inputs with no tensor the chosen format compresses: writing them would only copy.
    #[error("{path}: nothing to compress: it holds no {wanted}; found {found}")]
    NothingToCompress {
        path: PathBuf,
        wanted: &'static str,
        /// Tensor counts by dtype and rank.
        found: String,
    },

    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{path}: safetensors: {message}")]
    Safetensors { path: PathBuf, message: String },

    /// A native unit's tensor has the wrong size, dtype or contents.
    #[error("native unit `{unit}`: `{tensor}` {what} must be {expected}, got {actual}")]
    NativeTensor {
        unit: String,
        tensor: &'static str,
        what: &'static str,
        expected: String,
        actual: String,
    },

    /// A native unit's code lengths are not a valid length-limited prefix code.
    #[error("native unit `{unit}`: `lengths`: {problem}")]
    NativeCode {
        unit: String,
        problem: crate::native::huffman::CodeProblem,
    },

    /// A native unit's bit stream disagrees with its chunk offsets.
    #[error("native unit `{unit}`: chunk {chunk}: {what}")]
    NativeStream {
        unit: String,
        chunk: usize,
        what: String,
    },

    #[error(transparent)]
    Gpu(#[from] squeeze_core::Error),
}

impl Df11Error {
    pub(crate) fn tensor(
        unit: &str,
        tensor: &'static str,
        what: &'static str,
        expected: impl std::fmt::Display,
        actual: impl std::fmt::Display,
    ) -> Self {
        Self::Tensor {
            unit: unit.to_string(),
            tensor,
            what,
            expected: expected.to_string(),
            actual: actual.to_string(),
        }
    }

    pub(crate) fn native(
        unit: &str,
        tensor: &'static str,
        what: &'static str,
        expected: impl std::fmt::Display,
        actual: impl std::fmt::Display,
    ) -> Self {
        Self::NativeTensor {
            unit: unit.to_string(),
            tensor,
            what,
            expected: expected.to_string(),
            actual: actual.to_string(),
        }
    }

    pub(crate) fn stream(unit: &str, what: impl Into<String>) -> Self {
        Self::Stream {
            unit: unit.to_string(),
            what: what.into(),
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}

/// Into squeeze's one error type: GPU errors stay themselves, format errors are kept whole as
/// [`squeeze_core::Error::Family`] (recover them with `downcast_ref::<Df11Error>()`).
impl From<Df11Error> for squeeze_core::Error {
    fn from(e: Df11Error) -> Self {
        match e {
            Df11Error::Gpu(e) => e,
            other => squeeze_core::Error::Family(Box::new(other)),
        }
    }
}
