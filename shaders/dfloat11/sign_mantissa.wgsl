// Shared part of the DFloat11 and native kernels: the raw sign/mantissa bytes (binding 3, four
// per word) and the BF16 bits they make with a decoded exponent.

@group(0) @binding(3) var<storage, read> sign_mantissa: array<u32>;

// Word `i` of the sign/mantissa bytes (weights 4i .. 4i+4; 0 past the end).
fn sign_mantissa_word(i: u32) -> u32 {
    if (i < arrayLength(&sign_mantissa)) {
        return sign_mantissa[i];
    }
    return 0u;
}

// BF16 bits of a weight with decoded exponent `exponent` and sign/mantissa byte `sm` (low 8
// bits).
fn bf16_bits(exponent: u32, sm: u32) -> u32 {
    return ((sm & 0x80u) << 8u) | ((exponent & 0xffu) << 7u) | (sm & 0x7fu);
}

// BF16 bits of weight `index` with decoded exponent `exponent` (sign/mantissa 0 past the end).
fn bf16_at(exponent: u32, index: u32) -> u32 {
    return bf16_bits(exponent, stream_byte(sign_mantissa_word(index / 4u), index));
}
