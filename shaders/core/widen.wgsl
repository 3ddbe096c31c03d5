// Widening kernel: a tensor of f16 or bf16 (two per u32 word) -> f32, bit-exact.
//
// Engines keep activations or weights in 16-bit floats and need f32 for a reference or a
// reduction; this is also the GPU check of the shared `halves.wgsl` helpers. Output is written as
// f32 bit patterns so NaN payloads and signed zeros survive on every backend. One invocation per
// element (`params.n`, core/grid.wgsl) with a grid stride, as in `copy.wgsl`.

// Same reason as the copy kernel: a full memory pipeline on every vendor.
override WORKGROUP_SIZE: u32 = 256u;
// Input format: 0 = IEEE binary16, 1 = bfloat16. A pipeline constant, so the branch folds away.
override FORMAT: u32 = 0u;

@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read_write> dst: array<u32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn widen(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let stride = groups.x * WORKGROUP_SIZE;
    let n = min(params.n, min(arrayLength(&dst), arrayLength(&src) * 2u));
    for (var i = gid.x; i < n; i += stride) {
        let h = half_bits(src[i / 2u], i);
        dst[i] = select(f16_bits_to_f32_bits(h), bf16_bits_to_f32_bits(h), FORMAT == 1u);
    }
}
