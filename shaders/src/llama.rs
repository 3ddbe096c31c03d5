//! `shaders/llama/`: the glue kernels of the LLaMA reference engine (`squeeze-llama`) — embedding
//! rows, RMSNorm (with the residual add before it), RoPE (also splitting stacked q|k|v rows) and
//! SwiGLU.
//! The matmuls, attention and sampling of a step are the families' kernels; these are the small
//! passes between them.

use crate::core::HALVES;
use crate::{Module, Part, Requirements, part};

/// The `params` uniform of embedding rows, RMSNorm and RoPE (`LlamaParams`).
pub const PARAMS: Part = part!("llama/params.wgsl");

/// Table rows gathered by device token ids, f32 (`FORMAT` 0), f16 (`FORMAT` 1) or BF16
/// (`FORMAT` 2) table to f32;
/// entry `embedding_rows`.
pub static EMBEDDING: Module = Module {
    name: "llama/embedding",
    parts: &[PARAMS, HALVES, part!("llama/embedding.wgsl")],
    requires: Requirements::PORTABLE,
    entry_points: &["embedding_rows"],
    override_sets: &[
        &[("WORKGROUP_SIZE", 256.0), ("FORMAT", 0.0)],
        &[("WORKGROUP_SIZE", 256.0), ("FORMAT", 1.0)],
        &[("WORKGROUP_SIZE", 256.0), ("FORMAT", 2.0)],
    ],
};

/// RMSNorm of f32 rows, one workgroup per row (entry `rms_norm`), or the residual add then
/// RMSNorm of the sum (entry `add_rms_norm`).
pub static RMS_NORM: Module = Module {
    name: "llama/rms_norm",
    parts: &[PARAMS, part!("llama/rms_norm.wgsl")],
    requires: Requirements::PORTABLE,
    entry_points: &["rms_norm", "add_rms_norm"],
    override_sets: &[&[("WORKGROUP_SIZE", 64.0)]],
};

/// Rotary embedding, adjacent pairs (`HALVES` 0, GGUF) or halves (`HALVES` 1, Hugging Face): in
/// place (entry `rope`), or from stacked Q|K|V rows into q, k and v (entry `rope_qkv`).
pub static ROPE: Module = Module {
    name: "llama/rope",
    parts: &[PARAMS, part!("llama/rope.wgsl")],
    requires: Requirements::PORTABLE,
    entry_points: &["rope", "rope_qkv"],
    override_sets: &[
        &[("WORKGROUP_SIZE", 256.0), ("HALVES", 0.0)],
        &[("WORKGROUP_SIZE", 256.0), ("HALVES", 1.0)],
    ],
};

/// silu(gate) · up, from separate buffers (entry `swiglu`) or stacked gate|up rows (entry
/// `swiglu_stacked`).
pub static SWIGLU: Module = Module {
    name: "llama/swiglu",
    parts: &[PARAMS, part!("llama/swiglu.wgsl")],
    requires: Requirements::PORTABLE,
    entry_points: &["swiglu", "swiglu_stacked"],
    override_sets: &[&[("WORKGROUP_SIZE", 256.0)]],
};
