// Shared part of the native-format kernels (native_decode.wgsl, native_gemv.wgsl): their
// `params` uniform. Its Rust twin is `squeeze_dfloat11::native::device::NativeParams`.

struct NativeParams {
    // Weights: rows · cols.
    n: u32,
    // The matrix W [rows, cols], row-major.
    rows: u32,
    cols: u32,
    // Chunks of a row, ceil(cols / 128), and of the matrix, rows · chunks_per_row.
    chunks_per_row: u32,
    chunks: u32,
    // Activation columns of the GEMV, 1..=8 (unused by the decoder).
    batch: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: NativeParams;

// Batch columns a GEMV handles (two vec4 of sums).
const MAX_BATCH: u32 = 8u;
