// Exact radix selection of the k best elements of each row, one workgroup per row.
//
// Each element is ranked by the 64-bit composite (rank key, index key), where the index key is
// `imax - i` over just enough bits for `n`: larger is better in both halves, and no two elements
// of a row share a composite, so the k-th best composite is one element and ties of equal keys
// fall to the lower index without any ordered compaction. Passes over 8-bit digits (four of the
// key, then at most four of the index key) histogram the elements whose composite prefix matches
// the one chosen so far in 256 workgroup atomics, and a suffix scan picks the digit that holds
// the k-th best. The loop stops as soon as the chosen bin holds exactly the elements still
// needed: random rows finish within the key digits, and the index digits run only for ties.
// Then every element whose prefix is at least the chosen one is a winner; exactly min(k, length)
// of them are appended, unordered, to the row's `k` slots of `pairs` (rank key, index), and the
// rest of the slots get the sentinel. topk/sort.wgsl orders them.
//
// Rows are walked with a workgroup stride, so any row count fits the dispatch limit; every loop
// is bounded by `n`, `k` or a constant.

@group(0) @binding(3) var<storage, read_write> pairs: array<vec2<u32>>;

const RADIX_BITS: u32 = 8u;
const KEY_PASSES: u32 = 4u;

var<workgroup> histogram: array<atomic<u32>, 256>;
var<workgroup> suffix: array<u32, 256>;
// (digit, elements still needed, 1 when the bin holds exactly those, row length)
var<workgroup> chosen: vec4<u32>;
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

fn select_row(row: u32, lid: u32) {
    if (lid == 0u) {
        chosen = vec4<u32>(0u, 0u, 0u, row_length(row));
        atomicStore(&slots, 0u);
    }
    let length = workgroupUniformLoad(&chosen).w;
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
    var key_prefix = 0u;
    var key_mask = 0u;
    var index_prefix = 0u;
    var index_mask = 0u;
    var needed = kept;
    for (var round = 0u; round < KEY_PASSES + index_passes; round++) {
        let key_pass = round < KEY_PASSES;
        var shift = (index_passes - 1u - (round - KEY_PASSES)) * RADIX_BITS;
        if (key_pass) {
            shift = (KEY_PASSES - 1u - round) * RADIX_BITS;
        }
        atomicStore(&histogram[lid], 0u);
        workgroupBarrier();
        for (var i = lid; i < length; i += WORKGROUP_SIZE) {
            let key = element_key(base + i);
            let ikey = imax - i;
            if ((key & key_mask) == key_prefix && (ikey & index_mask) == index_prefix) {
                let digit = (select(ikey, key, key_pass) >> shift) & 0xffu;
                atomicAdd(&histogram[digit], 1u);
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
            chosen = vec4<u32>(bin, needed - above, u32(count == needed - above), length);
        }
        let pick = workgroupUniformLoad(&chosen);
        needed = pick.y;
        if (key_pass) {
            key_prefix |= pick.x << shift;
            key_mask |= 0xffu << shift;
        } else {
            index_prefix |= pick.x << shift;
            index_mask |= 0xffu << shift;
        }
        if (pick.z != 0u) {
            break;
        }
    }

    for (var i = lid; i < length; i += WORKGROUP_SIZE) {
        let key = element_key(base + i);
        let masked = key & key_mask;
        let wins = masked > key_prefix
            || (masked == key_prefix && ((imax - i) & index_mask) >= index_prefix);
        if (wins) {
            let slot = atomicAdd(&slots, 1u);
            if (slot < kept) {
                pairs[out + slot] = vec2<u32>(key, i);
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
