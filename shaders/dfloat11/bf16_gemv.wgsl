// Plain BF16 GEMV, the baseline the fused DFloat11 GEMV is measured against: y[b, r] =
// Σ_c W[r, c] · x[b, c] with W [rows, cols] BF16 row-major (two per u32 word, low half first),
// batch 1..=8, f32 activations and accumulation. One workgroup per row (grid-stride over
// rows): invocation i takes columns i, i + WORKGROUP_SIZE, … and a tree sum in workgroup
// memory adds the invocations' partial sums in a fixed order. `params.n` = rows · cols; the
// unit fields of GemvParams are unused. Every loop is bounded by the uniform sizes and every
// read and write is checked against its buffer's length.

override WORKGROUP_SIZE: u32 = 64u;

@group(0) @binding(1) var<storage, read> weights: array<u32>;
@group(0) @binding(2) var<storage, read> x: array<u32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

var<workgroup> sums_lo: array<vec4<f32>, WORKGROUP_SIZE>;
var<workgroup> sums_hi: array<vec4<f32>, WORKGROUP_SIZE>;

fn weight(i: u32) -> f32 {
    var word = 0u;
    if (i / 2u < arrayLength(&weights)) {
        word = weights[i / 2u];
    }
    return bitcast<f32>(((word >> ((i & 1u) * 16u)) & 0xffffu) << 16u);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn bf16_gemv(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    for (var row = wid.x; row < params.rows; row += groups.x) {
        var lo = vec4<f32>();
        var hi = vec4<f32>();
        for (var c = lid; c < params.cols; c += WORKGROUP_SIZE) {
            accumulate(weight(row * params.cols + c), c, &lo, &hi);
        }
        sums_lo[lid] = lo;
        sums_hi[lid] = hi;
        workgroupBarrier();
        for (var half = WORKGROUP_SIZE / 2u; half > 0u; half /= 2u) {
            if (lid < half) {
                sums_lo[lid] += sums_lo[lid + half];
                sums_hi[lid] += sums_hi[lid + half];
            }
            workgroupBarrier();
        }
        if (lid == 0u) {
            store_row(row, sums_lo[0], sums_hi[0]);
        }
        workgroupBarrier();
    }
}
