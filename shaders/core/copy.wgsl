// Copy kernel: the adapter's bandwidth reference.
//
// Copies `params.n` (core/grid.wgsl) 16-byte words from `src` to `dst`. Each invocation moves
// one `vec4<u32>` per step (the widest load/store WGSL has) and walks the buffer with a grid
// stride, so the dispatch stays within `max_compute_workgroups_per_dimension` for any binding
// size. The stride comes from `num_workgroups`, never from the uniform, so the loop always
// advances and always ends.

// 256 invocations keep every vendor's memory pipeline full without spilling registers.
override WORKGROUP_SIZE: u32 = 256u;

@group(0) @binding(1) var<storage, read> src: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read_write> dst: array<vec4<u32>>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn copy_vec4(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let stride = groups.x * WORKGROUP_SIZE;
    let n = min(params.n, arrayLength(&dst));
    for (var i = gid.x; i < n; i += stride) {
        dst[i] = src[i];
    }
}
