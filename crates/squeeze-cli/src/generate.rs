//! `squeeze generate MODEL.gguf --ids 1,2,3 [-n N] [--json OUT.json] [--logits OUT.safetensors]`:
//! a LLaMA GGUF model run end to end on squeeze kernels (squeeze-llama), greedy. The generated
//! text streams to stdout as it is sampled (squeeze-llama's `TextStream`: a character split
//! across tokens is printed once complete), or the ids, space-separated, for a model without a
//! vocabulary squeeze reads; the summary line (prompt and generated tokens, prefill and decode
//! tokens/s, adapter) goes to stderr.
//!
//! `--prompt` encodes text with the file's byte-level BPE tokenizer (squeeze-llama's
//! `Tokenizer`: pre-tokenizers `gpt2` and `smollm`; others are an error naming them), or a
//! model folder's `tokenizer.json`.
//!
//! Greedy unless `--temperature` is given: then the GPU's top-k reads back `--top-k` candidates
//! and the host draws from them (`--top-p`, `--seed`).
//!
//! `--attention` picks dense, sinks + window, or a Quest / TidalDecode / TokenSelect selection
//! within `--budget` tokens (squeeze-llama's `AttentionMode`, where the layer placement is
//! written down).
//!
//! MODEL may also be a Hugging Face folder, BF16 or compressed to DF11 or native
//! (squeeze-llama's `ModelSource`).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use safetensors::Dtype;
use squeeze::attention::KvDtype;
use squeeze::{Error, Gpu, GpuOptions};
use squeeze_llama::request::{Generated, Prompt, Request};
use squeeze_llama::source::ModelSource;
use squeeze_llama::stream::TextStream;
use squeeze_llama::{AttentionMode, Sampling};

use crate::paths::{Output, OutputKind};
use crate::run::{self, write};

#[derive(clap::Args)]
pub struct Args {
    /// The model: a GGUF file of architecture `llama` (weight matrices in a GGUF block format),
    /// or a Hugging Face `LlamaForCausalLM` folder with BF16 safetensors, or such a folder
    /// compressed by `squeeze dfloat11 compress` (DF11 or native).
    model: PathBuf,
    /// Prompt token ids, comma-separated (e.g. 1,2,3).
    #[arg(long, value_delimiter = ',', required_unless_present = "prompt")]
    ids: Vec<u32>,
    /// Prompt text, encoded with the model's byte-level BPE tokenizer (special tokens such as
    /// `<|im_start|>` written in the text are taken whole).
    #[arg(long, conflicts_with = "ids")]
    prompt: Option<String>,
    /// Most tokens to generate (stops early at the model's end-of-sequence token).
    #[arg(short = 'n', long = "max-new", default_value_t = 16)]
    n: u32,
    /// Write {prompt_ids, ids, text, prefill_tokens_per_s, decode_tokens_per_s, adapter} here
    /// (`text`: the generated ids decoded, null when the file has no vocabulary squeeze reads).
    #[arg(long, value_name = "OUT.json")]
    json: Option<PathBuf>,
    /// Write tensor `logits` [generated, vocab] f32 here (row i: the logits token i was drawn
    /// from).
    #[arg(long, value_name = "OUT.safetensors")]
    logits: Option<PathBuf>,
    /// The KV cache's format: f32, f16 (K and V rounded to nearest even), or q8_0 / q4_0
    /// (ggml's blocks of 32 along the head dim, quantized on the GPU as K and V are appended).
    #[arg(long, default_value = "f32", value_parser = KvDtype::NAMES.to_vec())]
    kv: String,
    /// Which tokens each layer attends to: every one (dense), the first --sink and last
    /// --window (sink-window), or a selection of --budget tokens by Quest's page bounds, by
    /// TidalDecode (selection at layer 2 and a re-selection layer, reused between), or by
    /// TokenSelect (per-head soft votes). Selection modes keep the first two layers dense.
    #[arg(long, default_value = "dense", value_parser = AttentionMode::NAMES.to_vec())]
    attention: String,
    /// Tokens a selection keeps (sinks and window included); with sink-window, the default
    /// window is budget − sink.
    #[arg(long)]
    budget: Option<u32>,
    /// First tokens always kept (sink-window and the selection modes).
    #[arg(long, default_value_t = 0)]
    sink: u32,
    /// Last tokens always kept (sink-window and the selection modes).
    #[arg(long)]
    window: Option<u32>,
    /// Sample at this temperature (> 0) instead of taking the best token.
    #[arg(long)]
    temperature: Option<f32>,
    /// Candidates to sample from (with --temperature).
    #[arg(long, default_value_t = 40, requires = "temperature")]
    top_k: u32,
    /// Nucleus: sample from the best candidates whose probability reaches P (with
    /// --temperature).
    #[arg(long, default_value_t = 1.0, requires = "temperature")]
    top_p: f32,
    /// Seed of the sampler (with --temperature); the same seed replays a run.
    #[arg(long, default_value_t = 0, requires = "temperature")]
    seed: u64,
    /// After generating, time the decode step R times whole and by kind of work (matrix
    /// products, attention, glue and sampling), count its dispatches and time the host's
    /// recording of it; printed on stderr and written to --json as `profile`.
    #[arg(long, value_name = "R")]
    profile: Option<u32>,
    /// Replace the --json / --logits outputs if they exist.
    #[arg(long)]
    force: bool,
}

/// Runs the command; see the module doc.
pub fn run(options: GpuOptions, args: Args) -> Result<ExitCode, Error> {
    let output = |arg, path: &PathBuf| Output::new(arg, path, OutputKind::File, args.force);
    let json = args
        .json
        .as_ref()
        .map(|p| output("--json", p))
        .transpose()?;
    let logits_out = args
        .logits
        .as_ref()
        .map(|p| output("--logits", p))
        .transpose()?;
    let sampling = args.temperature.map(|temperature| Sampling {
        temperature,
        top_k: args.top_k,
        top_p: args.top_p,
        seed: args.seed,
    });
    let request = Request {
        prompt: match &args.prompt {
            Some(text) => Prompt::Text(text),
            None => Prompt::Ids(&args.ids),
        },
        max_new: args.n,
        kv: KvDtype::parse(&args.kv)?,
        attention: AttentionMode::parse(&args.attention, args.budget, args.sink, args.window)?,
        sampling,
        logits: logits_out.is_some(),
        profile: args.profile,
    };
    let source = ModelSource::open("MODEL", &args.model)?;
    let gpu = Gpu::new(options)?;
    let decode = |ids: &[u32]| source.decode(ids);
    let has_vocabulary = decode(&[]).is_some();
    let mut stream = TextStream::default();
    let mut stdout = std::io::stdout().lock();
    let mut print = |id: u32| {
        // A closed stdout ends the process quietly (SIGPIPE); other write errors show at exit.
        let _ = if has_vocabulary {
            write!(stdout, "{}", stream.push(id, decode))
        } else {
            write!(stdout, "{id} ")
        };
        let _ = stdout.flush();
    };
    let Generated {
        generation,
        text,
        vocab,
        profile,
    } = request.run(&gpu, &source, &mut print)?;
    println!("{}", stream.finish(decode));
    let adapter = gpu.label();
    eprintln!(
        "prompt tokens {}, generated tokens {}, prefill {:.2} tokens/s, decode {:.2} tokens/s, \
         adapter {adapter}",
        generation.prompt_ids.len(),
        generation.ids.len(),
        generation.prefill_tokens_per_s(),
        generation.decode_tokens_per_s(),
    );
    let profile = profile.map(|p| {
        let share = |s: f64| 100.0 * s / p.step;
        eprintln!(
            "decode step {:.2} ms ({}, {} repetitions): matrix products {:.2} ms ({:.0} %), \
             attention {:.2} ms ({:.0} %), glue and sampling {:.2} ms ({:.0} %); {} dispatches; \
             host recording {:.3} ms",
            p.step * 1e3,
            p.clock.name(),
            p.repetitions,
            p.matmul * 1e3,
            share(p.matmul),
            p.attention * 1e3,
            share(p.attention),
            p.glue * 1e3,
            share(p.glue),
            p.dispatches,
            p.recording * 1e3,
        );
        serde_json::json!({
            "step_s": p.step,
            "matmul_s": p.matmul,
            "attention_s": p.attention,
            "glue_s": p.glue,
            "recording_s": p.recording,
            "dispatches": p.dispatches,
            "clock": p.clock.name(),
            "repetitions": p.repetitions,
        })
    });
    if let Some(out) = json {
        let report = serde_json::json!({
            "prompt_ids": generation.prompt_ids,
            "ids": generation.ids,
            "text": text,
            "prefill_tokens_per_s": generation.prefill_tokens_per_s(),
            "decode_tokens_per_s": generation.decode_tokens_per_s(),
            "adapter": adapter,
            "profile": profile,
        });
        let text = serde_json::to_string_pretty(&report)
            .map_err(|e| Error::invalid("--json", "report", "serialisable", e))?;
        std::fs::write(out.path(), text)
            .map_err(|e| Error::invalid("--json", "path", "writable", e))?;
        out.commit()?;
    }
    if let Some(out) = logits_out {
        let rows: Vec<f32> = generation.logits.concat();
        let tensor = run::Output {
            name: "logits",
            dtype: Dtype::F32,
            shape: vec![generation.logits.len(), vocab as usize],
            data: bytemuck::cast_slice(&rows).to_vec(),
        };
        write(out.path(), &[tensor])?;
        out.commit()?;
    }
    Ok(ExitCode::SUCCESS)
}
