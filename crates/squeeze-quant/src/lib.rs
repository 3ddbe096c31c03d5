//! Dequantize-matmul family: GGUF block formats Q8_0, Q4_0, Q4_1, Q4_K, Q6_K and MXFP4 — the
//! byte layouts ([`format`]), the CPU reference and ggml-compatible quantizers ([`reference`]),
//! GPU dequantization to f32 ([`dequant`], bit-exact against the reference) and GEMV for batches
//! of 1 to 8 ([`gemv`]).

pub mod dequant;
pub mod format;
pub mod gemv;
pub mod gguf;
pub mod matrix;
pub mod reference;

pub use dequant::Dequantize;
pub use format::Format;
pub use gemv::{Activations, Gemv, Reduction};
