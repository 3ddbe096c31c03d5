// Order-preserving keys: an f32 bit pattern -> a u32 whose unsigned order is the top-k order for
// "largest first" (its twin is `squeeze_topk::keys::order_key`):
//
//   NaN (any sign, any payload)  -> 0xffffffff, above +inf, as torch.topk ranks it
//   +x (sign bit clear)          -> bits | 0x80000000, so positives rise above negatives
//   -x (sign bit set)            -> !bits, so more negative means smaller
//   -0.0                         -> the key of +0.0 (0x80000000): the two compare equal
//
// "Smallest first" uses the complement, so the best element always has the largest key and NaN
// ranks last. Equal keys are broken by the lower index.

const NAN_KEY: u32 = 0xffffffffu;

fn order_key(bits: u32) -> u32 {
    if ((bits & 0x7fffffffu) > 0x7f800000u) {
        return NAN_KEY;
    }
    if (bits == 0x80000000u) {
        return 0x80000000u;
    }
    if ((bits & 0x80000000u) != 0u) {
        return ~bits;
    }
    return bits | 0x80000000u;
}

// The key ranking `bits` for this dispatch's order (largest or smallest first).
fn rank_key(bits: u32, smallest: bool) -> u32 {
    let key = order_key(bits);
    return select(key, ~key, smallest);
}

// Whether pair `a` ranks before pair `b`: larger key first, then lower index.
fn ranks_before(a: vec2<u32>, b: vec2<u32>) -> bool {
    return a.x > b.x || (a.x == b.x && a.y < b.y);
}
