// Top-k of short rows in one dispatch: one workgroup per row holds the whole row in workgroup
// memory, selects and sorts there and writes the outputs, with no scratch pairs and no separate
// sort or gather pass.
//
// A row's valid elements (length ≤ SMALL_CAPACITY) are loaded once as (rank key, index) pairs.
// When fewer than all are kept, the radix rounds of topk/candidates.wgsl narrow them in workgroup
// memory to the prefix of the k-th best composite (rank key, index key), and the winners are
// compacted in place to `held[0..kept)`; the bitonic network of topk/bitonic.wgsl then sorts
// them best first. `small_indices` writes each row's k indices (-1 past a short row's length);
// `small_topk` also writes the values in the input's format (the order's worst infinity in
// padding slots).
//
// 16-bit values are packed two per word, and a row whose k outputs start or end mid-word shares
// that word with its neighbour row, which another workgroup writes: such a half is written with
// an atomic clear and an atomic or of its own 16 bits, whole words with an atomic store, so no
// write can undo another's. Rows are walked with a workgroup stride; every loop is bounded by
// `n`, `k` or a capacity.

@group(0) @binding(4) var<storage, read_write> indices: array<i32>;
@group(0) @binding(5) var<storage, read_write> values: array<atomic<u32>>;

// Elements of a row held in workgroup memory: chosen from the device's workgroup storage (3072 ×
// 8 bytes with 32 KiB, 1536 with the portable 16 KiB), leaving room for the histogram and scans.
override SMALL_CAPACITY: u32 = 1536u;

var<workgroup> held: array<vec2<u32>, SMALL_CAPACITY>;
var<workgroup> row_valid: u32;
var<workgroup> slots: atomic<u32>;

// Selects and sorts row `row`'s winners into `held[0..kept)` and writes their indices; returns
// kept = min(k, length), uniformly.
fn small_row(row: u32, lid: u32) -> u32 {
    if (lid == 0u) {
        row_valid = min(row_length(row), SMALL_CAPACITY);
        atomicStore(&slots, 0u);
    }
    let length = workgroupUniformLoad(&row_valid);
    let kept = min(params.k, length);
    let base = row * params.n;
    for (var i = lid; i < length; i += WORKGROUP_SIZE) {
        held[i] = vec2<u32>(element_key(base + i), i);
    }
    workgroupBarrier();
    if (kept < length) {
        let imax = index_key_max();
        let p = narrow_in_memory(lid, Prefix(0u, 0u, 0u, 0u), kept, 0u, length);
        // Compaction in place, 256 elements a step: each step's winners take slots below the
        // elements read so far, all of which are in registers or consumed.
        for (var first = 0u; first < length; first += WORKGROUP_SIZE) {
            let i = first + lid;
            var pair = SENTINEL;
            if (i < length) {
                pair = held[i];
            }
            workgroupBarrier();
            if (i < length && compare_prefix(p, pair.x, imax - pair.y) >= 0) {
                held[atomicAdd(&slots, 1u)] = pair;
            }
            workgroupBarrier();
        }
    }
    sort_held(lid, kept);
    let out = row * params.k;
    for (var j = lid; j < params.k; j += WORKGROUP_SIZE) {
        var index = -1;
        if (j < kept) {
            index = bitcast<i32>(held[j].y);
        }
        indices[out + j] = index;
    }
    return kept;
}

// The stored bits of the value in slot `j` of row `row` (`held` sorted, `kept` winners).
fn slot_raw(row: u32, kept: u32, j: u32) -> u32 {
    if (j < kept) {
        return element_raw(row * params.n + held[j].y);
    }
    return padding_raw();
}

// Writes row `row`'s k values from its sorted winners in `held`.
fn write_values(row: u32, lid: u32, kept: u32) {
    let out = row * params.k;
    if (FORMAT == 0u) {
        for (var j = lid; j < params.k; j += WORKGROUP_SIZE) {
            atomicStore(&values[out + j], slot_raw(row, kept, j));
        }
        return;
    }
    // Words holding any of elements [out, out + k), two 16-bit halves each.
    let first_word = out / 2u;
    let words = (out + params.k + 1u) / 2u - first_word;
    for (var w = lid; w < words; w += WORKGROUP_SIZE) {
        let word = first_word + w;
        let lo = 2u * word;
        let lo_mine = lo >= out;
        let hi_mine = lo + 1u < out + params.k;
        if (lo_mine && hi_mine) {
            let bits = slot_raw(row, kept, lo - out) | (slot_raw(row, kept, lo + 1u - out) << 16u);
            atomicStore(&values[word], bits);
        } else if (lo_mine) {
            atomicAnd(&values[word], 0xffff0000u);
            atomicOr(&values[word], slot_raw(row, kept, lo - out));
        } else {
            atomicAnd(&values[word], 0x0000ffffu);
            atomicOr(&values[word], slot_raw(row, kept, lo + 1u - out) << 16u);
        }
    }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn small_indices(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    for (var row = wid.x; row < params.rows; row += groups.x) {
        small_row(row, lid);
        workgroupBarrier();
    }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn small_topk(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    for (var row = wid.x; row < params.rows; row += groups.x) {
        let kept = small_row(row, lid);
        write_values(row, lid, kept);
        workgroupBarrier();
    }
}
