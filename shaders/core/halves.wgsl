// Shared helpers: 16-bit floats (IEEE binary16 and bfloat16) packed two per little-endian u32
// word, as every storage buffer of f16/bf16 tensors is seen from WGSL without `enable f16`.
// Element 2k sits in bits 0..15 of word k, element 2k+1 in bits 16..31.
//
// Conversions return f32 *bit patterns* (u32) so that callers which must be bit-exact (NaN
// payloads, signed zeros, subnormals) never pass a value through float hardware; `*_to_f32`
// wrappers give the value for arithmetic.

// The 16-bit pattern of element `i` of a tensor whose word `i / 2` is `word`.
fn half_bits(word: u32, i: u32) -> u32 {
    return (word >> ((i & 1u) * 16u)) & 0xffffu;
}

// bfloat16 is the top half of an f32: widening is a shift.
fn bf16_bits_to_f32_bits(h: u32) -> u32 {
    return (h & 0xffffu) << 16u;
}

// IEEE binary16 -> binary32, exact for every input: normal numbers are rebiased in place,
// infinities and NaNs keep their payload (quiet bit included), and subnormals are their integer
// mantissa times 2^-24 (exact, and a normal f32, so no device flushes it). Branch-free: the
// three cases are selects, since SIMD compilers (lavapipe) run every side of a branch.
fn f16_bits_to_f32_bits(h: u32) -> u32 {
    let sign = (h & 0x8000u) << 16u;
    let magnitude = h & 0x7fffu;
    let exponent = magnitude >> 10u;
    // Rebias by 127 − 15 = 112, or to 255 for exponent 31.
    let normal = (magnitude << 13u) + select(112u << 23u, 224u << 23u, exponent == 0x1fu);
    let subnormal = bitcast<u32>(f32(magnitude) * 5.9604644775390625e-8);
    return sign | select(normal, subnormal, exponent == 0u);
}

fn bf16_to_f32(h: u32) -> f32 {
    return bitcast<f32>(bf16_bits_to_f32_bits(h));
}

fn f16_to_f32(h: u32) -> f32 {
    return bitcast<f32>(f16_bits_to_f32_bits(h));
}

// binary32 bits -> binary16 bits, rounded to nearest even in integer arithmetic (no float
// hardware, so a device that flushes f32 subnormals still narrows them exactly, and no
// `pack2x16float`, which naga accepts only with SHADER_F16): bit for bit `half::f16::from_f32`.
// Overflow gives ±inf; a NaN stays a NaN, quieted, with the top of its payload.
fn f32_bits_to_f16_bits(x: u32) -> u32 {
    let sign = (x >> 16u) & 0x8000u;
    let exponent = (x >> 23u) & 0xffu;
    let mantissa = x & 0x7fffffu;
    if (exponent == 0xffu) {
        return sign | 0x7c00u | select(0x0200u, 0u, mantissa == 0u) | (mantissa >> 13u);
    }
    let e = i32(exponent) - 112; // rebiased: 127 - 15
    if (e >= 31) {
        return sign | 0x7c00u;
    }
    if (e <= 0) {
        if (e < -10) {
            return sign;
        }
        // Subnormal: the hidden bit joins the mantissa, shifted right by 14 - e (14 ..= 24).
        let m = mantissa | 0x800000u;
        let shift = u32(14 - e);
        let round_bit = 1u << (shift - 1u);
        var half = m >> shift;
        if ((m & round_bit) != 0u && (m & (3u * round_bit - 1u)) != 0u) {
            half += 1u;
        }
        return sign | half;
    }
    var h = (u32(e) << 10u) | (mantissa >> 13u);
    // Round bit set and (sticky bits or an odd result): up; a carry into the exponent is right.
    if ((mantissa & 0x1000u) != 0u && (mantissa & 0x2fffu) != 0u) {
        h += 1u;
    }
    return sign | h;
}

// `f32_bits_to_f16_bits` of a value.
fn f32_to_f16_bits(v: f32) -> u32 {
    return f32_bits_to_f16_bits(bitcast<u32>(v));
}

// Four f16 values (low 16 bits of each lane) as f32, without branches: for activations, where
// speed matters and exactness does not. Exact for normal numbers, ±0, ±inf and NaN; subnormals
// become zero on hardware that flushes f32 subnormals.
fn f16x4_to_f32_fast(h: vec4<u32>) -> vec4<f32> {
    // 2^112 rebiases exponent 15 (f16) to 127 (f32).
    let magnitude = bitcast<vec4<f32>>((h & vec4<u32>(0x7fffu)) << vec4<u32>(13u)) * 5.192296858534828e33;
    let special = bitcast<vec4<f32>>(vec4<u32>(0x7f800000u) | ((h & vec4<u32>(0x3ffu)) << vec4<u32>(13u)));
    let value = select(magnitude, special, (h & vec4<u32>(0x7c00u)) == vec4<u32>(0x7c00u));
    return select(value, -value, (h & vec4<u32>(0x8000u)) != vec4<u32>(0u));
}
