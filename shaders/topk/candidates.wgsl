// Shared part of the radix selection: the workgroup histogram of a round and the contenders kept
// in workgroup memory once few are left, narrowed there by the remaining rounds. The module that
// includes it declares `held`, its workgroup array of (rank key, index) pairs, with its own
// capacity.

var<workgroup> histogram: array<atomic<u32>, 256>;

// Counts (key, ikey) in this round's histogram if it lies on prefix `p`.
fn count_digit(p: Prefix, key: u32, ikey: u32, key_round: bool, shift: u32) {
    if (compare_prefix(p, key, ikey) == 0) {
        atomicAdd(&histogram[digit_at(key, ikey, key_round, shift)], 1u);
    }
}

// Runs rounds `first`, `first + 1`, … over the `count` candidates in `held[0..count)`, from
// prefix `start` with `needed_at_start` of them still needed, until the chosen bin holds exactly
// the needed ones; returns the final prefix: the winners among the candidates are those at or
// above it.
fn narrow_in_memory(lid: u32, start: Prefix, needed_at_start: u32, first: u32, count: u32) -> Prefix {
    let imax = index_key_max();
    var p = start;
    var needed = needed_at_start;
    for (var round = first; round < KEY_ROUNDS + index_rounds(); round++) {
        let key_round = round < KEY_ROUNDS;
        let shift = digit_shift(round);
        atomicStore(&histogram[lid], 0u);
        workgroupBarrier();
        for (var c = lid; c < count; c += WORKGROUP_SIZE) {
            let pair = held[c];
            count_digit(p, pair.x, imax - pair.y, key_round, shift);
        }
        workgroupBarrier();
        let pick = pick_digit(lid, atomicLoad(&histogram[255u - lid]), needed);
        needed = pick.y;
        p = extend_prefix(p, round, pick.x);
        if (pick.w != 0u) {
            break;
        }
    }
    return p;
}
