//! The whole decode step on the GPU against the CPU reference forward pass, on tiny random
//! LLaMA models written as GGUF in the test (no downloads): logits of every step within a stated
//! tolerance, greedy tokens equal.

use squeeze::attention::KvDtype;
use squeeze::quant::Format;
use squeeze::quant::gguf::{GgmlType, GgufFile};
use squeeze::{Gpu, GpuOptions};
use squeeze_llama::tiny::{TinySpec, tiny_gguf};
use squeeze_llama::{
    AttentionMode, CpuModel, LlamaError, Model, ModelOptions, ModelTensors, Tokenizer,
};

/// Logits may differ from the f64 reference by f32 rounding through 2 layers of GEMV,
/// attention and norms: at most 1e-5 of the largest logit (3e-7 to 5e-7 measured on lavapipe).
const TOLERANCE: f32 = 1e-5;

/// With a cache that rounds K and V (f16, q8_0, q4_0), a value whose GPU and CPU f32 results
/// straddle a rounding boundary of the format is stored one step apart (one f16 ulp, 2^-11 of
/// it), which moves the logits by more than f32 rounding does: 2.4e-5 of the largest logit
/// measured on lavapipe with an f16 cache once the GEMV's summation order changed (#16).
const ROUNDING_CACHE_TOLERANCE: f32 = 1e-4;

fn gpu() -> Gpu {
    Gpu::new(GpuOptions::default()).unwrap_or_else(|e| panic!("no GPU adapter: {e}"))
}

/// Feeds `prompt`, then the GPU's greedy tokens, to both models for `steps` generated tokens;
/// returns the largest logit difference relative to the largest logit.
/// How a comparison runs.
struct Run<'a> {
    prompt: &'a [u32],
    steps: usize,
    candidates: u32,
    kv: KvDtype,
}

fn compare(spec: &TinySpec, run: Run<'_>) -> f32 {
    let Run {
        prompt,
        steps,
        candidates,
        kv,
    } = run;
    let file = GgufFile::from_bytes(tiny_gguf(spec).unwrap()).unwrap();
    let tensors = ModelTensors::from_gguf(&file).unwrap();
    let gpu = gpu();
    let capacity = (prompt.len() + steps) as u32;
    let mut model = Model::load(
        &gpu,
        &tensors,
        ModelOptions {
            capacity,
            candidates,
            kv,
            attention: AttentionMode::Dense,
        },
    )
    .unwrap();
    let mut cpu = CpuModel::new(&tensors, kv).unwrap();
    let mut worst = 0f32;
    let mut input: Vec<u32> = prompt.to_vec();
    let mut generated = Vec::new();
    let mut i = 0;
    while generated.len() < steps {
        let token = input[i];
        let got = model.step(token, true).unwrap();
        let want = cpu.step(token).unwrap();
        let logits = got.logits.unwrap();
        if candidates > 1 {
            // Best first, each with its own logit, the first the greedy token.
            assert_eq!(got.candidates.len(), candidates as usize);
            assert_eq!(got.candidates[0].0, got.token);
            for pair in got.candidates.windows(2) {
                assert!(pair[0].1 >= pair[1].1);
            }
            for &(id, value) in &got.candidates {
                assert_eq!(logits[id as usize], value);
            }
        }
        let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
        for (g, w) in logits.iter().zip(&want) {
            worst = worst.max((g - w).abs() / scale);
        }
        i += 1;
        if i >= prompt.len() {
            let best = (0..want.len())
                .max_by(|&a, &b| want[a].total_cmp(&want[b]).then(b.cmp(&a)))
                .unwrap() as u32;
            assert_eq!(got.token, best, "greedy token of step {i}");
            generated.push(got.token);
            input.push(got.token);
        }
    }
    eprintln!("largest logit difference: {worst} of the largest logit");
    let tolerance = match kv {
        KvDtype::F32 => TOLERANCE,
        _ => ROUNDING_CACHE_TOLERANCE,
    };
    assert!(
        worst <= tolerance,
        "logits differ by {worst} of the largest (tolerance {tolerance})"
    );
    worst
}

#[test]
fn q8_0_tied_embeddings_match_the_cpu_reference() {
    let run = Run {
        prompt: &[1, 2, 3],
        steps: 6,
        candidates: 1,
        kv: KvDtype::F32,
    };
    compare(&TinySpec::default_q8_0(), run);
}

#[test]
fn q4_0_with_f16_embedding_and_output_matrix_match_the_cpu_reference_with_5_candidates() {
    let spec = TinySpec {
        matrices: GgmlType::Q4_0,
        embedding: GgmlType::F16,
        output: Some(Format::Q8_0),
        seed: 7,
        ..TinySpec::default_q8_0()
    };
    // Past one 16-token KV page.
    let run = Run {
        prompt: &[5, 250, 17, 17, 0, 9, 100, 42, 3, 8, 1, 2, 3, 4, 5],
        steps: 4,
        candidates: 5,
        kv: KvDtype::F32,
    };
    compare(&spec, run);
}

#[test]
fn f32_f16_and_bf16_matrices_match_the_cpu_reference() {
    // Unquantized matrices are multiplied as stored by the plain GEMV of their format; tied, the
    // output GEMV reads the embedding table as such a matrix. Then one model mixing F16 layers
    // with a Q8_0 output matrix.
    let run = || Run {
        prompt: &[1, 2, 3],
        steps: 4,
        candidates: 1,
        kv: KvDtype::F32,
    };
    for ty in [GgmlType::F32, GgmlType::F16, GgmlType::Bf16] {
        let spec = TinySpec {
            matrices: ty,
            embedding: ty,
            seed: 3,
            ..TinySpec::default_q8_0()
        };
        compare(&spec, run());
    }
    let spec = TinySpec {
        matrices: GgmlType::F16,
        embedding: GgmlType::F32,
        output: Some(Format::Q8_0),
        seed: 4,
        ..TinySpec::default_q8_0()
    };
    compare(&spec, run());
}

#[test]
fn an_f16_kv_cache_matches_the_cpu_reference_rounding_k_and_v_alike() {
    compare_kv_cache(KvDtype::F16);
}

/// The tiny q8_0 model with a `kv` cache against the CPU reference: a 17-token prompt (past
/// the first 16-token page), then 5 steps.
fn compare_kv_cache(kv: KvDtype) {
    let run = Run {
        prompt: &[9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 11, 12, 13, 14, 15, 16, 17],
        steps: 5,
        candidates: 1,
        kv,
    };
    compare(&TinySpec::default_q8_0(), run);
}

#[test]
fn q8_0_and_q4_0_kv_caches_match_the_cpu_reference_quantizing_k_and_v_alike() {
    // The append quantizes K and V on the GPU as the CPU reference's quantizer does (ggml's
    // rounding); across a page boundary.
    compare_kv_cache(KvDtype::Q8_0);
    compare_kv_cache(KvDtype::Q4_0);
}

#[test]
fn int4_and_int2_kv_caches_match_the_cpu_reference_through_the_residual() {
    // KIVI's formats: the 17-token prompt fills page 0 (quantized) and leaves one token in the
    // f16 residual; the steps append to the residual. The CPU reference reads its cache as the
    // GPU's paged cache holds it (reference::kivi::sequence).
    compare_kv_cache(KvDtype::Int4);
    compare_kv_cache(KvDtype::Int2);
}

#[test]
fn other_architectures_are_a_typed_error_naming_them() {
    let mut bytes = tiny_gguf(&TinySpec::default_q8_0()).unwrap();
    // The first "llama" is general.architecture's value; same length, so nothing else moves.
    let at = bytes.windows(5).position(|w| w == b"llama").unwrap();
    bytes[at..at + 5].copy_from_slice(b"gemma");
    let file = GgufFile::from_bytes(bytes).unwrap();
    let Err(e) = ModelTensors::from_gguf(&file) else {
        panic!("a gemma file loaded");
    };
    let squeeze::Error::Family(inner) = &e else {
        panic!("{e}");
    };
    assert!(matches!(
        inner.downcast_ref::<LlamaError>(),
        Some(LlamaError::Architecture { architecture }) if architecture == "gemma"
    ));
    assert!(e.to_string().contains("`gemma`"), "{e}");
}

#[test]
fn steady_state_steps_create_no_buffers_or_bind_groups() {
    let file = GgufFile::from_bytes(tiny_gguf(&TinySpec::default_q8_0()).unwrap()).unwrap();
    let tensors = ModelTensors::from_gguf(&file).unwrap();
    let gpu = gpu();
    let mut model = Model::load(
        &gpu,
        &tensors,
        ModelOptions {
            capacity: 20,
            candidates: 1,
            kv: KvDtype::F16,
            attention: AttentionMode::Dense,
        },
    )
    .unwrap();
    // The first step builds every bind group; later ones, across a page boundary, reuse them.
    let mut token = model.step(1, true).unwrap().token;
    for _ in 1..18 {
        let before = gpu.allocations();
        token = model.step(token, false).unwrap().token;
        let created = gpu.allocations() - before;
        let allocated = (created.buffers, created.bind_groups);
        assert_eq!(
            allocated,
            (0, 0),
            "buffers, bind groups of step {}",
            model.len()
        );
        assert!(created.dispatches > 0);
    }
}

#[test]
fn an_unknown_pre_tokenizer_is_a_typed_error_naming_it() {
    let mut bytes = tiny_gguf(&TinySpec::default_q8_0()).unwrap();
    let at = bytes.windows(6).position(|w| w == b"smollm").unwrap();
    bytes[at..at + 6].copy_from_slice(b"falcon");
    let file = GgufFile::from_bytes(bytes).unwrap();
    let e = Tokenizer::from_gguf(&file).unwrap_err();
    assert!(
        e.to_string().contains("tokenizer.ggml.pre") && e.to_string().contains("`falcon`"),
        "{e}"
    );
}
