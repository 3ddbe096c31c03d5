// Fused native-format GEMV: y[b, r] = Σ_c W[r, c] · x[b, c] with W [rows, cols] BF16 given as
// one native unit; each invocation decodes one chunk (native_chunk.wgsl) and multiplies its
// weights into its sums, so BF16 never reaches memory. f32 activations and accumulation,
// batch 1..=8 (a uniform: one pipeline for all). One pass: chunks never cross rows, so no
// partial sums leave the workgroup. Rows, chunks and the order of every addition are
// gemv_rows.wgsl's and gemv_chunk.wgsl's, shared with the BF16 GEMV: the same matrix gives the same bits in both.
//
// Bounds: a chunk decodes at most CHUNK_SYMBOLS codes (gemv_rows.wgsl's chunk loop), and every
// read is checked against its buffer's length.

@group(0) @binding(6) var<storage, read> x: array<u32>;
@group(0) @binding(7) var<storage, read_write> y: array<f32>;

// Points the reader at chunk k of `row` (native chunks are the GEMV's chunks).
fn begin_chunk(row: u32, k: u32) {
    seek(chunk_start(row * max(params.chunks_per_row, 1u) + k));
}

// The next weight of the chunk: weight `i`'s sign/mantissa with the next decoded exponent.
fn chunk_weight(i: u32) -> f32 {
    return bitcast<f32>(bf16_at(next_exponent(), i) << 16u);
}

fn row_chunk(row: u32, k: u32) -> Sums {
    return multiply_chunk(row, k);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn gemv(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    load_table(lid);
    workgroupBarrier();
    gemv_rows(lid, wid, groups);
}
