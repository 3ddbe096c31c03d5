// Narrowing f32 → f16, two values per u32 word (the first in the low half), rounded to nearest
// even exactly as IEEE 754 (and the `half` crate) do: subnormal results, overflow to ±inf, NaN
// kept NaN with its payload's top bits and the quiet bit set. For `params.n` values
// (core/grid.wgsl), one invocation per output word with a grid stride.
//
// The decode step writes K and V in f32 (GEMV output); an f16 KV cache takes them narrowed. The
// input is read as bits, so a device that flushes f32 subnormals still narrows them exactly,
// and no f16 arithmetic (SHADER_F16) is needed.

// A full memory pipeline on every vendor, as for the copy kernel.
override WORKGROUP_SIZE: u32 = 256u;

@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read_write> dst: array<u32>;

// The f16 bits nearest the f32 with bits `b` (ties to even).
fn f32_bits_to_f16_bits(b: u32) -> u32 {
    let sign = (b >> 16u) & 0x8000u;
    let exponent = (b >> 23u) & 0xffu;
    let mantissa = b & 0x7fffffu;
    if exponent == 0xffu {
        // Infinity, or NaN with the quiet bit set and the payload's top bits kept.
        let nan = select(0u, 0x200u, mantissa != 0u);
        return sign | 0x7c00u | nan | (mantissa >> 13u);
    }
    let half_exponent = i32(exponent) - 127 + 15;
    if half_exponent >= 31 {
        return sign | 0x7c00u;
    }
    if half_exponent <= 0 {
        // Subnormal or zero: the hidden bit joins the mantissa, shifted by 14 − e (14 ..= 24).
        if 14 - half_exponent > 24 {
            return sign;
        }
        let shift = u32(14 - half_exponent);
        let full = mantissa | 0x800000u;
        let round_bit = 1u << (shift - 1u);
        let round_up = (full & round_bit) != 0u && (full & (3u * round_bit - 1u)) != 0u;
        return sign | ((full >> shift) + select(0u, 1u, round_up));
    }
    let bits = sign | (u32(half_exponent) << 10u) | (mantissa >> 13u);
    let round_up = (mantissa & 0x1000u) != 0u && (mantissa & 0x2fffu) != 0u;
    // A carry out of the mantissa steps the exponent, up to infinity: still the nearest.
    return bits + select(0u, 1u, round_up);
}

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
