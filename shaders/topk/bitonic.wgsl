// Shared part: a bitonic network over the (rank key, index) pairs of the workgroup array `held`
// (declared, with its capacity, by the module that includes this part), whose comparators all put
// the better pair at the lower position: the first stage of each merge compares mirrored
// positions (`i ^ (block - 1)`), later stages `i` with `i + stride`. With that orientation
// `held[0..count)` sorts as if padded to a power of two (`span`) with pairs worse than all: a
// comparator whose partner is at or past `count` never swaps, so it is skipped and the padding
// is never stored.

// Position of comparator `c`'s first element at `stride` (pairs within 2 × stride blocks).
fn comparator_low(c: u32, stride: u32) -> u32 {
    return (c / stride) * 2u * stride + (c % stride);
}

// Partner of position `i` in the stage (`block`, `stride`): mirrored on the merge's first stage.
fn comparator_high(i: u32, block: u32, stride: u32) -> u32 {
    if (stride * 2u == block) {
        return i ^ (block - 1u);
    }
    return i + stride;
}

// One stage (`block`, `stride`) over `held[0..count)` padded to `span`; ends with a barrier.
fn held_stage(lid: u32, count: u32, span: u32, block: u32, stride: u32) {
    for (var c = lid; c < span / 2u; c += WORKGROUP_SIZE) {
        let i = comparator_low(c, stride);
        let j = comparator_high(i, block, stride);
        if (j < count) {
            let a = held[i];
            let b = held[j];
            if (ranks_before(b, a)) {
                held[i] = b;
                held[j] = a;
            }
        }
    }
    workgroupBarrier();
}

// Sorts `held[0..count)` best first (every stage up to the next power of two of `count`).
// Called from uniform control flow with a uniform `count`.
fn sort_held(lid: u32, count: u32) {
    let span = select(1u << (firstLeadingBit(max(count, 2u) - 1u) + 1u), 1u, count <= 1u);
    for (var block = 2u; block <= span; block <<= 1u) {
        for (var stride = block / 2u; stride > 0u; stride >>= 1u) {
            held_stage(lid, count, span, block, stride);
        }
    }
}
