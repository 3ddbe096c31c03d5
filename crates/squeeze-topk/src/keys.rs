//! Order-preserving keys, the Rust twin of `shaders/topk/keys.wgsl`: an f32 bit pattern maps to
//! a u32 whose unsigned order is the top-k order for "largest first".
//!
//! ```text
//! NaN (any sign or payload)  -> 0xffff_ffff          above +inf (+inf -> 0xff80_0000), as torch.topk
//! +x (sign bit clear)        -> bits | 0x8000_0000   positives above negatives
//! -x (sign bit set)          -> !bits                more negative, smaller key
//! -0.0                       -> 0x8000_0000          the key of +0.0: the two compare equal
//! ```
//!
//! "Smallest first" ranks by the complement, so the best element always has the largest key and
//! NaN comes last. Elements with equal keys rank by lower index.

/// The key of every NaN.
pub const NAN_KEY: u32 = 0xffff_ffff;

/// The "largest first" key of the f32 with bits `bits`.
pub fn order_key(bits: u32) -> u32 {
    if bits & 0x7fff_ffff > 0x7f80_0000 {
        NAN_KEY
    } else if bits == 0x8000_0000 {
        0x8000_0000
    } else if bits & 0x8000_0000 != 0 {
        !bits
    } else {
        bits | 0x8000_0000
    }
}

/// The key ranking `bits` in `order`: larger keys rank first.
pub fn rank_key(bits: u32, order: crate::Order) -> u32 {
    let key = order_key(bits);
    match order {
        crate::Order::Largest => key,
        crate::Order::Smallest => !key,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Ordering;

    /// The top-k order of two floats, defined without keys: NaN above everything, -0 == +0.
    fn reference_cmp(a: f32, b: f32) -> Ordering {
        match (a.is_nan(), b.is_nan()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => a.partial_cmp(&b).unwrap(),
        }
    }

    #[test]
    fn keys_order_like_the_float_order_with_nan_on_top() {
        let specials = [
            f32::NAN,
            -f32::NAN,
            f32::from_bits(0x7f80_0001),
            f32::from_bits(0xffc0_1234),
            f32::INFINITY,
            f32::NEG_INFINITY,
            0.0,
            -0.0,
            f32::MIN_POSITIVE,
            -f32::MIN_POSITIVE,
            f32::from_bits(1),
            f32::from_bits(0x8000_0001),
            f32::MAX,
            f32::MIN,
            1.0,
            -1.0,
            1.5,
            -2.5,
        ];
        let mut state = 0x1234_5678u32;
        let mut values: Vec<f32> = specials.to_vec();
        for _ in 0..2000 {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            values.push(f32::from_bits(state));
        }
        for &a in &values {
            for &b in &values[..60] {
                let keys = order_key(a.to_bits()).cmp(&order_key(b.to_bits()));
                assert_eq!(
                    keys,
                    reference_cmp(a, b),
                    "{a:e} ({:#x}) vs {b:e}",
                    a.to_bits()
                );
            }
        }
    }

    #[test]
    fn fixed_points_of_the_mapping() {
        assert_eq!(order_key(f32::INFINITY.to_bits()), 0xff80_0000);
        assert_eq!(order_key(f32::NEG_INFINITY.to_bits()), 0x007f_ffff);
        assert_eq!(order_key(0.0f32.to_bits()), order_key((-0.0f32).to_bits()));
        assert_eq!(order_key(f32::from_bits(0xffff_ffff).to_bits()), NAN_KEY);
        assert_eq!(rank_key(f32::NAN.to_bits(), crate::Order::Smallest), 0);
    }
}
