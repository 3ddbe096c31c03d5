// Shared part of the BF16 and fused native GEMVs (bf16_gemv.wgsl, native_gemv.wgsl): one chunk's
// sums in gemv_rows.wgsl's order. A chunk's products are added one by one in column order,
// starting from 0, through gemv_vectors.wgsl's `accumulate` (as the fused DF11 GEMV's first
// pass adds them). The including kernel defines `begin_chunk(row, k)` (prepare to read chunk k
// of `row`) and `chunk_weight(i)` (weight i, row-major, called in order within the chunk).
//
// Bounds: a chunk's loop runs at most GEMV_CHUNK times.

// Chunk k of `row`: its weights · x[.., its columns], added in column order from 0.
fn multiply_chunk(row: u32, k: u32) -> Sums {
    let first_col = k * GEMV_CHUNK;
    let count = min(params.cols - min(first_col, params.cols), GEMV_CHUNK);
    let first = row * params.cols + first_col;
    begin_chunk(row, k);
    if (params.batch == 1u) {
        // accumulate's batch-1 arithmetic, with a scalar the loop keeps in a register.
        var sum = 0.0;
        for (var j = 0u; j < count; j++) {
            sum += chunk_weight(first + j) * x_at(0u, first_col + j);
        }
        return Sums(vec4<f32>(sum, 0.0, 0.0, 0.0), vec4<f32>());
    }
    var lo = vec4<f32>();
    var hi = vec4<f32>();
    for (var j = 0u; j < count; j++) {
        accumulate(chunk_weight(first + j), first_col + j, &lo, &hi);
    }
    return Sums(lo, hi);
}
