//! Runs a GGUF LLaMA model on the GPU and through the CPU reference forward pass side by side,
//! feeding both the GPU's greedy tokens, and prints each step's token from both and the largest
//! logit difference (relative to the largest logit): the check of a real model that CI cannot
//! download.
//!
//! `cargo run --release -p squeeze-llama --example compare -- MODEL.gguf 1,2,3 [N]`

use std::path::PathBuf;

use squeeze::attention::KvDtype;
use squeeze::quant::gguf::GgufFile;
use squeeze::{Error, Gpu, GpuOptions, Result};
use squeeze_llama::{AttentionMode, CpuModel, Model, ModelOptions, ModelTensors};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [model, ids, rest @ ..] = args.as_slice() else {
        return Err(Error::invalid(
            "arguments",
            "count",
            "MODEL.gguf IDS [N]",
            args.len(),
        ));
    };
    let prompt = ids
        .split(',')
        .map(|t| t.trim().parse::<u32>())
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::invalid("IDS", "token ids", "comma-separated integers", e))?;
    let n: u32 = match rest.first() {
        Some(n) => n
            .parse()
            .map_err(|e| Error::invalid("N", "tokens", "an integer", e))?,
        None => 4,
    };
    let file = GgufFile::open(&PathBuf::from(model))?;
    let tensors = ModelTensors::from_gguf(&file)?;
    let gpu = Gpu::new(GpuOptions::from_env()?)?;
    println!("adapter: {}", gpu.label());
    let capacity = prompt.len() as u32 + n;
    let mut gpu_model = Model::load(
        &gpu,
        &tensors,
        ModelOptions {
            capacity,
            candidates: 1,
            kv: KvDtype::F32,
            attention: AttentionMode::Dense,
        },
    )?;
    let mut cpu_model = CpuModel::new(&tensors, KvDtype::F32)?;
    let mut input = prompt.clone();
    let mut i = 0;
    while i < input.len() && (input.len() - prompt.len()) < n as usize {
        let token = input[i];
        let got = gpu_model.step(token, true)?;
        let want = cpu_model.step(token)?;
        let logits = got.logits.unwrap_or_default();
        let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
        let worst = logits
            .iter()
            .zip(&want)
            .fold(0f32, |m, (g, w)| m.max((g - w).abs()));
        let best = (0..want.len())
            .max_by(|&a, &b| want[a].total_cmp(&want[b]).then(b.cmp(&a)))
            .unwrap_or(0);
        i += 1;
        let generated = i >= prompt.len();
        println!(
            "position {:>3}: input {token:>6}  gpu next {:>6}  cpu next {best:>6}  \
             max |Δlogit| {worst:.3e} ({:.3e} of the largest){}",
            i - 1,
            got.token,
            worst / scale,
            if generated { "  (generated)" } else { "" }
        );
        if generated {
            input.push(got.token);
        }
    }
    Ok(())
}
