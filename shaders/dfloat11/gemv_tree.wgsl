// Fused DFloat11 GEMV, pass 2: each row's chunk sums (stored by pass 1 in `partials`)
// added in gemv_rows.wgsl's tree into y, as the BF16 and native GEMVs add theirs. Every read and
// write is checked against its buffer's length.

// Invocations per workgroup: the native GEMV's (the tree's shape depends on it).
override WORKGROUP_SIZE: u32 = 256u;

// Declared for gemv_vectors.wgsl's helpers; this pass reads the chunk sums only.
@group(0) @binding(6) var<storage, read> x: array<u32>;
@group(0) @binding(7) var<storage, read_write> y: array<f32>;
@group(0) @binding(8) var<storage, read> partials: array<f32>;

fn row_chunk(row: u32, k: u32) -> Sums {
    let cpr = (max(params.cols, 1u) + GEMV_CHUNK - 1u) / GEMV_CHUNK;
    let chunks = params.rows * cpr;
    let base = row * cpr + k;
    var lo = vec4<f32>();
    var hi = vec4<f32>();
    for (var b = 0u; b < min(params.batch, MAX_BATCH); b++) {
        let at = base + b * chunks;
        var value = 0.0;
        if (at < arrayLength(&partials)) {
            value = partials[at];
        }
        if (b < 4u) {
            lo[b] = value;
        } else {
            hi[b - 4u] = value;
        }
    }
    return Sums(lo, hi);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn tree(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    gemv_rows(lid, wid, groups);
}
