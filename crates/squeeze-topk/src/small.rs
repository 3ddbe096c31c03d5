//! Top-k of short rows in one dispatch (`shaders/topk/small.wgsl`): one workgroup per row holds
//! the row (at most [`Capacities::small`] elements) in workgroup memory, narrows it to the k
//! winners with the radix rounds, sorts them there and writes the indices and values straight to
//! the outputs, with no scratch and no separate sort or gather pass. For sampling over short
//! candidate lists and attention page selection (many rows of a few hundred to a few thousand).

use squeeze_core::{Binding, Gpu, Result, wgpu};
use squeeze_shaders::{
    Module,
    topk::{SMALL, SMALL_SUBGROUP},
};

use crate::params::{Capacities, Scan, TopkParams, per_item_workgroups, pipeline};

/// The small-row kernel for one score format on one device.
pub(crate) struct Small {
    gpu: Gpu,
    with_values: wgpu::ComputePipeline,
    indices_only: wgpu::ComputePipeline,
}

impl Small {
    /// The module of each scan.
    pub fn shader(scan: Scan) -> &'static Module {
        match scan {
            Scan::Workgroup => &SMALL,
            Scan::Subgroup => &SMALL_SUBGROUP,
        }
    }

    pub fn new(gpu: &Gpu, format: f64, capacities: Capacities, scan: Scan) -> Result<Self> {
        let overrides = [
            ("FORMAT", format),
            ("SMALL_CAPACITY", f64::from(capacities.small)),
        ];
        let module = Self::shader(scan);
        Ok(Self {
            gpu: gpu.clone(),
            with_values: pipeline(gpu, module, "small_topk", &overrides)?,
            indices_only: pipeline(gpu, module, "small_indices", &overrides)?,
        })
    }

    /// Records the top-k of rows of at most [`Capacities::small`] elements; bindings are checked
    /// by the caller.
    pub fn encode(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        params: &TopkParams,
        x: Binding<'_>,
        lengths: Binding<'_>,
        indices: Binding<'_>,
        values: Option<Binding<'_>>,
    ) -> Result<()> {
        let workgroups = per_item_workgroups(&self.gpu, params.rows);
        let inputs = [(1, x), (2, lengths), (4, indices)];
        match values {
            Some(values) => self.gpu.dispatch_slots(
                encoder,
                "topk small",
                &self.with_values,
                params,
                &[inputs[0], inputs[1], inputs[2], (5, values)],
                workgroups,
            ),
            None => self.gpu.dispatch_slots(
                encoder,
                "topk small (indices)",
                &self.indices_only,
                params,
                &inputs,
                workgroups,
            ),
        }
    }
}
