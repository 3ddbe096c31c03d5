// Residual add, in place: h[i] += delta[i] for `params.n` f32 values (core/grid.wgsl), one
// invocation per value with a grid stride. LLaMA adds each block's output back into the hidden
// state; in place, the hidden state stays in one buffer for the whole step.

// A full memory pipeline on every vendor, as for the copy kernel.
override WORKGROUP_SIZE: u32 = 256u;

@group(0) @binding(1) var<storage, read> delta: array<f32>;
@group(0) @binding(2) var<storage, read_write> h: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn residual_add(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let stride = groups.x * WORKGROUP_SIZE;
    let n = min(params.n, min(arrayLength(&h), arrayLength(&delta)));
    for (var i = gid.x; i < n; i += stride) {
        h[i] += delta[i];
    }
}
