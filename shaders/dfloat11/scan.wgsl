// Workgroup exclusive prefix sum for the DFloat11 decoder, core WGSL only. A raking scan with
// three barriers: segments of SCAN_SEGMENT counts are summed by one invocation each, one
// invocation scans the segment sums, and every invocation adds the counts before it in its
// segment. Barriers cost more than a few serial adds on every device (and on CPU emulation,
// lavapipe, far more), so this beats a log-step scan's 2·log2(THREADS_PER_BLOCK) barriers.
// Called from uniform control flow (by `scan_workgroup.wgsl`, and by `scan_subgroup.wgsl` as its
// fallback); `THREADS_PER_BLOCK` is the decoder's override.

const SCAN_SEGMENT: u32 = 16u;

var<workgroup> scan_counts: array<u32, THREADS_PER_BLOCK>;
var<workgroup> scan_segments: array<u32, THREADS_PER_BLOCK / SCAN_SEGMENT + 1u>;

// The sum of `value` over the invocations before `lid` in the workgroup.
fn raking_exclusive_scan(lid: u32, value: u32) -> u32 {
    let segments = (THREADS_PER_BLOCK + SCAN_SEGMENT - 1u) / SCAN_SEGMENT;
    scan_counts[lid] = value;
    workgroupBarrier();
    if (lid < segments) {
        var sum = 0u;
        let first = lid * SCAN_SEGMENT;
        for (var i = first; i < min(first + SCAN_SEGMENT, THREADS_PER_BLOCK); i++) {
            sum += scan_counts[i];
        }
        scan_segments[lid] = sum;
    }
    workgroupBarrier();
    if (lid == 0u) {
        var running = 0u;
        for (var s = 0u; s < segments; s++) {
            let sum = scan_segments[s];
            scan_segments[s] = running;
            running += sum;
        }
    }
    workgroupBarrier();
    let segment = lid / SCAN_SEGMENT;
    var before = scan_segments[segment];
    for (var i = segment * SCAN_SEGMENT; i < lid; i++) {
        before += scan_counts[i];
    }
    return before;
}
