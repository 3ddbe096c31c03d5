// SwiGLU, the gate of LLaMA's FFN: out[i] = silu(gate[i]) · up[i], silu(g) = g / (1 + e^−g), in
// f32, for `params.n` values (core/grid.wgsl), one invocation per value with a grid stride.
// A very negative gate makes e^−g infinite and silu −0, as it should.

// A full memory pipeline on every vendor, as for the copy kernel.
override WORKGROUP_SIZE: u32 = 256u;

@group(0) @binding(1) var<storage, read> gate: array<f32>;
@group(0) @binding(2) var<storage, read> up: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn swiglu(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let stride = groups.x * WORKGROUP_SIZE;
    let n = min(params.n, min(arrayLength(&out), min(arrayLength(&gate), arrayLength(&up))));
    for (var i = gid.x; i < n; i += stride) {
        let g = gate[i];
        out[i] = g / (1.0 + exp(-g)) * up[i];
    }
}
