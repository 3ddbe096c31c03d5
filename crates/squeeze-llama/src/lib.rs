//! A thin LLaMA reference engine on the public squeeze API: the glue kernels between the
//! families' matmuls, attention and sampling (`shaders/llama/`), each with a CPU reference.
//!
//! - [`embedding`]: rows of an f32/f16 table by device token ids.
//! - [`rms_norm`]: RMSNorm with a per-column weight.
//! - [`rope`]: rotary embedding, adjacent pairs (GGUF) or halves (Hugging Face).
//! - [`swiglu`], [`residual`]: the FFN activation and the in-place residual add.
//! - [`mod@reference`]: the CPU definition of each.

mod check;
pub mod embedding;
pub mod params;
pub mod reference;
pub mod residual;
pub mod rms_norm;
pub mod rope;
pub mod swiglu;

pub use embedding::{Embedding, Table, TableDtype};
pub use residual::Residual;
pub use rms_norm::{NormShape, RmsNorm};
pub use rope::{Pairing, Rope, RopeConfig};
pub use swiglu::SwiGlu;
