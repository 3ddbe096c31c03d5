//! The attention modes of `squeeze generate` on a tiny random LLaMA (4 layers, so every mode
//! has dense, selecting and — for TidalDecode — reusing layers): with a budget covering the
//! whole context each mode gives the dense model's tokens; with a small one it changes the
//! logits (the selection is used); steady-state steps allocate nothing in any mode; and a
//! warm-up before the prompt leaves no trace.

use squeeze::attention::KvDtype;
use squeeze::quant::gguf::GgufFile;
use squeeze::{Gpu, GpuOptions};
use squeeze_llama::tiny::{TinySpec, tiny_gguf};
use squeeze_llama::{AttentionMode, Model, ModelOptions, ModelTensors};

/// Prompt then generated tokens: 40 in all, across three 16-token pages.
const PROMPT: [u32; 9] = [72, 101, 108, 108, 111, 44, 32, 49, 50];
const STEPS: usize = 31;

fn spec() -> TinySpec {
    TinySpec {
        layers: 4,
        context: 64,
        seed: 7,
        ..TinySpec::default_q8_0()
    }
}

fn gpu() -> Gpu {
    Gpu::new(GpuOptions::default()).unwrap_or_else(|e| panic!("no GPU adapter: {e}"))
}

/// The model with a cache for the prompt and `STEPS` tokens, f32 K and V.
fn load(gpu: &Gpu, tensors: &ModelTensors<'_>, attention: AttentionMode) -> Model {
    Model::load(
        gpu,
        tensors,
        ModelOptions {
            capacity: (PROMPT.len() + STEPS) as u32,
            candidates: 1,
            kv: KvDtype::F32,
            attention,
        },
    )
    .unwrap_or_else(|e| panic!("{attention:?}: {e}"))
}

/// Greedy tokens and every step's logits of the prompt and `STEPS` generated tokens.
fn run(gpu: &Gpu, tensors: &ModelTensors<'_>, attention: AttentionMode) -> (Vec<u32>, Vec<f32>) {
    let mut model = load(gpu, tensors, attention);
    let mut input = PROMPT.to_vec();
    let mut logits = Vec::new();
    for i in 0..PROMPT.len() + STEPS - 1 {
        let step = model.step(input[i], true).unwrap();
        logits.extend(step.logits.unwrap());
        if i + 1 >= PROMPT.len() {
            input.push(step.token);
        }
    }
    (input[PROMPT.len()..].to_vec(), logits)
}

/// Greedy tokens and every step's logits of the prompt (one batched prefill) and `STEPS`
/// generated tokens, after [`Model::warm_up`] when `warm`.
fn run_prefilled(
    gpu: &Gpu,
    tensors: &ModelTensors<'_>,
    attention: AttentionMode,
    warm: bool,
) -> (Vec<u32>, Vec<f32>) {
    let mut model = load(gpu, tensors, attention);
    if warm {
        model.warm_up().unwrap();
        assert!(model.is_empty(), "{attention:?}");
    }
    let mut step = model.prefill(&PROMPT, true).unwrap();
    let mut tokens = Vec::new();
    let mut logits = Vec::new();
    for _ in 0..STEPS {
        logits.extend(step.logits.take().unwrap());
        tokens.push(step.token);
        step = model.step(step.token, true).unwrap();
    }
    (tokens, logits)
}

fn mode(name: &str, budget: u32, sink: u32, window: Option<u32>) -> AttentionMode {
    AttentionMode::parse(name, Some(budget), sink, window).unwrap()
}

/// Every sparse mode with a budget well below the 40-token context, so that its selection
/// (and Quest's page bounds) decide what is attended.
fn small_budgets() -> [AttentionMode; 4] {
    [
        mode("sink-window", 8, 2, None),
        mode("quest", 16, 0, None),
        mode("tidal", 8, 0, None),
        mode("tokenselect", 8, 1, Some(2)),
    ]
}

#[test]
fn every_mode_with_the_whole_context_in_budget_gives_the_dense_tokens() {
    let bytes = tiny_gguf(&spec()).unwrap();
    let file = GgufFile::from_bytes(bytes).unwrap();
    let tensors = ModelTensors::from_gguf(&file).unwrap();
    let gpu = gpu();
    let (dense, dense_logits) = run(&gpu, &tensors, AttentionMode::Dense);
    let whole = (PROMPT.len() + STEPS) as u32;
    for attention in [
        mode("sink-window", whole, 4, None),
        mode("quest", whole, 0, None),
        mode("tidal", whole, 0, None),
        mode("tokenselect", whole, 2, Some(3)),
    ] {
        let (tokens, logits) = run(&gpu, &tensors, attention);
        assert_eq!(tokens, dense, "{attention:?}");
        // The same tokens attended in another order: equal up to f32 summation order.
        let scale = dense_logits.iter().fold(0f32, |m, v| m.max(v.abs()));
        let worst = logits
            .iter()
            .zip(&dense_logits)
            .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
        assert!(
            worst <= 1e-5 * scale,
            "{attention:?}: logits differ by {worst}"
        );
    }
}

#[test]
fn a_warm_up_leaves_the_tokens_and_logits_of_every_mode_as_they_were() {
    let file = GgufFile::from_bytes(tiny_gguf(&spec()).unwrap()).unwrap();
    let tensors = ModelTensors::from_gguf(&file).unwrap();
    let gpu = gpu();
    // Small budgets, so that Quest's page bounds and every selection matter.
    for attention in [AttentionMode::Dense].into_iter().chain(small_budgets()) {
        let cold = run_prefilled(&gpu, &tensors, attention, false);
        let warm = run_prefilled(&gpu, &tensors, attention, true);
        assert_eq!(warm, cold, "{attention:?}");
    }
}

#[test]
fn a_small_budget_changes_the_logits_in_every_mode() {
    let file = GgufFile::from_bytes(tiny_gguf(&spec()).unwrap()).unwrap();
    let tensors = ModelTensors::from_gguf(&file).unwrap();
    let gpu = gpu();
    let (_, dense) = run(&gpu, &tensors, AttentionMode::Dense);
    for attention in small_budgets() {
        let (_, logits) = run(&gpu, &tensors, attention);
        assert!(logits.iter().all(|v| v.is_finite()), "{attention:?}");
        let differ = logits.iter().zip(&dense).filter(|(a, b)| a != b).count();
        assert!(differ > 0, "{attention:?} gave the dense logits");
    }
}

#[test]
fn steady_state_sparse_steps_create_no_buffers_or_bind_groups() {
    let file = GgufFile::from_bytes(tiny_gguf(&spec()).unwrap()).unwrap();
    let tensors = ModelTensors::from_gguf(&file).unwrap();
    let gpu = gpu();
    for attention in small_budgets() {
        let mut model = Model::load(
            &gpu,
            &tensors,
            ModelOptions {
                capacity: 24,
                candidates: 1,
                kv: KvDtype::F16,
                attention,
            },
        )
        .unwrap();
        let mut token = model.step(1, false).unwrap().token;
        for _ in 1..20 {
            let before = gpu.allocations();
            token = model.step(token, false).unwrap().token;
            let created = gpu.allocations() - before;
            assert_eq!(
                (created.buffers, created.bind_groups),
                (0, 0),
                "{attention:?}: buffers, bind groups of step {}",
                model.len()
            );
        }
    }
}

#[test]
fn a_selection_mode_without_a_budget_is_a_typed_error() {
    let e = AttentionMode::parse("tidal", None, 0, None).unwrap_err();
    assert!(e.to_string().contains("--attention tidal"), "{e}");
}
