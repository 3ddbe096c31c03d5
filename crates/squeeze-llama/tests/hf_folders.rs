//! A tiny random LLaMA written as a Hugging Face folder (BF16 safetensors, config.json,
//! tokenizer.json) and compressed by squeeze to a DF11 folder and to native files, all in the
//! test (no downloads), and folders with F16 or F32 matrices: GPU logits against the CPU
//! reference for a few steps; DF11 and native
//! logits equal to the BF16 folder's bit for bit; typed errors for a bad config.json, a missing shard
//! and an unsupported dtype.

use std::path::Path;

use squeeze::attention::KvDtype;
use squeeze::files::dfloat11::{Format, Source, compress};
use squeeze::files::paths::{Output, OutputKind};
use squeeze::quant::gguf::GgmlType;
use squeeze::{Gpu, GpuOptions};
use squeeze_llama::hf::{FolderKind, HfFolder};
use squeeze_llama::source::ModelSource;
use squeeze_llama::tiny::{TinySpec, tiny_hf};
use squeeze_llama::{AttentionMode, CpuModel, LlamaError, Model, ModelOptions};

/// Logits may differ from the f64 reference by f32 rounding through 2 layers of GEMV,
/// attention and norms: at most 1e-5 of the largest logit (as for the GGUF models).
const TOLERANCE: f32 = 1e-5;

const PROMPT: [u32; 4] = [72, 105, 33, 7];
const STEPS: usize = 4;

fn spec(tied: bool) -> TinySpec {
    TinySpec {
        output: if tied {
            None
        } else {
            Some(squeeze::quant::Format::Q8_0)
        },
        ..TinySpec::default_q8_0()
    }
}

/// The BF16 folder and its DF11 and native compressions, in `root`.
fn folders(root: &Path, tied: bool) -> [std::path::PathBuf; 3] {
    let bf16 = root.join("bf16");
    std::fs::create_dir(&bf16).unwrap();
    tiny_hf(&spec(tied), &bf16).unwrap();
    let out = |name: &str, format| {
        let path = root.join(name);
        let output = Output::new("-o", &path, OutputKind::Folder, false).unwrap();
        compress(&bf16, &Source::Plain, output, format, 2, |_, _| {}, |_| {}).unwrap();
        path
    };
    let df11 = out("df11", Format::Df11);
    let native = out("native", Format::Native);
    [bf16, df11, native]
}

fn gpu() -> Gpu {
    Gpu::new(GpuOptions::default()).unwrap_or_else(|e| panic!("no GPU adapter: {e}"))
}

/// Runs the prompt and then the GPU's greedy tokens for STEPS tokens; returns every step's
/// logits and the worst difference from the CPU reference relative to the largest logit.
fn run(gpu: &Gpu, dir: &Path) -> (Vec<Vec<f32>>, f32) {
    let folder = HfFolder::open(dir).unwrap();
    let tensors = folder.tensors().unwrap();
    let options = ModelOptions {
        capacity: (PROMPT.len() + STEPS) as u32,
        candidates: 1,
        kv: KvDtype::F32,
        attention: AttentionMode::Dense,
    };
    let mut model = Model::load(gpu, &tensors, options).unwrap();
    let mut cpu = CpuModel::new(&tensors, KvDtype::F32).unwrap();
    let mut all = Vec::new();
    let mut worst = 0f32;
    let mut next = PROMPT[0];
    for i in 0..PROMPT.len() + STEPS - 1 {
        let got = model.step(next, true).unwrap();
        let want = cpu.step(next).unwrap();
        let logits = got.logits.unwrap();
        let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
        for (g, w) in logits.iter().zip(&want) {
            worst = worst.max((g - w).abs() / scale);
        }
        all.push(logits);
        next = PROMPT.get(i + 1).copied().unwrap_or(got.token);
    }
    (all, worst)
}

fn bits(logits: &[Vec<f32>]) -> Vec<u32> {
    logits.iter().flatten().map(|v| v.to_bits()).collect()
}

#[test]
fn folder_kinds_are_detected() {
    let root = tempfile::tempdir().unwrap();
    let kinds = folders(root.path(), true).map(|d| HfFolder::open(&d).unwrap().kind);
    assert_eq!(
        kinds,
        [FolderKind::Bf16, FolderKind::Df11, FolderKind::Native]
    );
    let folder = HfFolder::open(&root.path().join("df11")).unwrap();
    assert_eq!(folder.config.eos, Some(0));
    assert!(folder.config.tied);
    // The copied tokenizer reads: a byte per token.
    let tokenizer = folder.tokenizer().unwrap();
    let ids = tokenizer.encode("Hi 7é", false).unwrap().get_ids().to_vec();
    assert_eq!(ids, "Hi 7é".bytes().map(u32::from).collect::<Vec<_>>());
}

#[test]
fn a_prompt_gets_the_special_tokens_of_the_folders_post_processor() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("bf16");
    std::fs::create_dir(&dir).unwrap();
    tiny_hf(&spec(true), &dir).unwrap();
    let source = ModelSource::open("MODEL", &dir).unwrap();
    // The tiny tokenizer has no post-processor: the prompt is its bytes.
    assert_eq!(source.encode("Hi").unwrap(), [72, 105]);
    // A Llama-style template prepends a BOS (id 1) to every prompt, as `transformers` does.
    let path = dir.join("tokenizer.json");
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    json["post_processor"] = serde_json::json!({
        "type": "TemplateProcessing",
        "single": [
            {"SpecialToken": {"id": "<s>", "type_id": 0}},
            {"Sequence": {"id": "A", "type_id": 0}}
        ],
        "pair": [
            {"SpecialToken": {"id": "<s>", "type_id": 0}},
            {"Sequence": {"id": "A", "type_id": 0}},
            {"Sequence": {"id": "B", "type_id": 1}}
        ],
        "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}
    });
    std::fs::write(&path, json.to_string()).unwrap();
    let source = ModelSource::open("MODEL", &dir).unwrap();
    assert_eq!(source.encode("Hi").unwrap(), [1, 72, 105]);
    assert_eq!(source.encode("").unwrap(), [1]);
}

#[test]
fn bf16_df11_native_folders_match_the_cpu_reference() {
    let root = tempfile::tempdir().unwrap();
    let gpu = gpu();
    for tied in [true, false] {
        let [bf16, df11, native] = folders(root.path(), tied);
        let (want, worst) = run(&gpu, &bf16);
        assert!(worst <= TOLERANCE, "BF16 tied={tied}: {worst:e}");
        let (got, worst) = run(&gpu, &native);
        assert!(worst <= TOLERANCE, "native tied={tied}: {worst:e}");
        assert_eq!(
            bits(&got),
            bits(&want),
            "native vs BF16 logits, tied={tied}"
        );
        let (got, worst) = run(&gpu, &df11);
        assert!(worst <= TOLERANCE, "DF11 tied={tied}: {worst:e}");
        assert_eq!(bits(&got), bits(&want), "DF11 vs BF16 logits, tied={tied}");
        for dir in [bf16, df11, native] {
            std::fs::remove_dir_all(dir).unwrap();
        }
    }
}

#[test]
fn f16_and_f32_folders_match_the_cpu_reference() {
    // Layers' matrices F16 or F32 (the plain GEMV of that format), the rest BF16; tied and with
    // a BF16 lm_head.
    let root = tempfile::tempdir().unwrap();
    let gpu = gpu();
    for ty in [GgmlType::F16, GgmlType::F32] {
        for tied in [true, false] {
            let dir = root.path().join(format!("{ty}-{tied}"));
            std::fs::create_dir(&dir).unwrap();
            let spec = TinySpec {
                matrices: ty,
                ..spec(tied)
            };
            tiny_hf(&spec, &dir).unwrap();
            assert_eq!(HfFolder::open(&dir).unwrap().kind, FolderKind::Bf16);
            let (_, worst) = run(&gpu, &dir);
            assert!(worst <= TOLERANCE, "{ty} tied={tied}: {worst:e}");
            std::fs::remove_dir_all(dir).unwrap();
        }
    }
}

fn family_error(e: squeeze::Error) -> LlamaError {
    match e {
        squeeze::Error::Family(inner) => *inner.downcast::<LlamaError>().unwrap(),
        other => panic!("not a model error: {other}"),
    }
}

fn open_error(dir: &Path) -> String {
    match HfFolder::open(dir).and_then(|f| f.tensors().map(|_| ())) {
        Ok(()) => panic!("{} opened", dir.display()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn bad_folders_are_typed_errors() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("m");
    std::fs::create_dir(&dir).unwrap();
    tiny_hf(&spec(true), &dir).unwrap();
    let config_path = dir.join("config.json");
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&config_path).unwrap()).unwrap();
    let with = |key: &str, value: serde_json::Value| {
        let mut c = config.clone();
        c[key] = value;
        std::fs::write(&config_path, c.to_string()).unwrap();
    };

    with("architectures", serde_json::json!(["MistralForCausalLM"]));
    let e = family_error(HfFolder::open(&dir).err().unwrap());
    let LlamaError::Architecture { architecture } = e else {
        panic!("not an architecture error: {e}");
    };
    assert_eq!(architecture, "MistralForCausalLM");

    with(
        "rope_scaling",
        serde_json::json!({"rope_type": "llama3", "factor": 8.0}),
    );
    let message = open_error(&dir);
    assert!(
        message.contains("rope_scaling") && message.contains("llama3"),
        "{message}"
    );

    with("hidden_size", serde_json::json!("wide"));
    let message = open_error(&dir);
    assert!(message.contains("hidden_size"), "{message}");

    std::fs::write(&config_path, "{ not json").unwrap();
    let message = open_error(&dir);
    assert!(
        message.contains("config.json") && message.contains("JSON"),
        "{message}"
    );
    std::fs::write(&config_path, config.to_string()).unwrap();

    // A shard the index names is missing.
    let index = serde_json::json!({
        "weight_map": {
            "model.embed_tokens.weight": "model-00001-of-00002.safetensors",
            "model.norm.weight": "model-00002-of-00002.safetensors"
        }
    });
    std::fs::write(dir.join("model.safetensors.index.json"), index.to_string()).unwrap();
    let message = open_error(&dir);
    assert!(
        message.contains("model-00001-of-00002.safetensors") && message.contains("missing"),
        "{message}"
    );
    std::fs::remove_file(dir.join("model.safetensors.index.json")).unwrap();

    // I16 weights: no GEMV multiplies them.
    let file = dir.join("model.safetensors");
    let bytes = std::fs::read(&file).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = st
        .tensors()
        .into_iter()
        .map(|(name, view)| {
            let dtype = if name.ends_with("q_proj.weight") {
                safetensors::Dtype::I16
            } else {
                view.dtype()
            };
            let v = safetensors::tensor::TensorView::new(dtype, view.shape().to_vec(), view.data())
                .unwrap();
            (name, v)
        })
        .collect();
    let i16 = safetensors::serialize(views, None).unwrap();
    std::fs::write(&file, i16).unwrap();
    let e = family_error(HfFolder::open(&dir).unwrap().tensors().err().unwrap());
    assert!(
        matches!(e, LlamaError::UnsupportedType { ref tensor, ref ggml_type, .. }
            if tensor == "model.layers.0.self_attn.q_proj.weight" && ggml_type == "I16"),
        "{e}"
    );
}
