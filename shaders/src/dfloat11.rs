//! `shaders/dfloat11/`: DFloat11 entropy decoding.

use crate::core::BITS;
use crate::{Module, Part, Requirements, part};

/// The workgroup exclusive scan of thread counts, core WGSL only.
pub const SCAN: Part = part!("dfloat11/scan.wgsl");

/// DF11 units -> BF16 words; entry `decode`, one workgroup of `THREADS_PER_BLOCK` per block
/// (DF11 checkpoints use 512; 256 and 1024 for other layouts).
pub static DECODE: Module = Module {
    name: "dfloat11/decode",
    parts: &[BITS, SCAN, part!("dfloat11/decode.wgsl")],
    requires: Requirements::PORTABLE,
    entry_points: &["decode"],
    override_sets: &[
        &[("THREADS_PER_BLOCK", 256.0)],
        &[("THREADS_PER_BLOCK", 512.0)],
        &[("THREADS_PER_BLOCK", 1024.0)],
    ],
};
