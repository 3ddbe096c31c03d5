// The DFloat11 decoder's block scan with subgroup operations: a subgroup inclusive sum, one total
// per subgroup scanned by one invocation, two barriers instead of the raking scan's three and no
// serial loops per invocation.
//
// It needs every subgroup to be a run of consecutive invocations (lane k = first index + k),
// which drivers do for one-dimensional workgroups but WGSL does not promise. Each subgroup checks
// this; if any is not, the whole workgroup takes the raking scan of `scan.wgsl` instead, so the
// result is right on every device. Subgroup sizes may even differ: totals are kept by each
// subgroup's first index and walked in order.

// Set by any invocation whose subgroup is not a consecutive run; cleared by `block_scan_init`.
var<workgroup> scan_scattered: atomic<u32>;
var<workgroup> scan_use_raking: u32;
// By a subgroup's first invocation index: its size and its total, then its exclusive prefix.
var<workgroup> scan_sizes: array<u32, THREADS_PER_BLOCK>;
var<workgroup> scan_totals: array<u32, THREADS_PER_BLOCK>;

// Called by every invocation before the decoder's first barrier.
fn block_scan_init(lid: u32) {
    if (lid == 0u) {
        atomicStore(&scan_scattered, 0u);
    }
}

// The sum of `value` over the invocations before `lid` in the workgroup.
fn block_exclusive_scan(lid: u32, value: u32) -> u32 {
    let lane = subgroupExclusiveAdd(1u);
    let size = subgroupAdd(1u);
    let inclusive = subgroupInclusiveAdd(value);
    let first = subgroupBroadcastFirst(lid);
    if (lid != first + lane) {
        atomicStore(&scan_scattered, 1u);
    }
    if (lane + 1u == size && first < THREADS_PER_BLOCK) {
        scan_sizes[first] = size;
        scan_totals[first] = inclusive;
    }
    workgroupBarrier();
    if (lid == 0u) {
        let scattered = atomicLoad(&scan_scattered);
        scan_use_raking = scattered;
        if (scattered == 0u) {
            var running = 0u;
            var at = 0u;
            for (var step = 0u; step < THREADS_PER_BLOCK && at < THREADS_PER_BLOCK; step++) {
                let total = scan_totals[at];
                scan_totals[at] = running;
                running += total;
                at += max(scan_sizes[at], 1u);
            }
        }
    }
    if (workgroupUniformLoad(&scan_use_raking) != 0u) {
        return raking_exclusive_scan(lid, value);
    }
    return scan_totals[min(first, THREADS_PER_BLOCK - 1u)] + inclusive - value;
}
