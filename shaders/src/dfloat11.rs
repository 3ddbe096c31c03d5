//! `shaders/dfloat11/`: DFloat11 entropy decoding.

use crate::core::{BITS, HALVES};
use crate::{Module, Overrides, Part, Requirements, part};

/// The raking workgroup scan, core WGSL (also the subgroup scan's fallback).
pub const SCAN: Part = part!("dfloat11/scan.wgsl");
/// A thread's pass over its codes and the unit's bindings, shared by the decoder and the fused
/// GEMV; it calls `block_scan_init` and `block_exclusive_scan`.
pub const CODES: Part = part!("dfloat11/codes.wgsl");
/// The sign/mantissa bytes and `bf16_at`, shared by the DF11 and native kernels.
pub const SIGN_MANTISSA: Part = part!("dfloat11/sign_mantissa.wgsl");
/// The decoder proper.
pub const DECODE_MAIN: Part = part!("dfloat11/decode.wgsl");
/// The fused GEMV's `params` uniform, shared by its two passes.
pub const GEMV_PARAMS: Part = part!("dfloat11/gemv_params.wgsl");
/// Activation reads and result writes of the BF16-weight GEMVs.
pub const GEMV_VECTORS: Part = part!("dfloat11/gemv_vectors.wgsl");
/// The GEMVs' activation-dtype override, first in every module that reads activations.
pub const GEMV_X: Part = part!("dfloat11/gemv_x.wgsl");
/// The fused GEMV's first pass.
pub const GEMV_MAIN: Part = part!("dfloat11/gemv.wgsl");
/// The summation chunk and the sums of one, shared by every BF16-weight GEMV.
pub const GEMV_SUMS: Part = part!("dfloat11/gemv_sums.wgsl");
/// One chunk's sums in the shared order (BF16 and fused native GEMVs).
pub const GEMV_CHUNK: Part = part!("dfloat11/gemv_chunk.wgsl");
/// The row driver and tree of the shared order (BF16, fused native, fused DF11 pass 3).
pub const GEMV_ROWS: Part = part!("dfloat11/gemv_rows.wgsl");

/// Block sizes with registered pipelines: DF11 checkpoints use 512; 256 and 1024 for other
/// layouts.
const BLOCK_SIZES: &[Overrides] = &[
    &[("THREADS_PER_BLOCK", 256.0)],
    &[("THREADS_PER_BLOCK", 512.0)],
    &[("THREADS_PER_BLOCK", 1024.0)],
];

/// DF11 units -> BF16 words, block scan in core WGSL; entry `decode`, one workgroup of
/// `THREADS_PER_BLOCK` per block.
pub static DECODE: Module = Module {
    name: "dfloat11/decode",
    parts: &[
        BITS,
        SCAN,
        part!("dfloat11/scan_workgroup.wgsl"),
        SIGN_MANTISSA,
        CODES,
        DECODE_MAIN,
    ],
    requires: Requirements::PORTABLE,
    entry_points: &["decode"],
    override_sets: BLOCK_SIZES,
};

/// [`DECODE`] with the block scan on subgroup operations (raking fallback inside).
pub static DECODE_SUBGROUP: Module = Module {
    name: "dfloat11/decode_subgroup",
    parts: &[
        BITS,
        SCAN,
        part!("dfloat11/scan_subgroup.wgsl"),
        SIGN_MANTISSA,
        CODES,
        DECODE_MAIN,
    ],
    requires: Requirements::SUBGROUPS,
    entry_points: &["decode"],
    override_sets: BLOCK_SIZES,
};

/// Block sizes of the fused GEMV: its tables, scan and chunk list fill about 12.6 KiB of
/// workgroup memory at 512 (subgroup scan), so 1024 would pass the 16 KiB every device has.
const GEMV_BLOCK_SIZES: &[Overrides] = &[
    &[("THREADS_PER_BLOCK", 256.0), ("X_F16", 0.0)],
    &[("THREADS_PER_BLOCK", 512.0), ("X_F16", 0.0)],
    &[("THREADS_PER_BLOCK", 256.0), ("X_F16", 1.0)],
    &[("THREADS_PER_BLOCK", 512.0), ("X_F16", 1.0)],
];

/// Fused DF11 decode + GEMV, pass 1 (chunk sums; f32 or f16 activations, batch ≤ 8), block
/// scan in core WGSL; entry `gemv`, one workgroup of `THREADS_PER_BLOCK` per block.
pub static GEMV: Module = Module {
    name: "dfloat11/gemv",
    parts: &[
        GEMV_X,
        BITS,
        SCAN,
        part!("dfloat11/scan_workgroup.wgsl"),
        SIGN_MANTISSA,
        CODES,
        GEMV_PARAMS,
        HALVES,
        GEMV_VECTORS,
        GEMV_SUMS,
        GEMV_MAIN,
    ],
    requires: Requirements::PORTABLE,
    entry_points: &["gemv"],
    override_sets: GEMV_BLOCK_SIZES,
};

/// [`GEMV`] with the block scan on subgroup operations.
pub static GEMV_SUBGROUP: Module = Module {
    name: "dfloat11/gemv_subgroup",
    parts: &[
        GEMV_X,
        BITS,
        SCAN,
        part!("dfloat11/scan_subgroup.wgsl"),
        SIGN_MANTISSA,
        CODES,
        GEMV_PARAMS,
        HALVES,
        GEMV_VECTORS,
        GEMV_SUMS,
        GEMV_MAIN,
    ],
    requires: Requirements::SUBGROUPS,
    entry_points: &["gemv"],
    override_sets: GEMV_BLOCK_SIZES,
};

/// The fused GEMV's pass 2: each row's chunk sums added in the shared tree; entry `tree`,
/// whole rows per workgroup, grid-stride.
pub static GEMV_TREE: Module = Module {
    name: "dfloat11/gemv_tree",
    parts: &[
        GEMV_X,
        GEMV_PARAMS,
        HALVES,
        GEMV_VECTORS,
        GEMV_SUMS,
        part!("dfloat11/gemv_tree.wgsl"),
        GEMV_ROWS,
    ],
    requires: Requirements::PORTABLE,
    entry_points: &["tree"],
    override_sets: &[&[("WORKGROUP_SIZE", 256.0), ("X_F16", 0.0)]],
};

/// Plain GEMV of BF16, f16 or f32 weights (`W_FORMAT`; the BF16 one is the fused GEMVs'
/// baseline): entry `bf16_gemv`, whole rows per workgroup in the fused native GEMV's order
/// ([`GEMV_ROWS`]), grid-stride over row groups.
pub static BF16_GEMV: Module = Module {
    name: "dfloat11/bf16_gemv",
    parts: &[
        part!("dfloat11/bf16_gemv_format.wgsl"),
        GEMV_X,
        GEMV_PARAMS,
        HALVES,
        GEMV_VECTORS,
        GEMV_SUMS,
        part!("dfloat11/bf16_gemv.wgsl"),
        GEMV_CHUNK,
        GEMV_ROWS,
    ],
    requires: Requirements::PORTABLE,
    entry_points: &["bf16_gemv"],
    override_sets: &[
        &[("WORKGROUP_SIZE", 256.0), ("X_F16", 0.0), ("W_FORMAT", 0.0)],
        &[("WORKGROUP_SIZE", 256.0), ("X_F16", 1.0), ("W_FORMAT", 0.0)],
        &[("WORKGROUP_SIZE", 256.0), ("X_F16", 0.0), ("W_FORMAT", 1.0)],
        &[("WORKGROUP_SIZE", 256.0), ("X_F16", 0.0), ("W_FORMAT", 2.0)],
        &[("WORKGROUP_SIZE", 256.0), ("X_F16", 1.0), ("W_FORMAT", 1.0)],
        &[("WORKGROUP_SIZE", 256.0), ("X_F16", 1.0), ("W_FORMAT", 2.0)],
    ],
};

/// The native format's `params` uniform, shared by its decoder and GEMV.
pub const NATIVE_PARAMS: Part = part!("dfloat11/native_params.wgsl");
/// The native format's bindings, decode table and chunk reader.
pub const NATIVE_CHUNK: Part = part!("dfloat11/native_chunk.wgsl");

/// Workgroup size of the native kernels (one chunk per invocation).
const NATIVE_SIZES: &[Overrides] = &[&[("WORKGROUP_SIZE", 256.0)]];

/// Native units -> BF16 words in one pass; entry `decode`, one invocation per chunk,
/// grid-stride.
pub static NATIVE_DECODE: Module = Module {
    name: "dfloat11/native_decode",
    parts: &[
        BITS,
        NATIVE_PARAMS,
        SIGN_MANTISSA,
        NATIVE_CHUNK,
        part!("dfloat11/native_decode.wgsl"),
    ],
    requires: Requirements::PORTABLE,
    entry_points: &["decode"],
    override_sets: NATIVE_SIZES,
};

/// Fused native decode + GEMV (f32 activations, batch ≤ 8) in one pass; entry `gemv`, whole
/// rows per workgroup, grid-stride.
pub static NATIVE_GEMV: Module = Module {
    name: "dfloat11/native_gemv",
    parts: &[
        GEMV_X,
        BITS,
        NATIVE_PARAMS,
        SIGN_MANTISSA,
        NATIVE_CHUNK,
        HALVES,
        GEMV_VECTORS,
        GEMV_SUMS,
        GEMV_CHUNK,
        GEMV_ROWS,
        part!("dfloat11/native_gemv.wgsl"),
    ],
    requires: Requirements::PORTABLE,
    entry_points: &["gemv"],
    override_sets: &[
        &[("WORKGROUP_SIZE", 256.0), ("X_F16", 0.0)],
        &[("WORKGROUP_SIZE", 256.0), ("X_F16", 1.0)],
    ],
};
