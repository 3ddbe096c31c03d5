// Shared part of the BF16-weight GEMVs (bf16, native and the fused DF11 GEMV's three passes):
// the chunk the summation order of gemv_rows.wgsl is built on, and a chunk's (or a row's)
// sums for up to eight batch columns.

// Columns of a chunk: the native format's chunk, so a native chunk is a summation chunk.
const GEMV_CHUNK: u32 = 128u;

// Batch columns 0..4 (lo) and 4..8 (hi) of a chunk's sums.
struct Sums {
    lo: vec4<f32>,
    hi: vec4<f32>,
}
