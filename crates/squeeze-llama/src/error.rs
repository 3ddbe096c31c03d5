//! What can be wrong with a model for this engine, each naming the metadata key, tensor or
//! architecture involved. Reaches callers inside [`squeeze::Error::Family`] (recover it with
//! `downcast_ref::<LlamaError>()`).

#[derive(Debug, thiserror::Error)]
pub enum LlamaError {
    #[error(
        "architecture `{architecture}` is not supported: squeeze generate runs `llama` models only"
    )]
    Architecture { architecture: String },

    #[error("metadata `{key}` is missing")]
    MissingMetadata { key: String },

    #[error("metadata `{key}` must be {expected}, got {actual}")]
    BadMetadata {
        key: String,
        expected: String,
        actual: String,
    },

    #[error("tensor `{tensor}` must have shape {expected}, got {actual}")]
    Shape {
        tensor: String,
        expected: String,
        actual: String,
    },

    #[error("{path}: {what}")]
    Folder {
        path: std::path::PathBuf,
        what: String,
    },

    #[error("tensor `{tensor}` is {ggml_type}: {why}")]
    UnsupportedType {
        tensor: String,
        ggml_type: String,
        why: &'static str,
    },
}

impl From<LlamaError> for squeeze::Error {
    fn from(e: LlamaError) -> Self {
        squeeze::Error::Family(Box::new(e))
    }
}
