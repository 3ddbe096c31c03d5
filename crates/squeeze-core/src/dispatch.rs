//! Recording one kernel dispatch, and workgroup counts for grid-stride kernels.

use crate::buffer::Binding;
use crate::error::{Error, Result};
use crate::gpu::Gpu;

/// The `params` uniform of every grid-stride kernel (`shaders/core/grid.wgsl`).
#[repr(C)]
#[derive(Debug, Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
pub struct GridParams {
    /// Items to produce.
    pub n: u32,
    pub _pad: [u32; 3],
}

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

impl Gpu {
    /// Records one compute pass of `pipeline`: `params` uploaded as the uniform at binding 0,
    /// `bindings` at 1, 2, … in the shader's order, `workgroups` groups along x.
    pub fn dispatch<P: bytemuck::Pod>(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        label: &str,
        pipeline: &wgpu::ComputePipeline,
        params: &P,
        bindings: &[Binding<'_>],
        workgroups: u32,
    ) -> Result<()> {
        self.dispatch_groups(
            encoder,
            label,
            pipeline,
            params,
            bindings,
            [workgroups, 1, 1],
        )
    }

    /// [`Gpu::dispatch`] of an x × y × z grid of workgroups, each count checked against
    /// `max_compute_workgroups_per_dimension`.
    pub fn dispatch_groups<P: bytemuck::Pod>(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        label: &str,
        pipeline: &wgpu::ComputePipeline,
        params: &P,
        bindings: &[Binding<'_>],
        workgroups: [u32; 3],
    ) -> Result<()> {
        let slotted = bindings.iter().enumerate().map(|(i, b)| (i as u32 + 1, *b));
        self.record_dispatch(encoder, label, pipeline, params, slotted, workgroups)
    }

    /// [`Gpu::dispatch`] with each binding at an explicit slot, for kernels whose optional
    /// bindings leave gaps.
    pub fn dispatch_slots<P: bytemuck::Pod>(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        label: &str,
        pipeline: &wgpu::ComputePipeline,
        params: &P,
        bindings: &[(u32, Binding<'_>)],
        workgroups: u32,
    ) -> Result<()> {
        let slotted = bindings.iter().copied();
        self.record_dispatch(
            encoder,
            label,
            pipeline,
            params,
            slotted,
            [workgroups, 1, 1],
        )
    }

    /// The one dispatch path of every family: checks the grid, takes the bind group (with
    /// `params` in its uniform at slot 0) from the bind cache — built only the first time this
    /// exact dispatch is seen — and records one compute pass.
    fn record_dispatch<'b, P, I>(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        label: &str,
        pipeline: &wgpu::ComputePipeline,
        params: &P,
        bindings: I,
        workgroups: [u32; 3],
    ) -> Result<()>
    where
        P: bytemuck::Pod,
        I: ExactSizeIterator<Item = (u32, Binding<'b>)> + Clone,
    {
        let max = self.limits().max_compute_workgroups_per_dimension;
        if let Some(&count) = workgroups.iter().find(|&&n| n > max) {
            return Err(Error::invalid(
                "workgroups",
                "count per dimension",
                format!("at most max_compute_workgroups_per_dimension = {max}"),
                count,
            ));
        }
        let bytes = bytemuck::bytes_of(params);
        // Checked only when the bind group is built: a cached one passed already.
        let bind_group =
            self.bind_cache()
                .get_or_insert(pipeline, bytes, bindings.clone(), || {
                    self.check_aliasing(label, pipeline, bindings.clone())?;
                    let uniform = self.uniform(label, params);
                    self.bind_group_slots(pipeline, &uniform, bindings)
                })?;
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some(label),
            timestamp_writes: None,
        });
        pass.set_pipeline(pipeline);
        pass.set_bind_group(0, &bind_group, &[]);
        let [x, y, z] = workgroups;
        pass.dispatch_workgroups(x, y, z);
        self.counters().dispatch();
        Ok(())
    }

    /// Fails when one buffer is bound both to a slot the kernel only reads and to one it
    /// writes: wgpu forbids that within a dispatch (even for disjoint ranges) and would report
    /// it only when the encoder finishes, as a validation panic.
    fn check_aliasing<'b>(
        &self,
        label: &str,
        pipeline: &wgpu::ComputePipeline,
        bindings: impl Iterator<Item = (u32, Binding<'b>)> + Clone,
    ) -> Result<()> {
        let Some(writable) = self.pipelines().writable_slots(pipeline) else {
            return Ok(());
        };
        for (written, w) in bindings.clone().filter(|(s, _)| writable.contains(s)) {
            if let Some((read, _)) = bindings
                .clone()
                .find(|(s, b)| !writable.contains(s) && b.buffer == w.buffer)
            {
                return Err(Error::invalid(
                    "bindings",
                    "buffers",
                    format!(
                        "distinct for the read slot {read} and the written slot {written} of `{label}` \
                         (wgpu forbids reading and writing one buffer in a dispatch)"
                    ),
                    "the same buffer",
                ));
            }
        }
        Ok(())
    }

    /// [`Gpu::dispatch`] of a grid-stride kernel producing `n` items at `workgroup_size`
    /// invocations per group (see [`grid_stride_workgroups`]), with [`GridParams`] `{ n }`.
    pub fn dispatch_grid_stride(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        label: &str,
        pipeline: &wgpu::ComputePipeline,
        bindings: &[Binding<'_>],
        n: u32,
        workgroup_size: u32,
    ) -> Result<()> {
        let groups = grid_stride_workgroups(
            u64::from(n),
            workgroup_size,
            self.limits().max_compute_workgroups_per_dimension,
        );
        let params = GridParams { n, _pad: [0; 3] };
        self.dispatch(encoder, label, pipeline, &params, bindings, groups)
    }
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
