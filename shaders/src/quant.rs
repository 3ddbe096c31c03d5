//! `shaders/quant/`: quantized weight matrices — dequantization, GEMV and GEMM.
//!
//! Kernels (`dequant.wgsl`, `gemv.wgsl` + an entry part per reduction path, `gemm.wgsl`) read
//! weights only through a layout part's `load_chunk` (eight weights) or, the GEMV, `load_unit`
//! (32) — `gguf_blocks.wgsl` + `gguf_units.wgsl` (GGUF block formats) or `affine_blocks.wgsl`
//! (group-wise int4/int8) — so each format is written once and every kernel exists for both
//! layouts.

use crate::core::{BITS, HALVES};
use crate::{Module, Overrides, Part, Requirements, part};

/// `MatrixParams` uniform and the `Chunk` of eight weights.
pub const MATRIX: Part = part!("quant/matrix.wgsl");
/// GGUF block formats; `FORMAT` 0 = Q8_0, 1 = Q4_0, 2 = Q4_1, 3 = Q4_K, 4 = Q6_K, 5 = MXFP4,
/// 6 = Q5_0, 7 = Q5_1, 8 = Q5_K, 9 = IQ4_NL, 10 = Q3_K, 11 = Q2_K.
pub const GGUF_BLOCKS: Part = part!("quant/gguf_blocks.wgsl");
/// GGUF weights 32 at a time for the GEMV (`load_unit`), each block's words read once.
pub const GGUF_UNITS: Part = part!("quant/gguf_units.wgsl");
/// Group-wise affine weights; `BITS` 4 | 8, `GROUP` 32 | 64 | 128, `HAS_ZEROS`.
pub const AFFINE_BLOCKS: Part = part!("quant/affine_blocks.wgsl");
/// Activations in and results out of the matmul kernels (`X_F16`).
pub const ACTIVATIONS: Part = part!("quant/activations.wgsl");
/// The GEMV core shared by both reduction paths.
pub const GEMV_CORE: Part = part!("quant/gemv.wgsl");
const GEMM_KERNEL: Part = part!("quant/gemm.wgsl");
const GEMM_SUBGROUP_KERNEL: Part = part!("quant/gemm_subgroup.wgsl");
const DEQUANT_KERNEL: Part = part!("quant/dequant.wgsl");
const GEMV_WORKGROUP: Part = part!("quant/gemv_workgroup.wgsl");
/// The GEMV's `BATCH_COLUMNS` override, first in every GEMV module.
const GEMV_BATCH: Part = part!("quant/gemv_batch.wgsl");
const GEMV_SUBGROUP_ENTRY: Part = part!("quant/gemv_subgroup.wgsl");

/// Every GGUF format after each list of kernel overrides.
macro_rules! gguf_sets {
    ($([$($kernel:expr),*]),*) => {
        &[$(
            &[$($kernel,)* ("FORMAT", 0.0)],
            &[$($kernel,)* ("FORMAT", 1.0)],
            &[$($kernel,)* ("FORMAT", 2.0)],
            &[$($kernel,)* ("FORMAT", 3.0)],
            &[$($kernel,)* ("FORMAT", 4.0)],
            &[$($kernel,)* ("FORMAT", 5.0)],
            &[$($kernel,)* ("FORMAT", 6.0)],
            &[$($kernel,)* ("FORMAT", 7.0)],
            &[$($kernel,)* ("FORMAT", 8.0)],
            &[$($kernel,)* ("FORMAT", 9.0)],
            &[$($kernel,)* ("FORMAT", 10.0)],
            &[$($kernel,)* ("FORMAT", 11.0)],
        )*]
    };
}

/// Every affine scheme (bits × group × zero points) after each list of kernel overrides.
macro_rules! affine_sets {
    ($([$($kernel:expr),*]),*) => {
        &[$(
            &[$($kernel,)* ("BITS", 4.0), ("GROUP", 32.0), ("HAS_ZEROS", 0.0)],
            &[$($kernel,)* ("BITS", 4.0), ("GROUP", 32.0), ("HAS_ZEROS", 1.0)],
            &[$($kernel,)* ("BITS", 4.0), ("GROUP", 64.0), ("HAS_ZEROS", 0.0)],
            &[$($kernel,)* ("BITS", 4.0), ("GROUP", 64.0), ("HAS_ZEROS", 1.0)],
            &[$($kernel,)* ("BITS", 4.0), ("GROUP", 128.0), ("HAS_ZEROS", 0.0)],
            &[$($kernel,)* ("BITS", 4.0), ("GROUP", 128.0), ("HAS_ZEROS", 1.0)],
            &[$($kernel,)* ("BITS", 8.0), ("GROUP", 32.0), ("HAS_ZEROS", 0.0)],
            &[$($kernel,)* ("BITS", 8.0), ("GROUP", 32.0), ("HAS_ZEROS", 1.0)],
            &[$($kernel,)* ("BITS", 8.0), ("GROUP", 64.0), ("HAS_ZEROS", 0.0)],
            &[$($kernel,)* ("BITS", 8.0), ("GROUP", 64.0), ("HAS_ZEROS", 1.0)],
            &[$($kernel,)* ("BITS", 8.0), ("GROUP", 128.0), ("HAS_ZEROS", 0.0)],
            &[$($kernel,)* ("BITS", 8.0), ("GROUP", 128.0), ("HAS_ZEROS", 1.0)],
        )*]
    };
}

/// Activation and result dtypes (f32 or f16 each) after each list of kernel overrides.
macro_rules! io_sets {
    ($sets:ident, [$($kernel:expr),*]) => {
        $sets!(
            [$($kernel,)* ("X_F16", 0.0), ("Y_F16", 0.0)],
            [$($kernel,)* ("X_F16", 1.0), ("Y_F16", 0.0)],
            [$($kernel,)* ("X_F16", 0.0), ("Y_F16", 1.0)],
            [$($kernel,)* ("X_F16", 1.0), ("Y_F16", 1.0)]
        )
    };
}

/// Activation and result dtypes and `BATCH_COLUMNS` (1, 2, 4, 8) after each list of kernel
/// overrides.
macro_rules! gemv_sets {
    ($sets:ident) => {
        $sets!(
            [
                ("WORKGROUP_SIZE", 64.0),
                ("BATCH_COLUMNS", 1.0),
                ("X_F16", 0.0),
                ("Y_F16", 0.0)
            ],
            [
                ("WORKGROUP_SIZE", 64.0),
                ("BATCH_COLUMNS", 1.0),
                ("X_F16", 1.0),
                ("Y_F16", 0.0)
            ],
            [
                ("WORKGROUP_SIZE", 64.0),
                ("BATCH_COLUMNS", 1.0),
                ("X_F16", 0.0),
                ("Y_F16", 1.0)
            ],
            [
                ("WORKGROUP_SIZE", 64.0),
                ("BATCH_COLUMNS", 1.0),
                ("X_F16", 1.0),
                ("Y_F16", 1.0)
            ],
            [
                ("WORKGROUP_SIZE", 64.0),
                ("BATCH_COLUMNS", 2.0),
                ("X_F16", 0.0),
                ("Y_F16", 0.0)
            ],
            [
                ("WORKGROUP_SIZE", 64.0),
                ("BATCH_COLUMNS", 2.0),
                ("X_F16", 1.0),
                ("Y_F16", 0.0)
            ],
            [
                ("WORKGROUP_SIZE", 64.0),
                ("BATCH_COLUMNS", 2.0),
                ("X_F16", 0.0),
                ("Y_F16", 1.0)
            ],
            [
                ("WORKGROUP_SIZE", 64.0),
                ("BATCH_COLUMNS", 2.0),
                ("X_F16", 1.0),
                ("Y_F16", 1.0)
            ],
            [
                ("WORKGROUP_SIZE", 64.0),
                ("BATCH_COLUMNS", 4.0),
                ("X_F16", 0.0),
                ("Y_F16", 0.0)
            ],
            [
                ("WORKGROUP_SIZE", 64.0),
                ("BATCH_COLUMNS", 4.0),
                ("X_F16", 1.0),
                ("Y_F16", 0.0)
            ],
            [
                ("WORKGROUP_SIZE", 64.0),
                ("BATCH_COLUMNS", 4.0),
                ("X_F16", 0.0),
                ("Y_F16", 1.0)
            ],
            [
                ("WORKGROUP_SIZE", 64.0),
                ("BATCH_COLUMNS", 4.0),
                ("X_F16", 1.0),
                ("Y_F16", 1.0)
            ],
            [
                ("WORKGROUP_SIZE", 64.0),
                ("BATCH_COLUMNS", 8.0),
                ("X_F16", 0.0),
                ("Y_F16", 0.0)
            ],
            [
                ("WORKGROUP_SIZE", 64.0),
                ("BATCH_COLUMNS", 8.0),
                ("X_F16", 1.0),
                ("Y_F16", 0.0)
            ],
            [
                ("WORKGROUP_SIZE", 64.0),
                ("BATCH_COLUMNS", 8.0),
                ("X_F16", 0.0),
                ("Y_F16", 1.0)
            ],
            [
                ("WORKGROUP_SIZE", 64.0),
                ("BATCH_COLUMNS", 8.0),
                ("X_F16", 1.0),
                ("Y_F16", 1.0)
            ]
        )
    };
}

const GEMV_GGUF_SETS: &[Overrides] = gemv_sets!(gguf_sets);
const GEMV_AFFINE_SETS: &[Overrides] = gemv_sets!(affine_sets);
const GEMM_GGUF_SETS: &[Overrides] = io_sets!(gguf_sets, []);
const GEMM_AFFINE_SETS: &[Overrides] = io_sets!(affine_sets, []);

/// GGUF blocks -> f32; entry `dequant`.
pub static DEQUANT: Module = Module {
    name: "quant/dequant",
    parts: &[HALVES, BITS, MATRIX, GGUF_BLOCKS, DEQUANT_KERNEL],
    requires: Requirements::PORTABLE,
    entry_points: &["dequant"],
    override_sets: gguf_sets!([("WORKGROUP_SIZE", 256.0)]),
};

/// Affine int4/int8 -> f32; entry `dequant`.
pub static DEQUANT_AFFINE: Module = Module {
    name: "quant/dequant_affine",
    parts: &[HALVES, MATRIX, AFFINE_BLOCKS, DEQUANT_KERNEL],
    requires: Requirements::PORTABLE,
    entry_points: &["dequant"],
    override_sets: affine_sets!([("WORKGROUP_SIZE", 256.0)]),
};

/// GEMV over GGUF blocks, workgroup-memory reduction; entry `gemv`.
pub static GEMV: Module = Module {
    name: "quant/gemv",
    parts: &[
        GEMV_BATCH,
        HALVES,
        BITS,
        MATRIX,
        GGUF_BLOCKS,
        GGUF_UNITS,
        ACTIVATIONS,
        GEMV_CORE,
        GEMV_WORKGROUP,
    ],
    requires: Requirements::PORTABLE,
    entry_points: &["gemv"],
    override_sets: GEMV_GGUF_SETS,
};

/// GEMV over GGUF blocks, one subgroup per row; entry `gemv`.
pub static GEMV_SUBGROUP: Module = Module {
    name: "quant/gemv_subgroup",
    parts: &[
        GEMV_BATCH,
        HALVES,
        BITS,
        MATRIX,
        GGUF_BLOCKS,
        GGUF_UNITS,
        ACTIVATIONS,
        GEMV_CORE,
        GEMV_SUBGROUP_ENTRY,
    ],
    requires: Requirements::SUBGROUPS,
    entry_points: &["gemv"],
    override_sets: GEMV_GGUF_SETS,
};

/// GEMV over affine weights, workgroup-memory reduction; entry `gemv`.
pub static GEMV_AFFINE: Module = Module {
    name: "quant/gemv_affine",
    parts: &[
        GEMV_BATCH,
        HALVES,
        MATRIX,
        AFFINE_BLOCKS,
        ACTIVATIONS,
        GEMV_CORE,
        GEMV_WORKGROUP,
    ],
    requires: Requirements::PORTABLE,
    entry_points: &["gemv"],
    override_sets: GEMV_AFFINE_SETS,
};

/// GEMV over affine weights, one subgroup per row; entry `gemv`.
pub static GEMV_AFFINE_SUBGROUP: Module = Module {
    name: "quant/gemv_affine_subgroup",
    parts: &[
        GEMV_BATCH,
        HALVES,
        MATRIX,
        AFFINE_BLOCKS,
        ACTIVATIONS,
        GEMV_CORE,
        GEMV_SUBGROUP_ENTRY,
    ],
    requires: Requirements::SUBGROUPS,
    entry_points: &["gemv"],
    override_sets: GEMV_AFFINE_SETS,
};

/// Tiled GEMM over GGUF blocks (batch ≥ 9); entry `gemm`.
pub static GEMM: Module = Module {
    name: "quant/gemm",
    parts: &[HALVES, BITS, MATRIX, GGUF_BLOCKS, ACTIVATIONS, GEMM_KERNEL],
    requires: Requirements::PORTABLE,
    entry_points: &["gemm"],
    override_sets: GEMM_GGUF_SETS,
};

/// Tiled GEMM over affine weights (batch ≥ 9); entry `gemm`.
pub static GEMM_AFFINE: Module = Module {
    name: "quant/gemm_affine",
    parts: &[HALVES, MATRIX, AFFINE_BLOCKS, ACTIVATIONS, GEMM_KERNEL],
    requires: Requirements::PORTABLE,
    entry_points: &["gemm"],
    override_sets: GEMM_AFFINE_SETS,
};

/// Subgroup GEMM over GGUF blocks for adapters whose subgroups are SIMD vectors; entry `gemm`.
pub static GEMM_SUBGROUP: Module = Module {
    name: "quant/gemm_subgroup",
    parts: &[
        HALVES,
        BITS,
        MATRIX,
        GGUF_BLOCKS,
        ACTIVATIONS,
        GEMM_SUBGROUP_KERNEL,
    ],
    requires: Requirements::SUBGROUPS,
    entry_points: &["gemm"],
    override_sets: GEMM_GGUF_SETS,
};

/// Subgroup GEMM over affine weights for adapters whose subgroups are SIMD vectors; entry
/// `gemm`.
pub static GEMM_AFFINE_SUBGROUP: Module = Module {
    name: "quant/gemm_affine_subgroup",
    parts: &[
        HALVES,
        MATRIX,
        AFFINE_BLOCKS,
        ACTIVATIONS,
        GEMM_SUBGROUP_KERNEL,
    ],
    requires: Requirements::SUBGROUPS,
    entry_points: &["gemm"],
    override_sets: GEMM_AFFINE_SETS,
};
