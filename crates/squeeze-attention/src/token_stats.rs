//! TokenSelect's per-head softmax statistics (`shaders/attention/token_stats.wgsl`): the maximum
//! and Σ exp(logit − maximum) of each query head's logits, `[batch, q_heads]` (f32, f32).

use squeeze_core::wgpu;
use squeeze_core::{Binding, Gpu, Result};
use squeeze_shaders::attention::TOKEN_STATS;

use crate::params::{ScoreRows, TableShape};

/// Twin of the WGSL `TokenStatsParams` (token_stats.wgsl).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct TokenStatsParams {
    pub table: TableShape,
    /// Tokens per logit row: the selection workspace's capacity.
    pub row_stride: u32,
    pub _pad: [u32; 3],
}

pub struct TokenStats {
    gpu: Gpu,
    pipeline: wgpu::ComputePipeline,
}

impl TokenStats {
    pub fn new(gpu: &Gpu) -> Result<Self> {
        Ok(Self {
            gpu: gpu.clone(),
            pipeline: gpu.pipeline(&TOKEN_STATS, "token_stats", &[])?,
        })
    }

    /// Records the statistics of `logits` ([`crate::token_scores`]'s layout) into `stats`.
    pub(crate) fn encode(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        rows: &ScoreRows<'_>,
        logits: Binding<'_>,
        stats: Binding<'_>,
    ) -> Result<()> {
        self.gpu.dispatch_groups(
            encoder,
            "token stats",
            &self.pipeline,
            &TokenStatsParams {
                table: rows.shape(),
                row_stride: rows.stride,
                _pad: [0; 3],
            },
            &[rows.table.lens_binding(), logits, stats],
            [rows.q_heads, rows.table.batch(), 1],
        )
    }
}
