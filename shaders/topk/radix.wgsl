// Shared part of the radix selection (topk/select.wgsl, topk/cooperative.wgsl): the composite
// (rank key, index key) and the digit prefix chosen round by round.
//
// The index key of element `i` is `imax - i` over just enough bits for `n`, so a larger index key
// means a lower index: the composite is unique in a row and larger is better in both halves.
// Rounds take 8-bit digits, first the four of the key (most significant first), then the
// `index_rounds()` of the index key.

const RADIX_BITS: u32 = 8u;
const KEY_ROUNDS: u32 = 4u;

// Bits of the index key: enough for `n - 1`.
fn index_bits() -> u32 {
    return firstLeadingBit(max(params.n - 1u, 1u)) + 1u;
}

fn index_rounds() -> u32 {
    return (index_bits() + RADIX_BITS - 1u) / RADIX_BITS;
}

// The largest index key, `imax`: 2^index_bits - 1.
fn index_key_max() -> u32 {
    let bits = index_bits();
    return select((1u << bits) - 1u, 0xffffffffu, bits >= 32u);
}

// Bit position of round `round`'s digit in the key (key rounds) or the index key.
fn digit_shift(round: u32) -> u32 {
    if (round < KEY_ROUNDS) {
        return (KEY_ROUNDS - 1u - round) * RADIX_BITS;
    }
    return (index_rounds() - 1u - (round - KEY_ROUNDS)) * RADIX_BITS;
}

// The digit at `shift` of the key (a key round) or of the index key.
fn digit_at(key: u32, ikey: u32, key_round: bool, shift: u32) -> u32 {
    return (select(ikey, key, key_round) >> shift) & 0xffu;
}

// The prefix chosen so far: composite bits under the masks.
struct Prefix {
    key: u32,
    key_mask: u32,
    index: u32,
    index_mask: u32,
}

// `p` with round `round`'s digit set to `digit`.
fn extend_prefix(p: Prefix, round: u32, digit: u32) -> Prefix {
    var q = p;
    let shift = digit_shift(round);
    if (round < KEY_ROUNDS) {
        q.key |= digit << shift;
        q.key_mask |= 0xffu << shift;
    } else {
        q.index |= digit << shift;
        q.index_mask |= 0xffu << shift;
    }
    return q;
}

// -1, 0 or 1 as the composite (key, ikey) under `p`'s masks is below, equal to or above `p`.
fn compare_prefix(p: Prefix, key: u32, ikey: u32) -> i32 {
    let k = key & p.key_mask;
    let i = ikey & p.index_mask;
    if (k != p.key) {
        return select(-1, 1, k > p.key);
    }
    if (i != p.index) {
        return select(-1, 1, i > p.index);
    }
    return 0;
}

var<workgroup> chosen: vec4<u32>;

// The bin that holds the `needed`-th best contender, given that invocation `lid` holds the count
// of bin 255 - lid (so its inclusive scan counts the contenders whose digit is at least that
// bin's). Returns, uniformly: (digit, contenders still needed within it, contenders in it,
// 1 when those are exactly the needed ones).
fn pick_digit(lid: u32, count: u32, needed: u32) -> vec4<u32> {
    let at_least = inclusive_scan(lid, count);
    let above = at_least - count;
    if (above < needed && needed <= at_least) {
        chosen = vec4<u32>(255u - lid, needed - above, count, u32(count == needed - above));
    }
    return workgroupUniformLoad(&chosen);
}
