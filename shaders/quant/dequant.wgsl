// Dequantize a weight matrix to f32, row-major, through the weight layout's `load_chunk`
// (gguf_blocks.wgsl or affine_blocks.wgsl): one invocation per chunk of eight weights, with a
// grid stride. Equal to the CPU reference bit for bit (see the layout files for why).

// A full memory pipeline on every vendor, as for the copy kernel.
override WORKGROUP_SIZE: u32 = 256u;

@group(0) @binding(KERNEL_BINDING) var<storage, read_write> dst: array<vec4<f32>>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn dequant(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let stride = groups.x * WORKGROUP_SIZE;
    let per_row = params.cols / CHUNK;
    let n = min(params.rows * per_row, arrayLength(&dst) / 2u);
    for (var i = gid.x; i < n; i += stride) {
        let c = load_chunk(i / per_row, i % per_row);
        dst[2u * i] = c.lo;
        dst[2u * i + 1u] = c.hi;
    }
}
