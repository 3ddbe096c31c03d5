//! The KV group's vote per token (`shaders/attention/token_vote.wgsl`): the sum of the query
//! heads' logits (TidalDecode) or of their softmax probabilities (TokenSelect), with sink and
//! window tokens at +inf, and each row's length, ready for top-k.

use squeeze_core::wgpu;
use squeeze_core::{Binding, Gpu, Result};
use squeeze_shaders::attention::TOKEN_VOTE;

use crate::params::{ScoreOutputs, ScoreRows};
use crate::reference::Vote;

pub struct TokenVote {
    gpu: Gpu,
    sum: wgpu::ComputePipeline,
    softmax: wgpu::ComputePipeline,
}

impl TokenVote {
    pub fn new(gpu: &Gpu) -> Result<Self> {
        Ok(Self {
            gpu: gpu.clone(),
            sum: gpu.pipeline(&TOKEN_VOTE, "vote_sum", &[])?,
            softmax: gpu.pipeline(&TOKEN_VOTE, "vote_softmax", &[])?,
        })
    }

    /// Records the votes `[batch, kv_heads, stride]` and row lengths; `stats` is read by the
    /// softmax vote only.
    pub(crate) fn encode(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        rows: &ScoreRows<'_>,
        vote: Vote,
        logits: Binding<'_>,
        stats: Binding<'_>,
        out: ScoreOutputs<'_>,
    ) -> Result<()> {
        let table = rows.table;
        let ScoreOutputs {
            scores: votes,
            lengths,
        } = out;
        let (pipeline, bindings) = match vote {
            Vote::Sum => (
                &self.sum,
                vec![table.lens_binding(), logits, votes, lengths],
            ),
            Vote::Softmax => (
                &self.softmax,
                vec![table.lens_binding(), logits, votes, lengths, stats],
            ),
        };
        rows.dispatch(
            &self.gpu,
            encoder,
            ("token vote", pipeline),
            &rows.params(),
            &bindings,
        )
    }
}
