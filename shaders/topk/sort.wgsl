// Sorting (rank key, index) pairs best first, each row's `k` pairs on their own, with the bitonic
// network of topk/bitonic.wgsl: a row of any length sorts as if padded to a power of two (`span`)
// with pairs worse than all, and a comparator whose partner is past the row's end is skipped.
//
// `bitonic_local` sorts chunks of SORT_CAPACITY pairs in workgroup memory (`merge_size` = 0:
// every stage up to the chunk size) or finishes a large merge (`merge_size` > SORT_CAPACITY: the
// comparator distances below SORT_CAPACITY); `bitonic_global` runs one stage with a larger
// `distance` straight on the buffer. A row of k ≤ SORT_CAPACITY is one `bitonic_local`. With FLAG_WRITE_INDICES the last
// pass writes each pair's index as i32 (the sentinel's reads -1) instead of the pair.
// `sort_init` fills the pairs of a full sort (k = n) straight from the scores.

// The `params` uniform of the sort; its Rust twin is `squeeze_topk::sort::SortParams` (the
// validation suite holds the two layouts equal). The first four words are those of every top-k
// module (topk/constants.wgsl).
struct SortParams {
    rows: u32,
    n: u32,
    k: u32,
    flags: u32,
    // Bitonic merge size of this stage; 0 sorts each chunk fully.
    merge_size: u32,
    // Comparator distance of this `bitonic_global` stage.
    distance: u32,
    // Power of two at least k: the length each row sorts as.
    span: u32,
    _pad0: u32,
}

@group(0) @binding(0) var<uniform> params: SortParams;

// Pairs sorted in workgroup memory at once: 2048 × 8 bytes = 16 KiB, the portable minimum of
// `max_compute_workgroup_storage_size`.
override SORT_CAPACITY: u32 = 2048u;

@group(0) @binding(3) var<storage, read_write> pairs: array<vec2<u32>>;
@group(0) @binding(4) var<storage, read_write> indices: array<i32>;

var<workgroup> held: array<vec2<u32>, SORT_CAPACITY>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn bitonic_local(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let k = params.k;
    let size = min(params.span, SORT_CAPACITY);
    let chunks_per_row = params.span / size;
    let chunks = params.rows * chunks_per_row;
    for (var id = wid.x; id < chunks; id += groups.x) {
        let row = id / chunks_per_row;
        let first = (id % chunks_per_row) * size;
        if (first >= k) {
            continue;
        }
        let count = min(size, k - first);
        for (var t = lid; t < count; t += WORKGROUP_SIZE) {
            held[t] = pairs[row * k + first + t];
        }
        workgroupBarrier();
        if (params.merge_size == 0u) {
            sort_held(lid, count);
        } else {
            for (var stride = size / 2u; stride > 0u; stride >>= 1u) {
                held_stage(lid, count, size, params.merge_size, stride);
            }
        }
        for (var t = lid; t < count; t += WORKGROUP_SIZE) {
            if ((params.flags & FLAG_WRITE_INDICES) != 0u) {
                indices[row * k + first + t] = bitcast<i32>(held[t].y);
            } else {
                pairs[row * k + first + t] = held[t];
            }
        }
        workgroupBarrier();
    }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn bitonic_global(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let k = params.k;
    let per_row = params.span / 2u;
    let total = params.rows * per_row;
    let step = groups.x * WORKGROUP_SIZE;
    for (var c = gid.x; c < total; c += step) {
        let row = c / per_row;
        let i = comparator_low(c % per_row, params.distance);
        let j = comparator_high(i, params.merge_size, params.distance);
        if (j < k) {
            let a = pairs[row * k + i];
            let b = pairs[row * k + j];
            if (ranks_before(b, a)) {
                pairs[row * k + i] = b;
                pairs[row * k + j] = a;
            }
        }
    }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn sort_init(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let n = params.n;
    let total = params.rows * n;
    let step = groups.x * WORKGROUP_SIZE;
    for (var e = gid.x; e < total; e += step) {
        let i = e % n;
        var pair = SENTINEL;
        if (i < row_length(e / n)) {
            pair = vec2<u32>(element_key(e), i);
        }
        pairs[e] = pair;
    }
}
