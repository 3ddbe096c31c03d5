//! `shaders/quant/`: quantized weight matrices — dequantization and GEMV over GGUF block formats.
//!
//! Kernels (`dequant.wgsl`, `gemv.wgsl` + an entry part per reduction path) read weights only
//! through a layout part's `load_chunk` (`gguf_blocks.wgsl`), so each format is written once.

use crate::core::{BITS, HALVES};
use crate::{Module, Part, Requirements, part};

/// `MatrixParams` uniform and the `Chunk` of eight weights.
pub const MATRIX: Part = part!("quant/matrix.wgsl");
/// GGUF block formats; `FORMAT` 0 = Q8_0, 1 = Q4_0, 2 = Q4_1, 3 = Q4_K, 4 = Q6_K, 5 = MXFP4.
pub const GGUF_BLOCKS: Part = part!("quant/gguf_blocks.wgsl");
/// The GEMV core shared by both reduction paths.
pub const GEMV_CORE: Part = part!("quant/gemv.wgsl");

/// One override set per GGUF format for dequant.
const DEQUANT_SETS: &[crate::Overrides] = &[
    &[("WORKGROUP_SIZE", 256.0), ("FORMAT", 0.0)],
    &[("WORKGROUP_SIZE", 256.0), ("FORMAT", 1.0)],
    &[("WORKGROUP_SIZE", 256.0), ("FORMAT", 2.0)],
    &[("WORKGROUP_SIZE", 256.0), ("FORMAT", 3.0)],
    &[("WORKGROUP_SIZE", 256.0), ("FORMAT", 4.0)],
    &[("WORKGROUP_SIZE", 256.0), ("FORMAT", 5.0)],
];

/// GEMV override sets: every GGUF format × f32 (`X_F16` 0) or f16 (1) activations.
macro_rules! gemv_sets {
    ($($format:literal),*) => {
        &[$(
            &[("WORKGROUP_SIZE", 64.0), ("FORMAT", $format), ("X_F16", 0.0)],
            &[("WORKGROUP_SIZE", 64.0), ("FORMAT", $format), ("X_F16", 1.0)],
        )*]
    };
}
const GEMV_SETS: &[crate::Overrides] = gemv_sets!(0.0, 1.0, 2.0, 3.0, 4.0, 5.0);

/// GGUF blocks -> f32; entry `dequant`.
pub static DEQUANT: Module = Module {
    name: "quant/dequant",
    parts: &[
        HALVES,
        BITS,
        MATRIX,
        GGUF_BLOCKS,
        part!("quant/dequant.wgsl"),
    ],
    requires: Requirements::PORTABLE,
    entry_points: &["dequant"],
    override_sets: DEQUANT_SETS,
};

/// GEMV over GGUF blocks, workgroup-memory reduction; entry `gemv`.
pub static GEMV: Module = Module {
    name: "quant/gemv",
    parts: &[
        HALVES,
        BITS,
        MATRIX,
        GGUF_BLOCKS,
        GEMV_CORE,
        part!("quant/gemv_workgroup.wgsl"),
    ],
    requires: Requirements::PORTABLE,
    entry_points: &["gemv"],
    override_sets: GEMV_SETS,
};

/// GEMV over GGUF blocks, subgroup reduction; entry `gemv`.
pub static GEMV_SUBGROUP: Module = Module {
    name: "quant/gemv_subgroup",
    parts: &[
        HALVES,
        BITS,
        MATRIX,
        GGUF_BLOCKS,
        GEMV_CORE,
        part!("quant/gemv_subgroup.wgsl"),
    ],
    requires: Requirements {
        f16: false,
        subgroups: true,
    },
    entry_points: &["gemv"],
    override_sets: GEMV_SETS,
};
