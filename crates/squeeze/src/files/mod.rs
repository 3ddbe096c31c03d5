//! squeeze's file commands as library functions, shared by the `squeeze` command and the Python
//! module: the path policy (inputs checked, outputs written atomically), GGUF to f32
//! safetensors, and DFloat11 compress/decompress. Progress is reported through callbacks; the
//! caller draws it (or not) and prints the summaries.

pub mod companions;
pub mod dfloat11;
pub mod gguf;
pub mod paths;

use crate::dfloat11::Df11Error;
use crate::quant::gguf::GgufError;

/// What a file function can fail with: squeeze's own error (arguments, paths, the device), or
/// a format's (GGUF, DFloat11), each with its message.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error(transparent)]
    Squeeze(#[from] crate::Error),
    #[error(transparent)]
    Gguf(#[from] GgufError),
    #[error(transparent)]
    Df11(#[from] Df11Error),
}
