// Shared part of the DFloat11 and native kernels: the raw sign/mantissa bytes (binding 3, four
// per word) and the BF16 bits they make with a decoded exponent.

@group(0) @binding(3) var<storage, read> sign_mantissa: array<u32>;

// BF16 bits of weight `index` with decoded exponent `exponent` (sign/mantissa 0 past the end).
fn bf16_at(exponent: u32, index: u32) -> u32 {
    var sm = 0u;
    if (index / 4u < arrayLength(&sign_mantissa)) {
        sm = stream_byte(sign_mantissa[index / 4u], index);
    }
    return ((sm & 0x80u) << 8u) | ((exponent & 0xffu) << 7u) | (sm & 0x7fu);
}
