//! What the glue kernels share: a pipeline compiled with their one `WORKGROUP_SIZE` override.

use squeeze::shaders::Module;
use squeeze::{Gpu, Result, wgpu};

/// The pipeline of `entry` in `module` at `workgroup_size` invocations per workgroup.
pub(crate) fn pipeline(
    gpu: &Gpu,
    module: &'static Module,
    entry: &str,
    workgroup_size: u32,
) -> Result<wgpu::ComputePipeline> {
    gpu.pipeline(
        module,
        entry,
        &[("WORKGROUP_SIZE", f64::from(workgroup_size))],
    )
}
