// SwiGLU, the gate of LLaMA's FFN: out[r, i] = silu(gate[r, i]) · up[r, i], silu(g) = g / (1 +
// e^−g), in f32, for `params.rows` rows of `params.cols` values, one invocation per value with a
// grid stride. Entry `swiglu` reads gate and up from their own `[rows, cols]` buffers;
// `swiglu_stacked` from one `[rows, 2 · cols]` buffer holding each row's gate then its up — the
// output of one GEMV over the two projections' stacked weights. A very negative gate makes
// e^−g infinite and silu −0, as it should.

// A full memory pipeline on every vendor, as for the copy kernel.
override WORKGROUP_SIZE: u32 = 256u;

@group(0) @binding(1) var<storage, read> gate: array<f32>;
@group(0) @binding(2) var<storage, read> up: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read> gate_up: array<f32>;

fn silu_times(g: f32, u: f32) -> f32 {
    return g / (1.0 + exp(-g)) * u;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn swiglu(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let stride = groups.x * WORKGROUP_SIZE;
    let n = min(params.rows * params.cols, min(arrayLength(&out), min(arrayLength(&gate), arrayLength(&up))));
    for (var i = gid.x; i < n; i += stride) {
        out[i] = silu_times(gate[i], up[i]);
    }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn swiglu_stacked(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let stride = groups.x * WORKGROUP_SIZE;
    let cols = params.cols;
    if (cols == 0u) {
        return;
    }
    let rows = min(params.rows, min(arrayLength(&out) / cols, arrayLength(&gate_up) / (2u * cols)));
    for (var i = gid.x; i < rows * cols; i += stride) {
        let src = i + (i / cols) * cols;
        out[i] = silu_times(gate_up[src], gate_up[src + cols]);
    }
}
