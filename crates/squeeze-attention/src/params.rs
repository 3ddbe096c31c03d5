//! The `params` uniform every attention kernel binds at 0 (`shaders/attention/params.wgsl`).

use squeeze_core::dispatch::grid_stride_workgroups;
use squeeze_core::wgpu;
use squeeze_core::{Binding, Gpu, Result};

use crate::pages::DevicePageTable;

/// Invocations per workgroup of the grid-stride attention kernels.
const GRID_WORKGROUP: u32 = 256;

/// Twin of the WGSL `AttentionParams`. One layout serves every attention kernel (the shared
/// parts read fields at fixed places); each field holds one thing, and a kernel sets only the
/// fields it reads, leaving the rest zero.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
pub struct AttentionParams {
    /// Sequences in the page table.
    pub batch: u32,
    pub q_heads: u32,
    pub kv_heads: u32,
    pub head_dim: u32,
    /// Tokens per page.
    pub page_size: u32,
    /// Pages in the pool.
    pub pages: u32,
    /// Prefill: the longest sequence of the table, in tokens (bounds its key tiles).
    pub max_len: u32,
    /// Decode: virtual tokens per split.
    pub chunk: u32,
    /// Decode: splits per (sequence, KV head).
    pub splits: u32,
    /// Decode: selection entries per (sequence, KV head) row, and tokens per entry.
    pub units: u32,
    pub unit: u32,
    /// Decode, prefill and token scores: the factor on q·k.
    pub scale: f32,
    /// Append: new tokens written into the cache.
    pub tokens: u32,
    /// Selection passes (Quest and token): the first `sink` and last `window` tokens forced into
    /// every selection.
    pub sink: u32,
    pub window: u32,
    /// Quest metadata: pages whose min/max keys are recomputed.
    pub touched_pages: u32,
    /// Score passes (`score_rows.wgsl`): entries per score row, pages (Quest) or tokens; the
    /// selection workspace's capacity, at least the longest sequence.
    pub row_stride: u32,
    pub _pad: [u32; 3],
}

impl AttentionParams {
    /// The fields a page table and a query head count fix; the rest zero.
    pub fn for_table(table: &DevicePageTable, q_heads: u32) -> Self {
        let layout = table.layout();
        Self {
            batch: table.batch(),
            q_heads,
            kv_heads: layout.kv_heads,
            head_dim: layout.head_dim,
            page_size: layout.page_size,
            pages: layout.pages,
            ..Self::default()
        }
    }

    /// Items of a pass over every (sequence, KV head, position < row_stride).
    pub(crate) fn row_items(&self) -> u64 {
        u64::from(self.batch) * u64::from(self.kv_heads) * u64::from(self.row_stride)
    }

    /// Records a grid-stride kernel over `items` work items with these params.
    pub(crate) fn dispatch_items(
        &self,
        gpu: &Gpu,
        encoder: &mut wgpu::CommandEncoder,
        (label, pipeline): (&str, &wgpu::ComputePipeline),
        bindings: &[Binding<'_>],
        items: u64,
    ) -> Result<()> {
        let groups = grid_stride_workgroups(
            items,
            GRID_WORKGROUP,
            gpu.limits().max_compute_workgroups_per_dimension,
        );
        gpu.dispatch(encoder, label, pipeline, self, bindings, groups)
    }

    /// [`AttentionParams::dispatch_items`] for an entry point that binds only some of its
    /// module's slots (`(slot, binding)` pairs).
    pub(crate) fn dispatch_item_slots(
        &self,
        gpu: &Gpu,
        encoder: &mut wgpu::CommandEncoder,
        (label, pipeline): (&str, &wgpu::ComputePipeline),
        bindings: &[(u32, Binding<'_>)],
        items: u64,
    ) -> Result<()> {
        let groups = grid_stride_workgroups(
            items,
            GRID_WORKGROUP,
            gpu.limits().max_compute_workgroups_per_dimension,
        );
        gpu.dispatch_slots(encoder, label, pipeline, self, bindings, groups)
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
    /// The params of a pass over these rows.
    pub fn params(&self) -> AttentionParams {
        let (sink, window) = self.forced;
        AttentionParams {
            row_stride: self.stride,
            sink,
            window,
            ..AttentionParams::for_table(self.table, self.q_heads)
        }
    }
}
