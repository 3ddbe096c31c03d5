//! Test-only shader modules: probes that run shared WGSL helpers on the GPU so they are checked
//! against a CPU definition before a kernel family relies on them. Registered here, beside the
//! cases that use them, and walked by the validation suite like the kernels' own modules.

use squeeze::shaders::core::{BITS, GRID, HALVES};
use squeeze::shaders::{Module, Requirements};

/// `shaders/core/bits.wgsl` under a probe entry point.
pub static BITS_PROBE: Module = Module {
    name: "probes/bits_probe",
    parts: &[
        BITS,
        squeeze::shaders::Part {
            path: "probes/bits_probe.wgsl",
            source: include_str!("probes/bits_probe.wgsl"),
        },
    ],
    requires: Requirements::PORTABLE,
    entry_points: &["probe_bits"],
    override_sets: &[&[]],
};

/// `shaders/core/halves.wgsl`'s f32 -> f16 rounding under a probe entry point (params: the
/// grid's `GridParams`, `n` conversions).
pub static HALVES_PROBE: Module = Module {
    name: "probes/halves_probe",
    parts: &[
        GRID,
        HALVES,
        squeeze::shaders::Part {
            path: "probes/halves_probe.wgsl",
            source: include_str!("probes/halves_probe.wgsl"),
        },
    ],
    requires: Requirements::PORTABLE,
    entry_points: &["probe_f16_round"],
    override_sets: &[&[]],
};

/// Every test-only module.
pub static MODULES: &[&Module] = &[&BITS_PROBE, &HALVES_PROBE];

/// `Params` of `bits_probe.wgsl`.
#[repr(C)]
#[derive(Debug, Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
pub struct BitsProbeParams {
    pub queries: u32,
    pub stream_bytes: u32,
    pub _pad: [u32; 2],
}
