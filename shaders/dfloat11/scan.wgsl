// Workgroup exclusive prefix sum for the DFloat11 decoder, core WGSL only: Hillis–Steele over
// one u32 per invocation in workgroup memory, log2(THREADS_PER_BLOCK) steps of two barriers.
// The decoder calls it from uniform control flow; `THREADS_PER_BLOCK` is its override.

var<workgroup> scan_sums: array<u32, THREADS_PER_BLOCK>;

// The sum of `value` over the invocations before `lid` in the workgroup.
fn block_exclusive_scan(lid: u32, value: u32) -> u32 {
    scan_sums[lid] = value;
    for (var offset = 1u; offset < THREADS_PER_BLOCK; offset <<= 1u) {
        workgroupBarrier();
        var add = 0u;
        if (lid >= offset) {
            add = scan_sums[lid - offset];
        }
        workgroupBarrier();
        scan_sums[lid] += add;
    }
    workgroupBarrier();
    return scan_sums[lid] - value;
}
