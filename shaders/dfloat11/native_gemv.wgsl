// Fused native-format GEMV: y[b, r] = Σ_c W[r, c] · x[b, c] with W [rows, cols] BF16 given as
// one native unit; each invocation decodes one chunk (native_chunk.wgsl) and multiplies its
// weights into its sums, so BF16 never reaches memory. f32 activations and accumulation,
// batch 1..=8 (a uniform: one pipeline for all). One pass: chunks never cross rows, so no
// partial sums leave the workgroup.
//
// A workgroup takes whole rows: as many as it has invocations for one chunk each
// (WORKGROUP_SIZE / chunks_per_row), or one row whose chunks its invocations stride over.
// Each row's invocations are a contiguous segment; a segmented tree sum in workgroup memory
// (fixed order: the result is deterministic) adds them, one batch column at a time.
// Grid-stride over row groups.
//
// Bounds: a chunk's loop runs at most CHUNK_SYMBOLS times, the chunk stride loop ends at
// chunks_per_row, the tree after log2(WORKGROUP_SIZE) steps, and every read and write is
// checked against its buffer's length.

@group(0) @binding(6) var<storage, read> x: array<u32>;
@group(0) @binding(7) var<storage, read_write> y: array<f32>;

var<workgroup> sums: array<f32, WORKGROUP_SIZE>;

// Batch columns 0..4 (lo) and 4..8 (hi) of a chunk's sums.
struct Sums {
    lo: vec4<f32>,
    hi: vec4<f32>,
}

// Chunk g's weights · x[.., first_col ..]. Batch 1 keeps one scalar sum (the uniform branch
// is cheaper than masked vec4 work per weight).
fn multiply_chunk(g: u32, first_col: u32) -> Sums {
    let range = chunk_range(g);
    seek(chunk_start(g));
    if (params.batch == 1u) {
        var sum = 0.0;
        for (var i = range.x; i < range.y; i++) {
            let w = bitcast<f32>(bf16_at(next_exponent(), i) << 16u);
            sum += w * x_at(0u, first_col + (i - range.x));
        }
        return Sums(vec4<f32>(sum, 0.0, 0.0, 0.0), vec4<f32>());
    }
    var lo = vec4<f32>();
    var hi = vec4<f32>();
    for (var i = range.x; i < range.y; i++) {
        let w = bitcast<f32>(bf16_at(next_exponent(), i) << 16u);
        accumulate(w, first_col + (i - range.x), &lo, &hi);
    }
    return Sums(lo, hi);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn gemv(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    load_table(lid);
    workgroupBarrier();
    let cpr = max(params.chunks_per_row, 1u);
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
                let sums = multiply_chunk(row * cpr + k, k * CHUNK_SYMBOLS);
                lo += sums.lo;
                hi += sums.hi;
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
