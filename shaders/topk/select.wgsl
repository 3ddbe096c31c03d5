// Exact radix selection of the k best elements of each row, one workgroup per row.
//
// Each element is ranked by the 64-bit composite (rank key, index key), where the index key is
// `imax - i` over just enough bits for `n`: larger is better in both halves, and no two elements
// of a row share a composite, so the k-th best composite is one element and ties of equal keys
// fall to the lower index without any ordered compaction. Rounds over 8-bit digits (four of the
// key, then at most four of the index key) histogram the contenders whose composite prefix
// matches the one chosen so far in 256 workgroup atomics, and a suffix scan picks the digit that
// holds the k-th best. The loop stops as soon as the chosen bin holds exactly the elements still
// needed: random rows finish within the key digits, and the index digits run only for ties.
//
// Once the chosen bin holds at most CANDIDATE_CAPACITY elements, one more read of the row
// appends every element above the prefix as a winner and copies the bin's elements to workgroup
// memory; later rounds and the final compaction work there, so a row with few equal high keys is
// read twice in all. At the end every contender whose prefix is at least the chosen one is a
// winner: exactly min(k, length) of them, appended unordered to the row's `k` slots of `pairs`
// (rank key, index); the rest of the slots get the sentinel. topk/sort.wgsl orders them.
//
// Rows are walked with a workgroup stride, so any row count fits the dispatch limit; every loop
// is bounded by `n`, `k`, a capacity or a constant.

@group(0) @binding(3) var<storage, read_write> pairs: array<vec2<u32>>;

const RADIX_BITS: u32 = 8u;
const KEY_PASSES: u32 = 4u;

// Candidates (rank key, index) kept in workgroup memory once the chosen bin is this small:
// 1536 × 8 bytes, so the module stays within the portable 16 KiB of workgroup storage.
const CANDIDATE_CAPACITY: u32 = 1536u;

var<workgroup> histogram: array<atomic<u32>, 256>;
var<workgroup> suffix: array<u32, 256>;
var<workgroup> candidates: array<vec2<u32>, CANDIDATE_CAPACITY>;
var<workgroup> candidate_count: atomic<u32>;
// (digit, elements still needed, elements in the chosen bin, 1 when those are exactly the needed)
var<workgroup> chosen: vec4<u32>;
var<workgroup> row_valid: u32;
var<workgroup> slots: atomic<u32>;

// Bits of the index key: enough for `n - 1`.
fn index_bits() -> u32 {
    return firstLeadingBit(max(params.n - 1u, 1u)) + 1u;
}

// Workgroup-wide inclusive scan of `value` over invocations in order; returns this
// invocation's sum.
fn inclusive_scan(lid: u32, value: u32) -> u32 {
    suffix[lid] = value;
    workgroupBarrier();
    for (var offset = 1u; offset < WORKGROUP_SIZE; offset <<= 1u) {
        var add = 0u;
        if (lid >= offset) {
            add = suffix[lid - offset];
        }
        workgroupBarrier();
        suffix[lid] += add;
        workgroupBarrier();
    }
    return suffix[lid];
}

// The prefix chosen so far: composite (key, index key) bits under the masks.
struct Prefix {
    key: u32,
    key_mask: u32,
    index: u32,
    index_mask: u32,
}

// -1, 0 or 1 as the composite of (key, ikey) under `p`'s masks is below, equal to or above it.
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

fn count_digit(p: Prefix, key: u32, ikey: u32, key_pass: bool, shift: u32) {
    if (compare_prefix(p, key, ikey) == 0) {
        let digit = (select(ikey, key, key_pass) >> shift) & 0xffu;
        atomicAdd(&histogram[digit], 1u);
    }
}

fn append_winner(out: u32, kept: u32, key: u32, i: u32) {
    let slot = atomicAdd(&slots, 1u);
    if (slot < kept) {
        pairs[out + slot] = vec2<u32>(key, i);
    }
}

fn select_row(row: u32, lid: u32) {
    if (lid == 0u) {
        row_valid = row_length(row);
        atomicStore(&slots, 0u);
        atomicStore(&candidate_count, 0u);
    }
    let length = workgroupUniformLoad(&row_valid);
    let kept = min(params.k, length);
    let base = row * params.n;
    let out = row * params.k;
    for (var j = kept + lid; j < params.k; j += WORKGROUP_SIZE) {
        pairs[out + j] = SENTINEL;
    }
    if (kept == 0u) {
        return;
    }

    let ibits = index_bits();
    let index_passes = (ibits + RADIX_BITS - 1u) / RADIX_BITS;
    let imax = select((1u << ibits) - 1u, 0xffffffffu, ibits >= 32u);
    var p = Prefix(0u, 0u, 0u, 0u);
    var needed = kept;
    // Whether the contenders left are the `in_memory` candidates rather than the whole row.
    var local = false;
    var in_memory = 0u;
    for (var round = 0u; round < KEY_PASSES + index_passes; round++) {
        let key_pass = round < KEY_PASSES;
        var shift = (index_passes - 1u - (round - KEY_PASSES)) * RADIX_BITS;
        if (key_pass) {
            shift = (KEY_PASSES - 1u - round) * RADIX_BITS;
        }
        atomicStore(&histogram[lid], 0u);
        workgroupBarrier();
        if (local) {
            for (var c = lid; c < in_memory; c += WORKGROUP_SIZE) {
                let pair = candidates[c];
                count_digit(p, pair.x, imax - pair.y, key_pass, shift);
            }
        } else {
            for (var i = lid; i < length; i += WORKGROUP_SIZE) {
                count_digit(p, element_key(base + i), imax - i, key_pass, shift);
            }
        }
        workgroupBarrier();
        // Invocation `lid` holds bin 255 - lid, so its inclusive scan counts the elements whose
        // digit is at least that bin's.
        let bin = 255u - lid;
        let count = atomicLoad(&histogram[bin]);
        let at_least = inclusive_scan(lid, count);
        let above = at_least - count;
        if (above < needed && needed <= at_least) {
            chosen = vec4<u32>(bin, needed - above, count, u32(count == needed - above));
        }
        let pick = workgroupUniformLoad(&chosen);
        needed = pick.y;
        if (key_pass) {
            p.key |= pick.x << shift;
            p.key_mask |= 0xffu << shift;
        } else {
            p.index |= pick.x << shift;
            p.index_mask |= 0xffu << shift;
        }
        if (pick.w != 0u) {
            break;
        }
        if (!local && pick.z <= CANDIDATE_CAPACITY) {
            // One more read of the row instead of a full pass: elements above the prefix are
            // winners now, elements on it become the candidates the remaining rounds narrow.
            for (var i = lid; i < length; i += WORKGROUP_SIZE) {
                let key = element_key(base + i);
                let side = compare_prefix(p, key, imax - i);
                if (side > 0) {
                    append_winner(out, kept, key, i);
                } else if (side == 0) {
                    let c = atomicAdd(&candidate_count, 1u);
                    if (c < CANDIDATE_CAPACITY) {
                        candidates[c] = vec2<u32>(key, i);
                    }
                }
            }
            workgroupBarrier();
            local = true;
            in_memory = pick.z;
        }
    }

    // Winners: every contender whose prefix is at least the chosen one.
    if (local) {
        for (var c = lid; c < in_memory; c += WORKGROUP_SIZE) {
            let pair = candidates[c];
            if (compare_prefix(p, pair.x, imax - pair.y) >= 0) {
                append_winner(out, kept, pair.x, pair.y);
            }
        }
    } else {
        for (var i = lid; i < length; i += WORKGROUP_SIZE) {
            let key = element_key(base + i);
            if (compare_prefix(p, key, imax - i) >= 0) {
                append_winner(out, kept, key, i);
            }
        }
    }
    workgroupBarrier();
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn select_rows(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    for (var row = wid.x; row < params.rows; row += groups.x) {
        select_row(row, lid);
    }
}
