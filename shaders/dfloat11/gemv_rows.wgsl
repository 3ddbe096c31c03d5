// Shared part of the BF16, fused native and fused DF11 GEMVs (bf16_gemv.wgsl, native_gemv.wgsl,
// gemv_tree.wgsl): the one summation order all follow, so a matrix stored as BF16, DF11 or
// native gives the same bits (issue #14: a compressed model's logits equal its BF16 model's).
// y[b, r] = Σ_c W[r, c] · x[b, c], f32 accumulation, batch 1..=8.
//
// Order: each row is cut into chunks of GEMV_CHUNK = 128 columns (the native format's chunks;
// the last may be shorter). A chunk's products are added one by one in column order, starting
// from 0. The chunk sums of a row are then added by a segmented tree in workgroup memory: with
// `segment = min(chunks, WORKGROUP_SIZE)` invocations per row, invocation k first adds chunks
// k, k + segment, … in order (from 0), then step s = 1, 2, 4, … adds slot k + s into slot k for
// k a multiple of 2s. Every addition is the same WGSL expression (`sum + w * x`, through
// gemv_vectors.wgsl's `accumulate` or its scalar twin in gemv_chunk.wgsl) in every kernel.
//
// A workgroup takes whole rows — WORKGROUP_SIZE / chunks of them, or one whose chunks its
// invocations stride over — with a grid stride over row groups. The including kernel defines
// `row_chunk(row, k) -> Sums` (chunk k of `row`: gemv_chunk.wgsl's `multiply_chunk`, or a sum
// the fused DF11 GEMV's first passes stored) and calls `gemv_rows` from its entry point.
//
// Bounds: the chunk stride loop ends at the row's chunks, the tree after log2(WORKGROUP_SIZE)
// steps; writes go through store_y.

var<workgroup> sums: array<f32, WORKGROUP_SIZE>;

// The GEMV over every row; call from uniform control flow.
fn gemv_rows(lid: u32, wid: vec3<u32>, groups: vec3<u32>) {
    let cpr = max((params.cols + GEMV_CHUNK - 1u) / GEMV_CHUNK, 1u);
    let rows_per_group = max(WORKGROUP_SIZE / cpr, 1u);
    let segment = min(cpr, WORKGROUP_SIZE);
    let local_row = lid / segment;
    let k0 = lid % segment;
    let row_groups = (params.rows + rows_per_group - 1u) / rows_per_group;
    for (var rg = wid.x; rg < row_groups; rg += groups.x) {
        let row = rg * rows_per_group + local_row;
        let owns_row = local_row < rows_per_group && row < params.rows;
        var lo = vec4<f32>();
        var hi = vec4<f32>();
        if (owns_row) {
            for (var k = k0; k < cpr; k += segment) {
                let chunk = row_chunk(row, k);
                lo += chunk.lo;
                hi += chunk.hi;
            }
        }
        for (var b = 0u; b < min(params.batch, MAX_BATCH); b++) {
            sums[lid] = pick(lo, hi, b);
            workgroupBarrier();
            for (var s = 1u; s < segment; s *= 2u) {
                if (k0 % (2u * s) == 0u && k0 + s < segment && lid + s < WORKGROUP_SIZE) {
                    sums[lid] += sums[lid + s];
                }
                workgroupBarrier();
            }
            if (owns_row && k0 == 0u) {
                store_y(b, row, sums[lid]);
            }
            workgroupBarrier();
        }
    }
}
