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

// Candidates (rank key, index) kept in workgroup memory once the chosen bin is this small:
// 1536 × 8 bytes keeps the module within the portable 16 KiB of workgroup storage.
override CANDIDATE_CAPACITY: u32 = 1536u;

var<workgroup> held: array<vec2<u32>, CANDIDATE_CAPACITY>;

var<workgroup> candidate_count: atomic<u32>;
var<workgroup> row_valid: u32;
var<workgroup> slots: atomic<u32>;

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

    let imax = index_key_max();
    var p = Prefix(0u, 0u, 0u, 0u);
    var needed = kept;
    // Set once the contenders left are the `in_memory` candidates, to the next round.
    var next_round = 0u;
    var in_memory = 0u;
    for (var round = 0u; round < KEY_ROUNDS + index_rounds(); round++) {
        let key_round = round < KEY_ROUNDS;
        let shift = digit_shift(round);
        atomicStore(&histogram[lid], 0u);
        workgroupBarrier();
        for (var i = lid; i < length; i += WORKGROUP_SIZE) {
            count_digit(p, element_key(base + i), imax - i, key_round, shift);
        }
        workgroupBarrier();
        let pick = pick_digit(lid, atomicLoad(&histogram[255u - lid]), needed);
        needed = pick.y;
        p = extend_prefix(p, round, pick.x);
        if (pick.w != 0u) {
            break;
        }
        if (pick.z <= CANDIDATE_CAPACITY) {
            // One more read of the row instead of a full round: elements above the prefix are
            // winners now, elements on it become the candidates the remaining rounds narrow.
            for (var i = lid; i < length; i += WORKGROUP_SIZE) {
                let key = element_key(base + i);
                let side = compare_prefix(p, key, imax - i);
                if (side > 0) {
                    append_winner(out, kept, key, i);
                } else if (side == 0) {
                    let c = atomicAdd(&candidate_count, 1u);
                    if (c < CANDIDATE_CAPACITY) {
                        held[c] = vec2<u32>(key, i);
                    }
                }
            }
            workgroupBarrier();
            next_round = round + 1u;
            in_memory = pick.z;
            break;
        }
    }

    // Winners: every contender whose prefix is at least the chosen one.
    if (next_round != 0u) {
        p = narrow_in_memory(lid, p, needed, next_round, in_memory);
        for (var c = lid; c < in_memory; c += WORKGROUP_SIZE) {
            let pair = held[c];
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
