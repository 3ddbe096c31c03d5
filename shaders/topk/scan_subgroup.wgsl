// The workgroup scan of the subgroup top-k modules: a subgroup inclusive sum, then the totals of
// the subgroups before this one, read by the lanes of this subgroup in parallel and summed with
// one more subgroup sum; two barriers instead of the sixteen of topk/scan.wgsl's doubling steps
// (each pick of a radix round runs one scan).
//
// It needs every subgroup to be a run of consecutive invocations (lane j = first index + j),
// which drivers do for one-dimensional workgroups but WGSL does not promise. Each subgroup checks
// this; if any is not, the whole workgroup takes `barrier_scan` instead, so the result is right
// on every device. The parallel read assumes the subgroups before this one share its size, and
// checks it: should sizes differ, the subgroup walks the preceding subgroups one by one instead.

// Set by any invocation whose subgroup is not a consecutive run; read and reset to 0 by
// invocation 0 after each scan, so one scan's flag never leaks into the next. (Should it start
// non-zero, as it may without zero-initialised workgroup memory, the first scan merely takes the
// fallback.)
var<workgroup> scan_scattered: atomic<u32>;
var<workgroup> scan_fallback: u32;
// By invocation: the size of its subgroup. (Subgroup totals go to topk/scan.wgsl's `suffix`, at
// each subgroup's last invocation; only the fallback uses it otherwise.)
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
    suffix[lid] = inclusive;
    scan_sizes[lid] = size;
    workgroupBarrier();
    if (lid == 0u) {
        scan_fallback = atomicLoad(&scan_scattered);
        atomicStore(&scan_scattered, 0u);
    }
    if (workgroupUniformLoad(&scan_fallback) != 0u) {
        return barrier_scan(lid, value);
    }
    // With one size s throughout, the subgroups before this one start at 0, s, 2s, … < first:
    // lane j reads the totals of subgroups j, j + s, … (a start of size s at each read position
    // proves the layout, by induction from 0).
    var before = 0u;
    var same_size = true;
    for (var g = lane; g * size < first && g < WORKGROUP_SIZE; g += size) {
        let at = g * size;
        same_size = same_size && scan_sizes[at] == size;
        before += suffix[min(at + size, WORKGROUP_SIZE) - 1u];
    }
    if (subgroupAll(same_size)) {
        return subgroupAdd(before) + inclusive;
    }
    // Mixed sizes: walk the preceding subgroups by their sizes (bounded by the count).
    before = 0u;
    var at = 0u;
    for (var step = 0u; step < WORKGROUP_SIZE && at < first; step++) {
        let next = min(at + max(scan_sizes[at], 1u), WORKGROUP_SIZE);
        before += suffix[next - 1u];
        at = next;
    }
    return before + inclusive;
}
