//! CPU references of the core kernels: plain integer code, the definition the GPU must match
//! bit for bit.

/// IEEE binary16 bits -> binary32 bits, exact; NaN payloads are kept, not quieted.
pub fn f16_bits_to_f32_bits(h: u16) -> u32 {
    let h = u32::from(h);
    let sign = (h & 0x8000) << 16;
    let exponent = (h >> 10) & 0x1f;
    let mantissa = h & 0x3ff;
    match (exponent, mantissa) {
        (0x1f, _) => sign | 0x7f80_0000 | (mantissa << 13),
        (0, 0) => sign,
        (0, _) => {
            // Subnormal: mantissa × 2^-24, renormalised so the leading one is implicit.
            let lead = 31 - mantissa.leading_zeros();
            let shift = 10 - lead;
            sign | ((113 - shift) << 23) | (((mantissa << shift) & 0x3ff) << 13)
        }
        _ => sign | ((exponent + 112) << 23) | (mantissa << 13),
    }
}

/// bfloat16 bits -> binary32 bits: bfloat16 is the upper half of an f32.
pub fn bf16_bits_to_f32_bits(h: u16) -> u32 {
    u32::from(h) << 16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f16_widening_agrees_with_half_on_every_non_nan() {
        for bits in 0..=u16::MAX {
            let h = half::f16::from_bits(bits);
            if h.is_nan() {
                let w = f32::from_bits(f16_bits_to_f32_bits(bits));
                assert!(w.is_nan(), "{bits:#06x}");
                assert_eq!(
                    f16_bits_to_f32_bits(bits) & 0x1fff,
                    0,
                    "payload in the top bits"
                );
            } else {
                assert_eq!(
                    f16_bits_to_f32_bits(bits),
                    h.to_f32().to_bits(),
                    "{bits:#06x}"
                );
            }
        }
    }

    #[test]
    fn bf16_widening_agrees_with_half() {
        for bits in 0..=u16::MAX {
            let h = half::bf16::from_bits(bits);
            if !h.is_nan() {
                assert_eq!(bf16_bits_to_f32_bits(bits), h.to_f32().to_bits());
            }
        }
        assert_eq!(bf16_bits_to_f32_bits(0x8000), (-0.0f32).to_bits());
    }
}
