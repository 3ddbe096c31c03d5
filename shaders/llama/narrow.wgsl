// Narrowing f32 → f16, two values per u32 word (the first in the low half), rounded to nearest
// even exactly as IEEE 754 (and the `half` crate) do, by core/halves.wgsl's
// `f32_bits_to_f16_bits`: subnormal results, overflow to ±inf, NaN kept NaN with its payload's
// top bits and the quiet bit set. For `params.n` values
// (core/grid.wgsl), one invocation per output word with a grid stride.
//
// The decode step writes K and V in f32 (GEMV output); an f16 KV cache takes them narrowed. The
// input is read as bits, so a device that flushes f32 subnormals still narrows them exactly,
// and no f16 arithmetic (SHADER_F16) is needed.

// A full memory pipeline on every vendor, as for the copy kernel.
override WORKGROUP_SIZE: u32 = 256u;

@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read_write> dst: array<u32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn narrow_f16(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let stride = groups.x * WORKGROUP_SIZE;
    let n = min(params.n, arrayLength(&src));
    let words = min((n + 1u) / 2u, arrayLength(&dst));
    for (var w = gid.x; w < words; w += stride) {
        let lo = f32_bits_to_f16_bits(src[2u * w]);
        var hi = 0u;
        if 2u * w + 1u < n {
            hi = f32_bits_to_f16_bits(src[2u * w + 1u]);
        }
        dst[w] = lo | (hi << 16u);
    }
}
