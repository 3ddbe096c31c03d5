//! What the glue kernels share: a pipeline compiled with their one `WORKGROUP_SIZE` override,
//! and the recording of an elementwise kernel over `n` f32 values of every binding.

use squeeze::shaders::Module;
use squeeze::{Binding, Gpu, Result, wgpu};

use crate::check::f32s;

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

/// A kernel over `n` f32 values of each of its bindings, grid-stride.
pub(crate) struct Elementwise<'a> {
    pub gpu: &'a Gpu,
    pub pipeline: &'a wgpu::ComputePipeline,
    pub label: &'static str,
    pub workgroup_size: u32,
}

impl Elementwise<'_> {
    /// Checks that every (name, binding) holds `n` f32 values and records the kernel; nothing
    /// for `n` = 0.
    pub fn encode(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        n: u32,
        bindings: &[(&'static str, Binding<'_>)],
    ) -> Result<()> {
        if n == 0 {
            return Ok(());
        }
        for (arg, b) in bindings {
            f32s(self.gpu, arg, b, n, format_args!("{n} f32"))?;
        }
        let bindings: Vec<Binding<'_>> = bindings.iter().map(|(_, b)| *b).collect();
        self.gpu.dispatch_grid_stride(
            encoder,
            self.label,
            self.pipeline,
            &bindings,
            n,
            self.workgroup_size,
        )
    }
}
