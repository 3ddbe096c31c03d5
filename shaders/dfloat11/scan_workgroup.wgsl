// The DFloat11 decoder's block scan on the portable path: the raking scan of `scan.wgsl`.

// Called by every invocation before the decoder's first barrier; the raking scan needs nothing.
fn block_scan_init(lid: u32) {}

// The sum of `value` over the invocations before `lid` in the workgroup.
fn block_exclusive_scan(lid: u32, value: u32) -> u32 {
    return raking_exclusive_scan(lid, value);
}
