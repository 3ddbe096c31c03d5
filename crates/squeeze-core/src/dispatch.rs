//! Workgroup counts for grid-stride kernels.

/// Cap on workgroups of a grid-stride dispatch: 4096 × 256 invocations is several times the
/// resident threads of the largest GPUs, so more groups add scheduling work, not bandwidth.
pub const MAX_GRID_WORKGROUPS: u32 = 4096;

/// Workgroups for `items` work items at `workgroup_size` per group: one item per invocation up
/// to [`MAX_GRID_WORKGROUPS`] (or the device's `max_per_dimension`, if lower) groups, beyond
/// which the kernel's grid-stride loop takes the rest. At least one group, so a dispatch is
/// always valid.
pub fn grid_stride_workgroups(items: u64, workgroup_size: u32, max_per_dimension: u32) -> u32 {
    let groups = items.div_ceil(u64::from(workgroup_size.max(1)));
    let cap = MAX_GRID_WORKGROUPS.min(max_per_dimension).max(1);
    groups.clamp(1, u64::from(cap)) as u32
}

#[cfg(test)]
mod tests {
    use super::grid_stride_workgroups;

    #[test]
    fn one_group_minimum_and_limit_cap() {
        assert_eq!(grid_stride_workgroups(0, 256, 65535), 1);
        assert_eq!(grid_stride_workgroups(1, 256, 65535), 1);
        assert_eq!(grid_stride_workgroups(256, 256, 65535), 1);
        assert_eq!(grid_stride_workgroups(257, 256, 65535), 2);
        assert_eq!(
            grid_stride_workgroups(u64::from(u32::MAX) * 16, 256, 65535),
            4096
        );
        assert_eq!(grid_stride_workgroups(1 << 30, 256, 1000), 1000);
    }
}
