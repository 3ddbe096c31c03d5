// Shared part: the scores `x` ([rows, n] row-major, f32 or two 16-bit floats per u32 word, see
// core/halves.wgsl) and the optional per-row valid lengths, read as rank keys.

// 0 = f32, 1 = f16, 2 = bf16. A pipeline constant, so the other formats' code folds away.
override FORMAT: u32 = 0u;

@group(0) @binding(1) var<storage, read> x: array<u32>;
@group(0) @binding(2) var<storage, read> lengths: array<u32>;

// The stored bits of element `e`: an f32 pattern, or a 16-bit pattern in the low half.
fn element_raw(e: u32) -> u32 {
    if (FORMAT == 0u) {
        return x[e];
    }
    return half_bits(x[e / 2u], e);
}

// The rank key of element `e` for this dispatch's order.
fn element_key(e: u32) -> u32 {
    let raw = element_raw(e);
    var bits = raw;
    if (FORMAT == 1u) {
        bits = f16_bits_to_f32_bits(raw);
    } else if (FORMAT == 2u) {
        bits = bf16_bits_to_f32_bits(raw);
    }
    return rank_key(bits, (params.flags & FLAG_SMALLEST) != 0u);
}

// Valid elements of `row`: `n`, or its entry in `lengths` clamped to `n`.
fn row_length(row: u32) -> u32 {
    if ((params.flags & FLAG_LENGTHS) == 0u) {
        return params.n;
    }
    return min(lengths[row], params.n);
}

// The stored bits of a padding slot's value (past a row's length): the order's worst infinity,
// -inf when largest first and +inf when smallest first, in the input's format.
fn padding_raw() -> u32 {
    let smallest = (params.flags & FLAG_SMALLEST) != 0u;
    switch FORMAT {
        case 0u: { return select(0xff800000u, 0x7f800000u, smallest); }
        case 1u: { return select(0xfc00u, 0x7c00u, smallest); }
        default: { return select(0xff80u, 0x7f80u, smallest); }
    }
}
