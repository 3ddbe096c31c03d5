//! Dequantize-matmul family: the twelve GGUF block formats of [`Format::ALL`] — Q8_0, Q4_0, Q4_1,
//! Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL and MXFP4 (byte layouts in
//! [`format`](mod@format), CPU reference and ggml-compatible quantizers in
//! [`reference`](mod@reference)) — and group-wise affine int4/int8 weights ([`affine`]); GPU
//! dequantization to f32 ([`dequant`], bit-exact against the references), GEMV for batches of 1
//! to 8 ([`gemv`]), tiled GEMM for prefill ([`gemm`]) and [`matmul`], which picks between them;
//! a GGUF file reader and writer ([`gguf`]).

pub mod activations;
pub mod affine;
pub mod dequant;
pub mod format;
pub mod gemm;
pub mod gemv;
pub mod gguf;
pub mod matmul;
pub mod matrix;
pub mod reference;

pub use activations::{Activations, Problem, YRows};
pub use affine::{Affine, AffineRef, AffineWeights};
pub use dequant::Dequantize;
pub use format::Format;
pub use gemm::{Gemm, GemmPath};
pub use gemv::{Gemv, Reduction};
pub use matmul::Matmul;
pub use matrix::{HostWeights, QuantWeights, Scheme};
