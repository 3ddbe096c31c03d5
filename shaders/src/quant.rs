//! `shaders/quant/`: dequantization of GGUF block formats.

use crate::core::{BITS, GRID, HALVES};
use crate::{Module, Requirements, part};

/// GGUF blocks -> f32; entry `dequant`, `FORMAT` 0 = Q8_0, 1 = Q4_0, 2 = Q4_1.
pub static DEQUANT: Module = Module {
    name: "quant/dequant",
    parts: &[GRID, HALVES, BITS, part!("quant/dequant.wgsl")],
    requires: Requirements::PORTABLE,
    entry_points: &["dequant"],
    override_sets: &[
        &[("WORKGROUP_SIZE", 256.0), ("FORMAT", 0.0)],
        &[("WORKGROUP_SIZE", 256.0), ("FORMAT", 1.0)],
        &[("WORKGROUP_SIZE", 256.0), ("FORMAT", 2.0)],
    ],
};
