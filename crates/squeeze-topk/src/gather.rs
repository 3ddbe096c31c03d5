//! The values of the selection (`shaders/topk/gather.wgsl`): `values[r, j] = x[r, indices[r, j]]`
//! in the input format, bits copied; padding slots (index -1) get the order's worst infinity.

use squeeze_core::{Binding, Gpu, Result, wgpu};
use squeeze_shaders::{Module, topk::GATHER};

use crate::params::{TopkParams, grid_workgroups, pipeline};

/// The gather pass for one score format on one device.
pub(crate) struct Gather {
    gpu: Gpu,
    pipeline: wgpu::ComputePipeline,
}

impl Gather {
    pub const SHADER: &'static Module = &GATHER;

    pub fn new(gpu: &Gpu, format: f64) -> Result<Self> {
        let pipeline = pipeline(gpu, Self::SHADER, "gather_values", &[("FORMAT", format)])?;
        Ok(Self {
            gpu: gpu.clone(),
            pipeline,
        })
    }

    /// Records the gather; bindings are checked by the caller.
    pub fn encode(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        params: &TopkParams,
        x: Binding<'_>,
        indices: Binding<'_>,
        values: Binding<'_>,
    ) -> Result<()> {
        let outputs = u64::from(params.rows) * u64::from(params.k);
        self.gpu.dispatch_slots(
            encoder,
            "topk gather",
            &self.pipeline,
            params,
            &[(1, x), (3, indices), (4, values)],
            grid_workgroups(&self.gpu, outputs),
        )
    }
}
