// Shared part of the fused DFloat11 GEMV's two passes (gemv.wgsl, gemv_tree.wgsl) and the BF16
// GEMV: their `params` uniform. Its Rust twin is `squeeze_dfloat11::gemv::GemvParams`.

struct GemvParams {
    // Weights: rows · cols.
    n: u32,
    // DF11 blocks: len(output_positions) - 1.
    blocks: u32,
    // Rows of `luts`, the length row included.
    n_luts: u32,
    // The matrix W [rows, cols], row-major, and the batch of activation columns (1..=8).
    rows: u32,
    cols: u32,
    batch: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: GemvParams;

// Batch columns a pass handles (two vec4 of sums).
const MAX_BATCH: u32 = 8u;
