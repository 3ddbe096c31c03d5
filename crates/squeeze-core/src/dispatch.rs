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

/// Workgroups per CPU thread worth dispatching for a row-walking kernel on an emulated adapter
/// (lavapipe, llvmpipe, WARP). A CPU runs a dispatch's workgroups as tasks spread over its
/// threads, and each workgroup has a fixed cost there (measured on lavapipe: about 9 µs of CPU
/// time, as much as 600 columns of a 4-row GEMV). A few workgroups per thread keep the threads
/// evenly loaded; beyond that the kernels' row loops do the work at no per-group cost. On
/// lavapipe this cut the CPU time of a 1536 × 576 q4_1 GEMV by 19 % and of a 49152 × 576 q8_0
/// GEMV by 18 %. Only for kernels whose loop walks whole rows: an elementwise grid-stride loop
/// over few workgroups strides through memory (each SIMD slice of a CPU workgroup sweeps the
/// whole buffer), which made a 64 MiB copy 4.4× slower on lavapipe.
pub const CPU_ROW_WORKGROUPS_PER_THREAD: u32 = 8;

/// The cap on a row-walking dispatch's workgroups for an adapter of `device_type`:
/// [`MAX_GRID_WORKGROUPS`] and the per-dimension limit, and on a CPU adapter
/// [`CPU_ROW_WORKGROUPS_PER_THREAD`] per thread of this machine (the threads an emulated
/// driver starts by default).
pub fn row_cap(device_type: wgpu::DeviceType, max_per_dimension: u32) -> u32 {
    let cap = MAX_GRID_WORKGROUPS.min(max_per_dimension).max(1);
    if device_type != wgpu::DeviceType::Cpu {
        return cap;
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = u32::try_from(threads).unwrap_or(u32::MAX);
    cap.min(threads.saturating_mul(CPU_ROW_WORKGROUPS_PER_THREAD))
        .max(1)
}

impl Gpu {
    /// Workgroups of an elementwise grid-stride dispatch of `items` work items at
    /// `workgroup_size` per group: [`grid_stride_workgroups`] under the device's limit.
    pub fn grid_workgroups(&self, items: u64, workgroup_size: u32) -> u32 {
        grid_stride_workgroups(
            items,
            workgroup_size,
            self.limits().max_compute_workgroups_per_dimension,
        )
    }

    /// Workgroups of a dispatch whose workgroups loop over `rows` rows (or tiles),
    /// `rows_per_group` at a time: [`grid_stride_workgroups`] under the adapter's row cap
    /// (see [`row_cap`]).
    pub fn row_workgroups(&self, rows: u64, rows_per_group: u32) -> u32 {
        grid_stride_workgroups(rows, rows_per_group, self.row_cap)
    }

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
        let groups = self.grid_workgroups(u64::from(n), workgroup_size);
        let params = GridParams { n, _pad: [0; 3] };
        self.dispatch(encoder, label, pipeline, &params, bindings, groups)
    }
}

#[cfg(test)]
mod tests {
    use super::{
        CPU_ROW_WORKGROUPS_PER_THREAD, MAX_GRID_WORKGROUPS, grid_stride_workgroups, row_cap,
    };
    use wgpu::DeviceType;

    #[test]
    fn cpu_adapters_get_a_few_row_workgroups_per_thread_and_gpus_the_full_grid() {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()) as u32;
        assert_eq!(
            row_cap(DeviceType::Cpu, 65535),
            threads * CPU_ROW_WORKGROUPS_PER_THREAD
        );
        assert_eq!(row_cap(DeviceType::Cpu, 1), 1);
        for gpu in [
            DeviceType::DiscreteGpu,
            DeviceType::IntegratedGpu,
            DeviceType::Other,
        ] {
            assert_eq!(row_cap(gpu, 65535), MAX_GRID_WORKGROUPS);
            assert_eq!(row_cap(gpu, 100), 100);
        }
        assert_eq!(row_cap(DeviceType::DiscreteGpu, 0), 1);
    }

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
