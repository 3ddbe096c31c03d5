//! Token-level selection's logits (`shaders/attention/token_scores.wgsl`): scale · q·k for every
//! query head and token, `[batch, q_heads, row_stride]` f32 with -inf past each sequence's end.

use squeeze_core::wgpu;
use squeeze_core::{Binding, Gpu, Result};
use squeeze_shaders::attention::TOKEN_SCORES;

use crate::layout::KvDtype;
use crate::params::{ScoreRows, TableShape};

/// Twin of the WGSL `TokenScoresParams` (token_scores.wgsl).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct TokenScoresParams {
    pub table: TableShape,
    /// Tokens per logit row: the selection workspace's capacity.
    pub row_stride: u32,
    /// The factor on q·k.
    pub scale: f32,
    pub _pad: [u32; 2],
}

pub struct TokenScores {
    gpu: Gpu,
    dtype: KvDtype,
}

impl TokenScores {
    /// Compiles the pass for GQA groups of 1 and 8 (other groups compile on first use).
    pub fn new(gpu: &Gpu, dtype: KvDtype) -> Result<Self> {
        let scores = Self {
            gpu: gpu.clone(),
            dtype,
        };
        scores.pipeline(1, false)?;
        scores.pipeline(8, false)?;
        Ok(scores)
    }

    /// The pipeline for `group` query heads per KV head and f32 or f16 queries.
    pub(crate) fn pipeline(&self, group: u32, q_f16: bool) -> Result<wgpu::ComputePipeline> {
        let [kv] = self.dtype.overrides();
        let overrides = [
            ("Q_F16", f64::from(u8::from(q_f16))),
            kv,
            ("GROUP", f64::from(group.next_power_of_two())),
        ];
        self.gpu.pipeline(&TOKEN_SCORES, "token_scores", &overrides)
    }

    /// Records the logits. The caller has checked every binding ([`crate::select::Select`]).
    pub(crate) fn encode(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        rows: &ScoreRows<'_>,
        k: Binding<'_>,
        q: Binding<'_>,
        scale: f32,
        logits: Binding<'_>,
    ) -> Result<()> {
        let params = TokenScoresParams {
            table: rows.shape(),
            row_stride: rows.stride,
            scale,
            _pad: [0; 2],
        };
        let [indptr, indices, last] = rows.table.bindings();
        let pipeline = self.pipeline(rows.q_heads / rows.table.layout().kv_heads, rows.q_f16)?;
        rows.dispatch(
            &self.gpu,
            encoder,
            ("token scores", &pipeline),
            &params,
            &[indptr, indices, last, k, q, logits],
        )
    }
}
