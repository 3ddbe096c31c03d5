//! `shaders/core/`: the copy kernel (bandwidth reference), the widening kernel, and helpers that
//! the families compose into their modules.

use crate::{Module, Part, Requirements, part};

/// 16-bit float unpacking (f16, bf16 packed in u32 words).
pub const HALVES: Part = part!("core/halves.wgsl");
/// Bit fields of byte streams packed in u32 words.
pub const BITS: Part = part!("core/bits.wgsl");

/// Grid-stride `vec4<u32>` copy; entry `copy_vec4`.
pub static COPY: Module = Module {
    name: "core/copy",
    parts: &[part!("core/copy.wgsl")],
    requires: Requirements::PORTABLE,
    entry_points: &["copy_vec4"],
    override_sets: &[&[("WORKGROUP_SIZE", 256.0)]],
};

/// f16/bf16 -> f32 bit patterns; entries `widen_f16`, `widen_bf16`.
pub static WIDEN: Module = Module {
    name: "core/widen",
    parts: &[HALVES, part!("core/widen.wgsl")],
    requires: Requirements::PORTABLE,
    entry_points: &["widen_f16", "widen_bf16"],
    override_sets: &[&[("WORKGROUP_SIZE", 256.0)]],
};
