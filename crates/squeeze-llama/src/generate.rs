//! The generation loop: the prompt through the model in one batched prefill
//! ([`Model::prefill`]), then decoding (greedy, or sampled from the GPU's top-k candidates)
//! until `max_new` tokens or the end-of-sequence token, timed separately.

use std::time::Instant;

use squeeze::{Error, Result};

use crate::model::{Model, StepOutput};
use crate::sampler::{Sampler, Sampling};

/// What to generate.
#[derive(Debug, Clone, Copy)]
pub struct GenerateOptions {
    /// Most tokens to generate.
    pub max_new: u32,
    /// Keep each generated token's logits.
    pub logits: bool,
    /// Sample instead of taking the best token (the model must read back `top_k` candidates).
    pub sampling: Option<Sampling>,
}

/// A finished generation.
#[derive(Debug, Clone, Default)]
pub struct Generation {
    pub prompt_ids: Vec<u32>,
    /// Generated ids, the end-of-sequence token included when it stopped the run.
    pub ids: Vec<u32>,
    /// Row i: the logits `ids[i]` was drawn from (when asked for).
    pub logits: Vec<Vec<f32>>,
    /// Seconds from the first prompt token to the first generated one.
    pub prefill_seconds: f64,
    /// Seconds of the steps after it.
    pub decode_seconds: f64,
}

impl Generation {
    /// Prompt tokens per second of prefill.
    pub fn prefill_tokens_per_s(&self) -> f64 {
        rate(self.prompt_ids.len(), self.prefill_seconds)
    }

    /// Tokens per second of the decode steps (each generated token after the first), or 0
    /// when there were none.
    pub fn decode_tokens_per_s(&self) -> f64 {
        rate(self.ids.len().saturating_sub(1), self.decode_seconds)
    }
}

fn rate(tokens: usize, seconds: f64) -> f64 {
    if tokens == 0 || seconds <= 0.0 {
        0.0
    } else {
        tokens as f64 / seconds
    }
}

/// Runs `prompt` then generates on `model` (whose cache must hold `prompt.len() + max_new − 1`
/// more tokens), calling `on_token` with each generated id as soon as it is known.
pub fn generate(
    model: &mut Model,
    prompt: &[u32],
    options: GenerateOptions,
    on_token: &mut dyn FnMut(u32),
) -> Result<Generation> {
    if prompt.is_empty() {
        return Err(Error::invalid(
            "ids",
            "prompt",
            "at least one token",
            "none",
        ));
    }
    let eos = model.config().eos;
    let mut sampler = options.sampling.map(Sampler::new);
    let mut choose = |step: &StepOutput| match &mut sampler {
        Some(s) => s.pick(&step.candidates).unwrap_or(step.token),
        None => step.token,
    };
    let mut out = Generation {
        prompt_ids: prompt.to_vec(),
        ..Generation::default()
    };
    let start = Instant::now();
    let mut step = model.prefill(prompt, options.logits && options.max_new > 0)?;
    out.prefill_seconds = start.elapsed().as_secs_f64();
    if options.max_new == 0 {
        return Ok(out);
    }
    let start = Instant::now();
    loop {
        let token = choose(&step);
        on_token(token);
        out.ids.push(token);
        out.logits.extend(step.logits.take());
        if out.ids.len() >= options.max_new as usize || Some(token) == eos {
            break;
        }
        step = model.step(token, options.logits)?;
    }
    out.decode_seconds = start.elapsed().as_secs_f64();
    Ok(out)
}
