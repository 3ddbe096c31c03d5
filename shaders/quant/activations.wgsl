// Shared part of the matmul kernels (gemv, gemm): activations in, results out, after the weight
// layout's bindings.

// Activations are f16 (two per word) rather than f32: a pipeline constant, because a uniform
// branch between the two still costs both sides on some compilers (lavapipe).
override X_F16: bool = false;

// Activations [batch, cols], read as vec4 words (cols is a multiple of 32, so every chunk starts
// on one).
@group(0) @binding(KERNEL_BINDING) var<storage, read> x: array<vec4<u32>>;
// Results are f16 (two per word, rounded to nearest even) rather than f32. The host checks that
// every pair of rows a kernel writes as one word is its own: rows, row stride and offset even.
override Y_F16: bool = false;

// Results [batch, rows] (f32 bits, or f16 pairs), batch row b starting params.y_offset +
// b · params.y_stride elements in.
@group(0) @binding(KERNEL_BINDING + 1u) var<storage, read_write> y: array<u32>;

// Element index of result (b, row).
fn y_index(b: u32, row: u32) -> u32 {
    return params.y_offset + b * params.y_stride + row;
}

// Writes the f32 result (b, row).
fn store_y(b: u32, row: u32, value: f32) {
    let i = y_index(b, row);
    if (i < arrayLength(&y)) {
        y[i] = bitcast<u32>(value);
    }
}

// Writes the f16 results (b, row) and (b, row + 1), `row` even, as one word.
fn store_y_pair(b: u32, row: u32, first: f32, second: f32) {
    let w = y_index(b, row) / 2u;
    if (w < arrayLength(&y)) {
        y[w] = f32_to_f16_bits(first) | (f32_to_f16_bits(second) << 16u);
    }
}

// Activations 8c .. 8c+8 of batch column `b`. f16 activations take the branch-free widening of
// halves.wgsl; only weights need its exact integer conversion.
fn x_chunk(b: u32, c: u32) -> Chunk {
    let first = b * params.cols + c * CHUNK;
    if (X_F16) {
        let w = x[first / 8u];
        let lo = vec4<u32>(w.x, w.x >> 16u, w.y, w.y >> 16u) & vec4<u32>(0xffffu);
        let hi = vec4<u32>(w.z, w.z >> 16u, w.w, w.w >> 16u) & vec4<u32>(0xffffu);
        return Chunk(f16x4_to_f32_fast(lo), f16x4_to_f32_fast(hi));
    }
    return Chunk(bitcast<vec4<f32>>(x[first / 4u]), bitcast<vec4<f32>>(x[first / 4u + 1u]));
}
