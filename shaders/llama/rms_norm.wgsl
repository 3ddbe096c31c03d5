// RMSNorm: y[r, c] = x[r, c] / sqrt(mean_c(x[r, c]²) + eps) · weight[c], in f32, one workgroup
// per row (a grid stride over rows past the dispatch).
//
// LLaMA normalises the hidden state before every attention and FFN block and at the end: short
// rows (a few thousand values), so one workgroup sums a row's squares in a strided loop and a
// tree in workgroup memory, then scales the row.

// Threads per row; a power of two for the tree. Hidden sizes are a few thousand, so 64 threads
// each read a few dozen values.
override WORKGROUP_SIZE: u32 = 64u;

@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

var<workgroup> partial: array<f32, WORKGROUP_SIZE>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn rms_norm(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let cols = min(params.cols, arrayLength(&weight));
    if cols == 0u {
        return;
    }
    let rows = min(params.rows, min(arrayLength(&x), arrayLength(&y)) / cols);
    for (var row = wg.x; row < rows; row += groups.x) {
        let base = row * cols;
        var sum = 0.0;
        for (var c = lid.x; c < cols; c += WORKGROUP_SIZE) {
            let v = x[base + c];
            sum += v * v;
        }
        partial[lid.x] = sum;
        workgroupBarrier();
        for (var s = WORKGROUP_SIZE / 2u; s > 0u; s = s / 2u) {
            if lid.x < s {
                partial[lid.x] += partial[lid.x + s];
            }
            workgroupBarrier();
        }
        let inv = inverseSqrt(partial[0] / f32(cols) + params.eps);
        for (var c = lid.x; c < cols; c += WORKGROUP_SIZE) {
            y[base + c] = x[base + c] * inv * weight[c];
        }
        // Every thread has read partial[0] before the next row overwrites it.
        workgroupBarrier();
    }
}
