//! End-to-end `squeeze generate`: a tiny random LLaMA written as GGUF in the test, run by the
//! real binary on this machine's adapter; the ids (and the --json and --logits outputs) checked
//! against the CPU reference forward pass.

mod common;

use std::path::{Path, PathBuf};

use common::{read_tensor, squeeze, stderr, stdout};
use safetensors::Dtype;
use squeeze::quant::gguf::GgufFile;
use squeeze_llama::ModelTensors;
use squeeze_llama::tiny::{TinySpec, tiny_gguf};

/// A fresh folder holding the tiny model as `tiny.gguf`.
fn setup(test: &str) -> (common::Scratch, PathBuf) {
    let dir = common::folder(&format!("generate-{test}"));
    let model = dir.join("tiny.gguf");
    std::fs::write(&model, tiny_gguf(&TinySpec::default_q8_0()).unwrap()).unwrap();
    (dir, model)
}

/// Greedy ids of the CPU reference for `prompt`, `n` tokens, from the GGUF file `model`.
fn reference_ids(model: &Path, prompt: &[u32], n: usize) -> Vec<u32> {
    let file = GgufFile::open(model).unwrap();
    common::reference_ids(&ModelTensors::from_gguf(&file).unwrap(), prompt, n)
}

#[test]
fn generates_the_reference_ids_with_json_and_logits() {
    let (dir, model) = setup("ok");
    let (json, logits) = (dir.join("out.json"), dir.join("logits.safetensors"));
    let o = squeeze(&[
        "generate",
        model.to_str().unwrap(),
        "--ids",
        "1,2,3",
        "-n",
        "5",
        "--json",
        json.to_str().unwrap(),
        "--logits",
        logits.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let want = reference_ids(&model, &[1, 2, 3], 5);
    // The tiny model's token i is byte i: stdout is their text, streamed, then a newline.
    let bytes: Vec<u8> = want.iter().map(|&id| id as u8).collect();
    let text = String::from_utf8_lossy(&bytes);
    assert_eq!(stdout(&o), format!("{text}\n"));
    let summary = stderr(&o);
    assert!(
        summary.contains("prompt tokens 3, generated tokens 5, prefill ")
            && summary.contains("tokens/s, adapter "),
        "{summary}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["prompt_ids"], serde_json::json!([1, 2, 3]));
    assert_eq!(report["ids"], serde_json::json!(want));
    assert_eq!(report["text"], serde_json::json!(text));
    assert!(report["prefill_tokens_per_s"].as_f64().unwrap() > 0.0);
    assert!(report["decode_tokens_per_s"].as_f64().unwrap() > 0.0);
    assert!(report["adapter"].is_string());
    let (dtype, shape, bytes) = read_tensor(&logits, "logits");
    assert_eq!((dtype, shape), (Dtype::F32, vec![5, 256]));
    let rows: Vec<f32> = bytemuck::pod_collect_to_vec(&bytes);
    for (row, &id) in rows.chunks_exact(256).zip(&want) {
        let best = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        assert_eq!(row[id as usize], best);
    }
}

#[test]
fn outputs_are_checked_before_any_work() {
    let (dir, model) = setup("exists");
    let json = dir.join("out.json");
    std::fs::write(&json, "keep").unwrap();
    let args = ["generate", model.to_str().unwrap(), "--ids", "1", "--json"];
    let o = squeeze(&[&args[..], &[json.to_str().unwrap()]].concat());
    assert!(!o.status.success());
    assert!(stderr(&o).contains("pass --force"), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&json).unwrap(), "keep");
    let o = squeeze(&[&args[..], &[json.to_str().unwrap(), "--force", "-n", "1"]].concat());
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(std::fs::read_to_string(&json).unwrap().contains("\"ids\""));
}

#[test]
fn prompt_text_is_encoded_with_the_file_tokenizer() {
    let (_dir, model) = setup("prompt");
    let run = |how: &[&str]| {
        let o = squeeze(&[&["generate", model.to_str().unwrap(), "-n", "3"], how].concat());
        assert!(o.status.success(), "{}", stderr(&o));
        stdout(&o)
    };
    // The tiny model's tokenizer has no merges: text is its bytes.
    assert_eq!(
        run(&["--prompt", "hi é"]),
        run(&["--ids", "104,105,32,195,169"])
    );
}

#[test]
fn bad_ids_and_lengths_are_plain_errors() {
    let (_dir, model) = setup("errors");
    let o = squeeze(&["generate", model.to_str().unwrap(), "--ids", "1,256"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("below vocab = 256"), "{}", stderr(&o));
    let o = squeeze(&[
        "generate",
        model.to_str().unwrap(),
        "--ids",
        "1",
        "-n",
        "100",
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("context length 64"), "{}", stderr(&o));
    let o = squeeze(&["generate", model.to_str().unwrap(), "--prompt", ""]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("at least one token"), "{}", stderr(&o));
}

#[test]
fn sampling_replays_by_seed_and_top_k_1_is_greedy() {
    let (_dir, model) = setup("sampling");
    let run = |how: &[&str]| {
        let base = [
            "generate",
            model.to_str().unwrap(),
            "--ids",
            "1,2,3",
            "-n",
            "8",
        ];
        let o = squeeze(&[&base[..], how].concat());
        assert!(o.status.success(), "{}", stderr(&o));
        stdout(&o)
    };
    let hot = ["--temperature", "1.5", "--seed", "7"];
    assert_eq!(run(&hot), run(&hot));
    assert_eq!(run(&["--temperature", "0.7", "--top-k", "1"]), run(&[]));
    // The tiny model's greedy tokens are the same with an f16 cache.
    assert_eq!(run(&["--kv", "f16"]), run(&[]));
    // Quantized caches run end to end (their tokens may differ: the cache holds other values).
    for kv in ["q8_0", "q4_0"] {
        assert!(!run(&["--kv", kv]).is_empty());
    }
    let o = squeeze(&[
        "generate",
        model.to_str().unwrap(),
        "--ids",
        "1",
        "--top-k",
        "5",
    ]);
    assert!(!o.status.success(), "--top-k without --temperature ran");
}

#[test]
fn profile_reports_the_step_by_kind_of_work() {
    let (dir, model) = setup("profile");
    let json = dir.join("out.json");
    let o = squeeze(&[
        "generate",
        model.to_str().unwrap(),
        "--ids",
        "1,2",
        "-n",
        "2",
        "--profile",
        "1",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("decode step "), "{}", stderr(&o));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    for key in ["step_s", "matmul_s", "attention_s", "glue_s", "recording_s"] {
        assert!(report["profile"][key].as_f64().unwrap() > 0.0, "{key}");
    }
    // Two layers of at least the projections, attention and norms, and the head.
    assert!(report["profile"]["dispatches"].as_u64().unwrap() >= 10);
    let o = squeeze(&[
        "generate",
        model.to_str().unwrap(),
        "--ids",
        "1",
        "--profile",
        "0",
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("repetitions"), "{}", stderr(&o));
}
