// Shared part of the quantized-matrix kernels (dequant, gemv): the `params` uniform and the unit
// every weight layout hands to them. Its Rust twin is `squeeze_quant::matrix::MatrixParams`; the
// validation suite holds the two layouts equal.

struct MatrixParams {
    // Weight rows (output features) and weights per row (input features).
    rows: u32,
    cols: u32,
    // Bytes per row of a GGUF block format; unused by the affine layouts.
    row_bytes: u32,
    // Activation columns of a GEMV (1..=8); unused by dequant.
    batch: u32,
    // Words from the start of the weight binding to the first row: a GGUF tensor bound in place
    // inside a larger buffer at an offset the device's binding alignment does not allow
    // (`min_storage_buffer_offset_alignment`); 0 for the affine layouts.
    w_offset: u32,
    // Where a GEMV or GEMM writes: batch row b of y starts `y_offset + b * y_stride` elements
    // into the y binding (a dense [batch, rows] output has y_offset 0 and y_stride = rows).
    y_offset: u32,
    y_stride: u32,
    _pad0: u32,
}

@group(0) @binding(0) var<uniform> params: MatrixParams;

// Eight consecutive weights of a row (or eight activations): `lo` holds the first four.
struct Chunk {
    lo: vec4<f32>,
    hi: vec4<f32>,
}

// Component k (0..8) of `t`, by selects (a dynamic index could put `t` in memory).
fn component(t: Chunk, k: u32) -> f32 {
    let lo = select(select(t.lo.x, t.lo.y, k == 1u), select(t.lo.z, t.lo.w, k == 3u), k >= 2u);
    let hi = select(select(t.hi.x, t.hi.y, k == 5u), select(t.hi.z, t.hi.w, k == 7u), k >= 6u);
    return select(lo, hi, k >= 4u);
}

// Weights per chunk: every block and group size is a multiple of it.
const CHUNK: u32 = 8u;

// The GEMV's unit of weights (the layout part's `load_unit`): 32 consecutive weights of a row,
// one block or sub-block of every layout, chunk k holding weights 8k .. 8k+8 of the unit.
const UNIT: u32 = 32u;
const UNIT_CHUNKS: u32 = 4u;

struct Unit {
    c0: Chunk,
    c1: Chunk,
    c2: Chunk,
    c3: Chunk,
}
