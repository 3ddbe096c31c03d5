//! `shaders/llama/`: the glue kernels of the LLaMA reference engine (`squeeze-llama`) — embedding
//! rows, RMSNorm, RoPE, SwiGLU, the residual add, and f32 → f16 narrowing for an f16 KV cache.
//! The matmuls, attention and sampling of a step are the families' kernels; these are the small
//! passes between them.

use crate::core::{GRID, HALVES};
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

/// RMSNorm of f32 rows, one workgroup per row; entry `rms_norm`.
pub static RMS_NORM: Module = Module {
    name: "llama/rms_norm",
    parts: &[PARAMS, part!("llama/rms_norm.wgsl")],
    requires: Requirements::PORTABLE,
    entry_points: &["rms_norm"],
    override_sets: &[&[("WORKGROUP_SIZE", 64.0)]],
};

/// Rotary embedding in place, adjacent pairs (`HALVES` 0, GGUF) or halves (`HALVES` 1, Hugging
/// Face); entry `rope`.
pub static ROPE: Module = Module {
    name: "llama/rope",
    parts: &[PARAMS, part!("llama/rope.wgsl")],
    requires: Requirements::PORTABLE,
    entry_points: &["rope"],
    override_sets: &[
        &[("WORKGROUP_SIZE", 256.0), ("HALVES", 0.0)],
        &[("WORKGROUP_SIZE", 256.0), ("HALVES", 1.0)],
    ],
};

/// silu(gate) · up; entry `swiglu`.
pub static SWIGLU: Module = Module {
    name: "llama/swiglu",
    parts: &[GRID, part!("llama/swiglu.wgsl")],
    requires: Requirements::PORTABLE,
    entry_points: &["swiglu"],
    override_sets: &[&[("WORKGROUP_SIZE", 256.0)]],
};

/// h += delta in place; entry `residual_add`.
pub static RESIDUAL: Module = Module {
    name: "llama/residual",
    parts: &[GRID, part!("llama/residual.wgsl")],
    requires: Requirements::PORTABLE,
    entry_points: &["residual_add"],
    override_sets: &[&[("WORKGROUP_SIZE", 256.0)]],
};

/// f32 → f16 (round to nearest even), two per word; entry `narrow_f16`.
pub static NARROW: Module = Module {
    name: "llama/narrow",
    parts: &[GRID, HALVES, part!("llama/narrow.wgsl")],
    requires: Requirements::PORTABLE,
    entry_points: &["narrow_f16"],
    override_sets: &[&[("WORKGROUP_SIZE", 256.0)]],
};
