// Shared part of the radix selection: the Hillis–Steele inclusive scan over the 256 invocations
// of a workgroup in workgroup memory (eight doubling steps, two barriers each). Core WGSL: the
// scan of the portable modules (topk/scan_workgroup.wgsl) and the fallback of the subgroup scan
// (topk/scan_subgroup.wgsl).

var<workgroup> suffix: array<u32, WORKGROUP_SIZE>;

// This invocation's inclusive sum of `value` over invocations in index order.
fn barrier_scan(lid: u32, value: u32) -> u32 {
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
