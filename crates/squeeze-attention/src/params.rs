//! The parameter structs the attention kernels bind at 0: [`TableShape`], the header every
//! kernel's struct starts with (`shaders/attention/params.wgsl`, read by the shared parts), and
//! [`ScoreParams`], the struct of the two selection passes that leave top-k its input
//! (`shaders/attention/score_outputs.wgsl`). Each other kernel's struct sits in the module that
//! dispatches it, next to its WGSL twin of the same name.

use squeeze_core::wgpu;
use squeeze_core::{Binding, Gpu, Result};

use crate::pages::DevicePageTable;

/// Invocations per workgroup of the grid-stride attention kernels.
const GRID_WORKGROUP: u32 = 256;

/// Twin of the WGSL `TableShape`: the page table's and the heads' shape, first in every attention
/// kernel's params (the shared parts read `params.table`). 32 bytes: a struct member of a
/// uniform must be followed at a 16-byte multiple.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct TableShape {
    /// Sequences in the page table.
    pub batch: u32,
    /// Query heads (0 for the kernels that read no query).
    pub q_heads: u32,
    pub kv_heads: u32,
    pub head_dim: u32,
    /// Tokens per page.
    pub page_size: u32,
    /// Pages in the pool.
    pub pages: u32,
    pub _pad: [u32; 2],
}

impl TableShape {
    /// The shape of `table` with `q_heads` query heads.
    pub fn new(table: &DevicePageTable, q_heads: u32) -> Self {
        let layout = table.layout();
        Self {
            batch: table.batch(),
            q_heads,
            kv_heads: layout.kv_heads,
            head_dim: layout.head_dim,
            page_size: layout.page_size,
            pages: layout.pages,
            _pad: [0; 2],
        }
    }
}

/// Twin of the WGSL `ScoreParams` (score_outputs.wgsl), bound by Quest's page scores and the
/// token vote: the score rows and the entries forced into every selection.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct ScoreParams {
    pub table: TableShape,
    /// Entries per score row, pages (Quest) or tokens: the selection workspace's capacity.
    pub row_stride: u32,
    /// The first `sink` and last `window` tokens forced into every selection.
    pub sink: u32,
    pub window: u32,
    pub _pad: u32,
}

/// A grid-stride attention kernel's pipeline with its label, and its work items (one per
/// invocation).
pub(crate) struct GridDispatch<'a> {
    pub label: &'a str,
    pub pipeline: &'a wgpu::ComputePipeline,
    pub items: u64,
}

impl GridDispatch<'_> {
    /// Workgroups covering the items, within the device's dispatch limit.
    fn workgroups(&self, gpu: &Gpu) -> u32 {
        gpu.grid_workgroups(self.items, GRID_WORKGROUP)
    }

    /// Records the kernel with `params` at slot 0 and `bindings` at slots 1, 2, ….
    pub fn record<P: bytemuck::Pod>(
        &self,
        gpu: &Gpu,
        encoder: &mut wgpu::CommandEncoder,
        params: &P,
        bindings: &[Binding<'_>],
    ) -> Result<()> {
        let groups = self.workgroups(gpu);
        gpu.dispatch(encoder, self.label, self.pipeline, params, bindings, groups)
    }

    /// [`GridDispatch::record`] for an entry point that binds only some of its module's slots
    /// (`(slot, binding)` pairs).
    pub fn record_slots<P: bytemuck::Pod>(
        &self,
        gpu: &Gpu,
        encoder: &mut wgpu::CommandEncoder,
        params: &P,
        bindings: &[(u32, Binding<'_>)],
    ) -> Result<()> {
        let groups = self.workgroups(gpu);
        gpu.dispatch_slots(encoder, self.label, self.pipeline, params, bindings, groups)
    }
}

/// The rows a selection pass writes: one per (sequence, head) of `table`, `stride` entries each.
/// `stride` is the selection workspace's capacity, fixed when it was planned, so scores keep
/// their layout while sequences grow within it.
#[derive(Clone, Copy)]
pub(crate) struct ScoreRows<'a> {
    pub table: &'a DevicePageTable,
    pub q_heads: u32,
    /// Entries per row: pages (Quest) or tokens.
    pub stride: u32,
    /// The first `sink` and last `window` tokens (their pages, for Quest) forced into every
    /// selection; unused by the logit and statistics passes.
    pub forced: (u32, u32),
    /// The queries are f16 (the passes that read them pick their `Q_F16` pipeline).
    pub q_f16: bool,
}

/// Where a scoring pass leaves what top-k reads: a score per entry `[rows, stride]` f32 and
/// each row's valid length `[rows]` u32.
#[derive(Clone, Copy)]
pub(crate) struct ScoreOutputs<'a> {
    pub scores: Binding<'a>,
    pub lengths: Binding<'a>,
}

impl ScoreRows<'_> {
    /// The table's shape with these rows' query heads.
    pub fn shape(&self) -> TableShape {
        TableShape::new(self.table, self.q_heads)
    }

    /// The params of the passes that leave top-k its input.
    pub fn params(&self) -> ScoreParams {
        let (sink, window) = self.forced;
        ScoreParams {
            table: self.shape(),
            row_stride: self.stride,
            sink,
            window,
            _pad: 0,
        }
    }

    /// Records a pass that walks every entry of these rows (score_rows.wgsl's grid-stride loop)
    /// with `params` and `bindings`.
    pub fn dispatch<P: bytemuck::Pod>(
        &self,
        gpu: &Gpu,
        encoder: &mut wgpu::CommandEncoder,
        (label, pipeline): (&str, &wgpu::ComputePipeline),
        params: &P,
        bindings: &[Binding<'_>],
    ) -> Result<()> {
        let items = u64::from(self.table.batch())
            * u64::from(self.table.layout().kv_heads)
            * u64::from(self.stride);
        GridDispatch {
            label,
            pipeline,
            items,
        }
        .record(gpu, encoder, params, bindings)
    }
}
