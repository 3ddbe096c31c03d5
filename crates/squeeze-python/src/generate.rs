//! `squeeze.generate`: a LLaMA-family model end to end on squeeze kernels, as
//! `squeeze generate` runs it (the same model kinds, checks, attention modes, KV formats and
//! sampling: both go through squeeze-llama's `Request`).
//!
//! The model is loaded for each call (weights uploaded, pipelines compiled) and released after
//! it: a simple call for checking a vendor's output, not a serving loop.

use std::path::PathBuf;

use pyo3::prelude::*;
use pyo3::types::PyDict;
use squeeze::attention::KvDtype;
use squeeze_llama::request::{Generated, Prompt, Request};
use squeeze_llama::source::ModelSource;
use squeeze_llama::{AttentionMode, Sampling};

use crate::device::{Device, resolve};
use crate::errors::{invalid, to_py};
use crate::output;
use crate::params::{count, finite};

/// The prompt as given: text, or a sequence of token ids.
enum Given {
    Text(String),
    Ids(Vec<u32>),
}

fn prompt_of(prompt: &Bound<'_, PyAny>) -> PyResult<Given> {
    if let Ok(text) = prompt.extract::<String>() {
        return Ok(Given::Text(text));
    }
    let ids: Vec<i64> = prompt.extract().map_err(|_| {
        invalid(
            "prompt",
            "value",
            "a str or a sequence of token ids",
            prompt
                .get_type()
                .name()
                .map_or_else(|_| "?".into(), |n| n.to_string()),
        )
    })?;
    ids.into_iter()
        .map(|id| count::<u32>("prompt", id))
        .collect::<PyResult<_>>()
        .map(Given::Ids)
}

/// Generates up to `n` tokens after `prompt` (text for the model's tokenizer, or token ids) with
/// the model at `model`: a GGUF file of architecture `llama`, or a Hugging Face folder (BF16,
/// or compressed by `squeeze dfloat11 compress` to DF11 or native). Returns `{"prompt_ids",
/// "ids", "text", "prefill_tokens_per_s", "decode_tokens_per_s", "adapter"}` and, with
/// `logits=True`, `"logits"`: float32 `[generated, vocab]` (row i: the logits `ids[i]` was drawn
/// from).
#[pyfunction]
#[pyo3(signature = (
    model, prompt, *, n=16, attention="dense", budget=None, sink=0, window=None, kv="f32",
    temperature=None, top_k=40, top_p=1.0, seed=0, logits=false, device=None
))]
#[allow(clippy::too_many_arguments)] // Python keyword arguments, as the API names them.
pub fn generate<'py>(
    py: Python<'py>,
    model: PathBuf,
    prompt: &Bound<'py, PyAny>,
    n: i64,
    attention: &str,
    budget: Option<i64>,
    sink: i64,
    window: Option<i64>,
    kv: &str,
    temperature: Option<f64>,
    top_k: i64,
    top_p: f64,
    seed: u64,
    logits: bool,
    device: Option<&Bound<'py, Device>>,
) -> PyResult<Bound<'py, PyDict>> {
    let given = prompt_of(prompt)?;
    let attention = AttentionMode::parse(
        attention,
        budget.map(|b| count("budget", b)).transpose()?,
        count("sink", sink)?,
        window.map(|w| count("window", w)).transpose()?,
    )
    .map_err(to_py)?;
    let sampling = temperature
        .map(|t| -> PyResult<Sampling> {
            Ok(Sampling {
                temperature: finite("temperature", t)? as f32,
                top_k: count("top_k", top_k)?,
                top_p: finite("top_p", top_p)? as f32,
                seed,
            })
        })
        .transpose()?;
    let request = Request {
        prompt: match &given {
            Given::Text(text) => Prompt::Text(text),
            Given::Ids(ids) => Prompt::Ids(ids),
        },
        max_new: count("n", n)?,
        kv: KvDtype::parse(kv).map_err(to_py)?,
        attention,
        sampling,
        logits,
        profile: None,
    };
    let source = ModelSource::open("model", &model).map_err(to_py)?;
    let gpu = resolve(py, device)?;
    let Generated {
        generation,
        text,
        vocab,
        ..
    } = py
        .detach(|| request.run(&gpu, &source, &mut |_| {}))
        .map_err(to_py)?;
    let out = PyDict::new(py);
    out.set_item("prompt_ids", &generation.prompt_ids)?;
    out.set_item("ids", &generation.ids)?;
    out.set_item("text", text)?;
    out.set_item("prefill_tokens_per_s", generation.prefill_tokens_per_s())?;
    out.set_item("decode_tokens_per_s", generation.decode_tokens_per_s())?;
    out.set_item("adapter", gpu.label())?;
    if logits {
        let rows = generation.logits.len();
        let values = generation.logits.concat();
        out.set_item(
            "logits",
            output::array(py, values, &[rows, vocab as usize])?,
        )?;
    }
    Ok(out)
}
