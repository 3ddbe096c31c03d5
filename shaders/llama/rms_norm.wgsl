// RMSNorm: y[r, c] = x[r, c] / sqrt(mean_c(x[r, c]²) + eps) · weight[c], in f32, one workgroup
// per row (a grid stride over rows past the dispatch).
//
// LLaMA normalises the hidden state before every attention and FFN block and at the end: short
// rows (a few thousand values), so one workgroup sums a row's squares in a strided loop and a
// tree in workgroup memory, then scales the row. Entry `rms_norm` normalises `x`; entry
// `add_rms_norm` first adds a block's output into the residual stream, h += delta (written
// back), and normalises the sum — the residual add and the next norm in one dispatch, with the
// same f32 sums as the two kernels one after the other.

// Threads per row; a power of two for the tree. Hidden sizes are a few thousand, so 64 threads
// each read a few dozen values.
override WORKGROUP_SIZE: u32 = 64u;

@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
// add_rms_norm: the residual stream (in place) and the block's output.
@group(0) @binding(4) var<storage, read_write> h: array<f32>;
@group(0) @binding(5) var<storage, read> delta: array<f32>;

var<workgroup> partial: array<f32, WORKGROUP_SIZE>;

// 1 / sqrt(mean square + eps) of a row whose thread-local sums of squares are `sum`.
fn inverse_rms(lid: u32, sum: f32, cols: u32) -> f32 {
    partial[lid] = sum;
    workgroupBarrier();
    for (var s = WORKGROUP_SIZE / 2u; s > 0u; s = s / 2u) {
        if lid < s {
            partial[lid] += partial[lid + s];
        }
        workgroupBarrier();
    }
    let inv = inverseSqrt(partial[0] / f32(cols) + params.eps);
    // Every thread has read partial[0] before the next row overwrites it.
    workgroupBarrier();
    return inv;
}

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
        let inv = inverse_rms(lid.x, sum, cols);
        for (var c = lid.x; c < cols; c += WORKGROUP_SIZE) {
            y[base + c] = x[base + c] * inv * weight[c];
        }
    }
}

// Each thread adds, writes back and normalises the same columns, so no barrier is needed
// between its add and its reads of the sums.
@compute @workgroup_size(WORKGROUP_SIZE)
fn add_rms_norm(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let cols = min(params.cols, arrayLength(&weight));
    if cols == 0u {
        return;
    }
    let rows = min(params.rows, min(min(arrayLength(&h), arrayLength(&delta)), arrayLength(&y)) / cols);
    for (var row = wg.x; row < rows; row += groups.x) {
        let base = row * cols;
        var sum = 0.0;
        for (var c = lid.x; c < cols; c += WORKGROUP_SIZE) {
            let v = h[base + c] + delta[base + c];
            h[base + c] = v;
            sum += v * v;
        }
        let inv = inverse_rms(lid.x, sum, cols);
        for (var c = lid.x; c < cols; c += WORKGROUP_SIZE) {
            y[base + c] = h[base + c] * inv * weight[c];
        }
    }
}
