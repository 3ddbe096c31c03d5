//! Quest's page scores (`shaders/attention/quest_scores.wgsl`): per (sequence, KV head) row and
//! logical page, Σ_g Σ_d max(q·min, q·max) over the KV group's query heads — an upper bound of
//! the page's logits — with sink and window pages at +inf, and each row's page count.

use squeeze_core::wgpu;
use squeeze_core::{Binding, Gpu, Result};
use squeeze_shaders::attention::QUEST_SCORES;

use crate::params::{ScoreOutputs, ScoreRows};

pub struct QuestScores {
    gpu: Gpu,
    /// For f32 and f16 queries.
    pipelines: [wgpu::ComputePipeline; 2],
}

impl QuestScores {
    pub fn new(gpu: &Gpu) -> Result<Self> {
        let pipeline =
            |q_f16: f64| gpu.pipeline(&QUEST_SCORES, "quest_scores", &[("Q_F16", q_f16)]);
        Ok(Self {
            gpu: gpu.clone(),
            pipelines: [pipeline(0.0)?, pipeline(1.0)?],
        })
    }

    /// Records the scores `[batch, kv_heads, stride]` f32 and row lengths `[batch, kv_heads]`
    /// u32. The caller has checked every binding ([`crate::select::Select`]).
    pub(crate) fn encode(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        rows: &ScoreRows<'_>,
        q: Binding<'_>,
        meta: Binding<'_>,
        out: ScoreOutputs<'_>,
    ) -> Result<()> {
        let [indptr, indices, last] = rows.table.bindings();
        rows.dispatch(
            &self.gpu,
            encoder,
            ("quest scores", &self.pipelines[usize::from(rows.q_f16)]),
            &rows.params(),
            &[indptr, indices, last, q, meta, out.scores, out.lengths],
        )
    }
}
