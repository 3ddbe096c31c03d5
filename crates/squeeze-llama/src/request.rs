//! One generation as a caller asks for it — prompt text or ids, length, KV format, attention
//! mode, sampling — checked against the model before any GPU work, and run: what
//! `squeeze generate` and Python's `squeeze.generate` share, so both refuse the same input with
//! the same messages.

use squeeze::attention::KvDtype;
use squeeze::{Error, Gpu, Result};

use crate::attention::AttentionMode;
use crate::generate::{GenerateOptions, Generation, generate};
use crate::model::profile::StepProfile;
use crate::model::{Model, ModelOptions};
use crate::sampler::Sampling;
use crate::source::ModelSource;

/// The prompt: text for the model's tokenizer, or token ids as they are.
#[derive(Debug, Clone, Copy)]
pub enum Prompt<'a> {
    Text(&'a str),
    Ids(&'a [u32]),
}

/// What to generate.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub prompt: Prompt<'a>,
    /// Most tokens to generate (fewer when the end-of-sequence token comes first).
    pub max_new: u32,
    pub kv: KvDtype,
    pub attention: AttentionMode,
    /// Sample (temperature, top-k, top-p, seed) instead of taking the best token.
    pub sampling: Option<Sampling>,
    /// Keep each generated token's logits.
    pub logits: bool,
    /// After generating, time the decode step by kind of work, this many repetitions each
    /// ([`Model::profile`]).
    pub profile: Option<u32>,
}

/// A generation and the text of its ids, where the model has a vocabulary squeeze reads.
#[derive(Debug, Clone)]
pub struct Generated {
    pub generation: Generation,
    pub text: Option<String>,
    /// The model's vocabulary size (the length of each logits row).
    pub vocab: u32,
    /// The decode step's profile, when asked for.
    pub profile: Option<StepProfile>,
}

impl Request<'_> {
    /// The prompt's ids, checked: at least one, each below `vocab`.
    pub fn ids(&self, source: &ModelSource, vocab: u32) -> Result<Vec<u32>> {
        let ids = match self.prompt {
            Prompt::Text(text) => source.encode(text)?,
            Prompt::Ids(ids) => ids.to_vec(),
        };
        if ids.is_empty() {
            return Err(Error::invalid(
                "prompt",
                "text",
                "at least one token",
                "none",
            ));
        }
        if let Some(&bad) = ids.iter().find(|&&id| id >= vocab) {
            return Err(Error::invalid(
                "ids",
                "token id",
                format!("below vocab = {vocab}"),
                bad,
            ));
        }
        Ok(ids)
    }

    /// The model options for a prompt of `prompt` tokens: the cache holds prompt and
    /// generated tokens; sampling reads back `top_k` candidates (checked here too).
    pub fn model_options(&self, prompt: usize, vocab: u32) -> Result<ModelOptions> {
        if let Some(s) = &self.sampling {
            if !(s.temperature.is_finite() && s.temperature > 0.0) {
                return Err(Error::invalid("temperature", "value", "> 0", s.temperature));
            }
            if !(s.top_p > 0.0 && s.top_p <= 1.0) {
                return Err(Error::invalid("top_p", "value", "in (0, 1]", s.top_p));
            }
        }
        if self.profile == Some(0) {
            return Err(Error::invalid("profile", "repetitions", ">= 1", 0));
        }
        let candidates = self.sampling.map_or(1, |s| s.top_k);
        if candidates == 0 || candidates > vocab {
            return Err(Error::invalid(
                "top_k",
                "candidates",
                format!("1 ..= vocab = {vocab}"),
                candidates,
            ));
        }
        let capacity = u32::try_from(prompt)
            .ok()
            .and_then(|p| p.checked_add(self.max_new))
            .ok_or_else(|| Error::invalid("n", "tokens", "prompt + n below 2^32", self.max_new))?;
        Ok(ModelOptions {
            capacity,
            candidates,
            kv: self.kv,
            attention: self.attention,
        })
    }

    /// Checks everything, loads `source` on `gpu`, warms the model ([`Model::warm_up`]) and
    /// generates, calling `on_token` with each id as soon as it is known.
    pub fn run(
        &self,
        gpu: &Gpu,
        source: &ModelSource,
        on_token: &mut dyn FnMut(u32),
    ) -> Result<Generated> {
        let tensors = source.tensors()?;
        let vocab = tensors.config.vocab;
        let ids = self.ids(source, vocab)?;
        let options = self.model_options(ids.len(), vocab)?;
        let mut model = Model::load(gpu, &tensors, options)?;
        model.warm_up()?;
        let generation = generate(
            &mut model,
            &ids,
            GenerateOptions {
                max_new: self.max_new,
                logits: self.logits,
                sampling: self.sampling,
            },
            on_token,
        )?;
        let text = source.decode(&generation.ids);
        let profile = match self.profile {
            Some(repetitions) if !model.is_empty() => Some(model.profile(repetitions)?),
            _ => None,
        };
        Ok(Generated {
            generation,
            text,
            vocab,
            profile,
        })
    }
}
