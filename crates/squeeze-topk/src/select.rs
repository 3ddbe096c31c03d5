//! Radix selection (`shaders/topk/select.wgsl`): each row's min(k, length) winners as unsorted
//! (rank key, index) pairs in the row's k slots of a scratch buffer, the rest of the slots
//! padded; one workgroup per row.

use squeeze_core::{Binding, Gpu, Result, wgpu};
use squeeze_shaders::{
    Module,
    topk::{SELECT, SELECT_SUBGROUP},
};

use crate::params::{Capacities, Scan, TopkParams, per_item_workgroups, pipeline};

/// The selection pass for one score format on one device.
pub(crate) struct Select {
    gpu: Gpu,
    pipeline: wgpu::ComputePipeline,
}

impl Select {
    /// The module of each scan.
    pub fn shader(scan: Scan) -> &'static Module {
        match scan {
            Scan::Workgroup => &SELECT,
            Scan::Subgroup => &SELECT_SUBGROUP,
        }
    }

    pub fn new(gpu: &Gpu, format: f64, capacities: Capacities, scan: Scan) -> Result<Self> {
        let overrides = [
            ("FORMAT", format),
            ("CANDIDATE_CAPACITY", f64::from(capacities.candidates)),
        ];
        let pipeline = pipeline(gpu, Self::shader(scan), "select_rows", &overrides)?;
        Ok(Self {
            gpu: gpu.clone(),
            pipeline,
        })
    }

    /// Records the selection; bindings are checked by the caller.
    pub fn encode(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        params: &TopkParams,
        x: Binding<'_>,
        lengths: Binding<'_>,
        pairs: Binding<'_>,
    ) -> Result<()> {
        self.gpu.dispatch_slots(
            encoder,
            "topk select",
            &self.pipeline,
            params,
            &[(1, x), (2, lengths), (3, pairs)],
            per_item_workgroups(&self.gpu, params.rows),
        )
    }
}
