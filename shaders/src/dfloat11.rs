//! `shaders/dfloat11/`: DFloat11 entropy decoding.

use crate::core::BITS;
use crate::{Module, Overrides, Part, Requirements, part};

/// The raking workgroup scan, core WGSL (also the subgroup scan's fallback).
pub const SCAN: Part = part!("dfloat11/scan.wgsl");
/// The decoder proper; it calls `block_scan_init` and `block_exclusive_scan`.
pub const DECODE_MAIN: Part = part!("dfloat11/decode.wgsl");

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
        DECODE_MAIN,
    ],
    requires: Requirements {
        f16: false,
        subgroups: true,
    },
    entry_points: &["decode"],
    override_sets: BLOCK_SIZES,
};
