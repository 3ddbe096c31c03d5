//! Dequantize-matmul family: GGUF block formats Q8_0, Q4_0, Q4_1, Q4_K, Q6_K and MXFP4 (byte
//! layouts in [`format`], CPU reference and ggml-compatible quantizers in [`reference`]) and
//! group-wise affine int4/int8 weights ([`affine`]); GPU dequantization to f32 ([`dequant`],
//! bit-exact against the references) and GEMV for batches of 1 to 8 ([`gemv`]).

pub mod affine;
pub mod dequant;
pub mod format;
pub mod gemv;
pub mod gguf;
pub mod matrix;
pub mod reference;

pub use affine::{Affine, AffineRef, AffineWeights};
pub use dequant::Dequantize;
pub use format::Format;
pub use gemv::{Activations, Gemv, Reduction};
pub use matrix::{HostWeights, QuantWeights, Scheme};
