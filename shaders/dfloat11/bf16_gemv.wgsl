// Plain BF16 GEMV, the baseline of the fused GEMVs: y[b, r] = Σ_c W[r, c] · x[b, c] with W
// [rows, cols] row-major BF16 or f16 (two per u32 word, low half first) or f32 (W_FORMAT,
// bf16_gemv_format.wgsl), batch 1..=8, f32 activations and accumulation. Rows, chunks and the order of every addition are gemv_rows.wgsl's and gemv_chunk.wgsl's, shared
// with the fused native GEMV, so a matrix gives the same bits whether stored as BF16 or
// compressed. `params.n` = rows · cols; the unit fields of GemvParams are unused. Every read
// is checked against its buffer's length.

// Invocations per workgroup: the native GEMV's (the tree's shape depends on it).
override WORKGROUP_SIZE: u32 = 256u;

@group(0) @binding(1) var<storage, read> weights: array<u32>;
@group(0) @binding(2) var<storage, read> x: array<u32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

// Weights are addressed directly: nothing to prepare.
fn begin_chunk(row: u32, k: u32) {}

fn chunk_weight(i: u32) -> f32 {
    if (W_FORMAT == 2u) {
        var value = 0u;
        if (i < arrayLength(&weights)) {
            value = weights[i];
        }
        return bitcast<f32>(value);
    }
    var word = 0u;
    if (i / 2u < arrayLength(&weights)) {
        word = weights[i / 2u];
    }
    if (W_FORMAT == 1u) {
        return f16_to_f32(half_bits(word, i));
    }
    return bf16_to_f32(half_bits(word, i));
}

fn row_chunk(row: u32, k: u32) -> Sums {
    return multiply_chunk(row, k);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn bf16_gemv(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    gemv_rows(lid, wid, groups);
}
