// The workgroup scan of the subgroup top-k modules: a subgroup inclusive sum, the subgroup totals
// summed in order by each invocation, and two barriers instead of the sixteen of
// topk/scan.wgsl's doubling steps (each pick of a radix round runs one scan).
//
// It needs every subgroup to be a run of consecutive invocations (lane j = first index + j),
// which drivers do for one-dimensional workgroups but WGSL does not promise. Each subgroup checks
// this; if any is not, the whole workgroup takes `barrier_scan` instead, so the result is right
// on every device. Subgroup sizes may even differ: totals are kept by each subgroup's first
// index and walked in order.

// Set by any invocation whose subgroup is not a consecutive run; read and reset to 0 by
// invocation 0 after each scan, so one scan's flag never leaks into the next. (Should it start
// non-zero, as it may without zero-initialised workgroup memory, the first scan merely takes the
// fallback.)
var<workgroup> scan_scattered: atomic<u32>;
var<workgroup> scan_fallback: u32;
// By a subgroup's first invocation index: its size (its total goes to the same index of
// topk/scan.wgsl's `suffix`, which only the fallback uses otherwise).
var<workgroup> scan_sizes: array<u32, WORKGROUP_SIZE>;

// Workgroup-wide inclusive scan of `value` over invocations in index order (256 of them);
// returns this invocation's sum. Called from uniform control flow.
fn inclusive_scan(lid: u32, value: u32) -> u32 {
    let lane = subgroupExclusiveAdd(1u);
    let size = subgroupAdd(1u);
    let inclusive = subgroupInclusiveAdd(value);
    let first = subgroupBroadcastFirst(lid);
    if (lid != first + lane) {
        atomicStore(&scan_scattered, 1u);
    }
    if (lane + 1u == size && first < WORKGROUP_SIZE) {
        scan_sizes[first] = size;
        suffix[first] = inclusive;
    }
    workgroupBarrier();
    if (lid == 0u) {
        scan_fallback = atomicLoad(&scan_scattered);
        atomicStore(&scan_scattered, 0u);
    }
    if (workgroupUniformLoad(&scan_fallback) != 0u) {
        return barrier_scan(lid, value);
    }
    // Totals of the subgroups before this one, walked by first index (bounded by the count).
    var before = 0u;
    var at = 0u;
    for (var step = 0u; step < WORKGROUP_SIZE && at < first; step++) {
        before += suffix[at];
        at += max(scan_sizes[at], 1u);
    }
    return before + inclusive;
}
