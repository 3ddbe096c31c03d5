//! Dequantize-matmul family: GGUF block formats. So far: Q8_0, Q4_0 and Q4_1 — the byte layouts
//! ([`format`]), the CPU reference and ggml-compatible quantizers ([`reference`]), and GPU
//! dequantization to f32 ([`dequant`]), bit-exact against the reference.

pub mod dequant;
pub mod format;
pub mod gguf;
pub mod reference;

pub use dequant::Dequantize;
pub use format::Format;
