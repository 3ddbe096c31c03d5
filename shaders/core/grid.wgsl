// Shared part of the grid-stride kernels: their `params` uniform, the number of items to
// produce. Its Rust twin is `squeeze_core::dispatch::GridParams`; the validation suite holds the
// two layouts equal.

struct GridParams {
    n: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: GridParams;
