// The workgroup scan of the portable top-k modules: core WGSL only (topk/scan.wgsl).

// Workgroup-wide inclusive scan of `value` over invocations in index order (256 of them);
// returns this invocation's sum. Called from uniform control flow.
fn inclusive_scan(lid: u32, value: u32) -> u32 {
    return barrier_scan(lid, value);
}
