//! The batched prefill (`Model::prefill`) on tiny random LLaMA models: the first generated
//! token and its logits equal those of the prompt run token by token through the decode step
//! and those of the CPU reference forward pass, for GGUF block matrices (GEMM), a BF16 folder
//! and F32/F16 GGUF matrices (the plain GEMV in batches), f32 and f16 caches, prompts across pages and across prefill chunks;
//! decoding after a prefill continues like decoding after the token-by-token prompt; bad
//! prompts are typed errors.

use squeeze::attention::KvDtype;
use squeeze::quant::Format;
use squeeze::quant::gguf::{GgmlType, GgufFile};
use squeeze::{Error, Gpu, GpuOptions};
use squeeze_llama::hf::HfFolder;
use squeeze_llama::model::prefill::CHUNK;
use squeeze_llama::tiny::{TinySpec, tiny_gguf, tiny_hf};
use squeeze_llama::{AttentionMode, CpuModel, Model, ModelOptions, ModelTensors};

/// Logits of the batched prefill against the token-by-token path and the f64 CPU reference:
/// the GEMM and the prefill attention add in other orders than the GEMV and the decode
/// attention, so they differ by f32 rounding through 2 layers: at most 1e-5 of the largest
/// logit (the decode step's own tolerance against the reference).
const TOLERANCE: f32 = 1e-5;

/// Decode steps after the prompt compared between the two paths.
const STEPS: usize = 3;

fn gpu() -> Gpu {
    Gpu::new(GpuOptions::default()).unwrap_or_else(|e| panic!("no GPU adapter: {e}"))
}

/// A prompt of `n` token ids below 256, varied.
fn prompt(n: usize) -> Vec<u32> {
    (0..n as u32).map(|i| (i * 37 + 11) % 256).collect()
}

fn load(gpu: &Gpu, tensors: &ModelTensors<'_>, capacity: u32, kv: KvDtype) -> Model {
    let options = ModelOptions {
        capacity,
        candidates: 1,
        kv,
        attention: AttentionMode::Dense,
    };
    Model::load(gpu, tensors, options).unwrap()
}

/// The largest difference between `got` and `want` relative to the largest `want`.
fn relative(got: &[f32], want: &[f32]) -> f32 {
    assert_eq!(got.len(), want.len());
    let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
    got.iter()
        .zip(want)
        .map(|(g, w)| (g - w).abs() / scale)
        .fold(0f32, f32::max)
}

/// Prefills `prompt` on one model and steps it token by token on another and on the CPU
/// reference, then decodes STEPS greedy tokens on both GPU models: tokens equal, logits within
/// the tolerance. Returns the worst relative difference seen.
fn compare(tensors: &ModelTensors<'_>, prompt: &[u32], kv: KvDtype) -> f32 {
    let gpu = gpu();
    let capacity = (prompt.len() + STEPS) as u32;
    let mut batched = load(&gpu, tensors, capacity, kv);
    let mut stepped = load(&gpu, tensors, capacity, kv);
    let mut cpu = CpuModel::new(tensors, kv).unwrap();
    let mut got = batched.prefill(prompt, true).unwrap();
    assert_eq!(batched.len(), prompt.len() as u32);
    let mut want = None;
    let mut reference = Vec::new();
    for &token in prompt {
        want = Some(stepped.step(token, true).unwrap());
        reference = cpu.step(token).unwrap();
    }
    let mut want = want.unwrap();
    let mut logits = got.logits.take().unwrap();
    let mut worst = relative(&logits, &reference);
    for step in 0..=STEPS {
        assert_eq!(got.token, want.token, "token {step} after the prompt");
        worst = worst.max(relative(&logits, &want.logits.take().unwrap()));
        if step == STEPS {
            break;
        }
        got = batched.step(got.token, true).unwrap();
        logits = got.logits.take().unwrap();
        want = stepped.step(want.token, true).unwrap();
    }
    eprintln!("largest logit difference: {worst} of the largest logit");
    assert!(
        worst <= TOLERANCE,
        "logits differ by {worst} of the largest (tolerance {TOLERANCE})"
    );
    worst
}

fn gguf_tensors(spec: &TinySpec) -> GgufFile {
    GgufFile::from_bytes(tiny_gguf(spec).unwrap()).unwrap()
}

#[test]
fn q8_0_prefill_across_pages_matches_the_token_by_token_path_and_the_cpu_reference() {
    let file = gguf_tensors(&TinySpec::default_q8_0());
    let tensors = ModelTensors::from_gguf(&file).unwrap();
    // 37 tokens: three 16-token pages, the last partial; GEMM batches of 37 rows.
    compare(&tensors, &prompt(37), KvDtype::F32);
    compare(&tensors, &prompt(1), KvDtype::F32);
}

#[test]
fn q4_0_with_f16_embedding_and_an_f16_cache_matches() {
    let spec = TinySpec {
        matrices: GgmlType::Q4_0,
        embedding: GgmlType::F16,
        output: Some(Format::Q8_0),
        seed: 7,
        ..TinySpec::default_q8_0()
    };
    let file = gguf_tensors(&spec);
    let tensors = ModelTensors::from_gguf(&file).unwrap();
    compare(&tensors, &prompt(20), KvDtype::F16);
}

#[test]
fn bf16_folder_prefill_through_the_batched_gemv_matches() {
    let dir = std::env::temp_dir().join(format!("squeeze-prefill-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let result = std::panic::catch_unwind(|| {
        tiny_hf(&TinySpec::default_q8_0(), &dir).unwrap();
        let folder = HfFolder::open(&dir).unwrap();
        let tensors = folder.tensors().unwrap();
        // 19 rows: two batches of 8 and one of 3.
        compare(&tensors, &prompt(19), KvDtype::F32);
    });
    std::fs::remove_dir_all(&dir).unwrap();
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

#[test]
fn f32_and_f16_gguf_matrices_prefill_through_the_batched_gemv_matches() {
    // Unquantized GGUF matrices (and the tied output reading the embedding as one) go through
    // the plain GEMV of their format, 8 rows at a time; 11 rows: a batch of 8 and one of 3.
    for ty in [GgmlType::F32, GgmlType::F16] {
        let spec = TinySpec {
            matrices: ty,
            embedding: ty,
            seed: 5,
            ..TinySpec::default_q8_0()
        };
        let file = gguf_tensors(&spec);
        let tensors = ModelTensors::from_gguf(&file).unwrap();
        compare(&tensors, &prompt(11), KvDtype::F32);
    }
}

#[test]
fn a_prompt_longer_than_a_chunk_runs_chunk_after_chunk() {
    let spec = TinySpec {
        context: 2 * CHUNK,
        ..TinySpec::default_q8_0()
    };
    let file = gguf_tensors(&spec);
    let tensors = ModelTensors::from_gguf(&file).unwrap();
    compare(&tensors, &prompt(CHUNK as usize + 21), KvDtype::F16);
}

#[test]
fn bad_prompts_are_typed_errors() {
    let file = gguf_tensors(&TinySpec::default_q8_0());
    let tensors = ModelTensors::from_gguf(&file).unwrap();
    let gpu = gpu();
    let mut model = load(&gpu, &tensors, 8, KvDtype::F32);
    let is_prompt_error =
        |e: &Error| matches!(e, Error::InvalidArgument { arg, .. } if *arg == "prompt");
    for bad in [vec![], vec![1, 256, 2], prompt(9)] {
        let err = model.prefill(&bad, false).unwrap_err();
        assert!(is_prompt_error(&err), "{bad:?}: {err}");
    }
    // Nothing was run: the cache is still empty and takes a whole prompt.
    assert!(model.is_empty());
    model.prefill(&prompt(6), false).unwrap();
    let err = model.prefill(&prompt(3), false).unwrap_err();
    assert!(
        is_prompt_error(&err) && err.to_string().contains("2 free"),
        "{err}"
    );
    model.prefill(&prompt(2), false).unwrap();
    assert_eq!(model.len(), 8);
}
