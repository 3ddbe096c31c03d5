//! `shaders/core/`: the copy kernel (bandwidth reference), the widening kernel, and helpers that
//! the families compose into their modules.

use crate::{Module, Part, Requirements, part};

/// The `params` uniform of grid-stride kernels (`GridParams`).
pub const GRID: Part = part!("core/grid.wgsl");
/// 16-bit float unpacking (f16, bf16 packed in u32 words).
pub const HALVES: Part = part!("core/halves.wgsl");
/// Bit fields of byte streams packed in u32 words.
pub const BITS: Part = part!("core/bits.wgsl");

/// Grid-stride `vec4<u32>` copy; entry `copy_vec4`.
pub static COPY: Module = Module {
    name: "core/copy",
    parts: &[GRID, part!("core/copy.wgsl")],
    requires: Requirements::PORTABLE,
    entry_points: &["copy_vec4"],
    override_sets: &[&[("WORKGROUP_SIZE", 256.0)]],
};

/// f16 (`FORMAT` 0) or bf16 (`FORMAT` 1) -> f32 bit patterns; entry `widen`.
pub static WIDEN: Module = Module {
    name: "core/widen",
    parts: &[GRID, HALVES, part!("core/widen.wgsl")],
    requires: Requirements::PORTABLE,
    entry_points: &["widen"],
    override_sets: &[
        &[("WORKGROUP_SIZE", 256.0), ("FORMAT", 0.0)],
        &[("WORKGROUP_SIZE", 256.0), ("FORMAT", 1.0)],
    ],
};
