//! End-to-end `squeeze generate` on model folders: a tiny random LLaMA written as a Hugging Face
//! folder in the test (BF16 safetensors, config.json, tokenizer.json), compressed by the real
//! binary (`dfloat11 compress`, DF11 and `--format native`) and run from each folder as it is;
//! the ids checked against the CPU reference, the DF11 and native folders' logits against the
//! BF16 folder's bit for bit, and errors for what is not a model.

mod common;

use std::path::Path;

use common::{s, squeeze, succeeds};
use squeeze_llama::hf::HfFolder;
use squeeze_llama::tiny::{TinySpec, tiny_hf};

/// Greedy ids of the CPU reference for `prompt`, `n` tokens, from the folder `dir`.
fn reference_ids(dir: &Path, prompt: &[u32], n: usize) -> Vec<u32> {
    let folder = HfFolder::open(dir).unwrap();
    common::reference_ids(&folder.tensors().unwrap(), prompt, n)
}

fn logits(path: &Path) -> Vec<u8> {
    let bytes = std::fs::read(path).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    file.tensor("logits").unwrap().data().to_vec()
}

#[test]
fn generates_from_bf16_df11_and_native_folders() {
    let root = tempfile::tempdir().unwrap();
    let bf16 = root.path().join("bf16");
    std::fs::create_dir(&bf16).unwrap();
    // An lm_head of its own; EOS (id 0) is a byte the prompt's continuation does not reach
    // in 4 tokens of this seed (checked against the reference below).
    let spec = TinySpec {
        output: Some(squeeze::quant::Format::Q8_0),
        ..TinySpec::default_q8_0()
    };
    tiny_hf(&spec, &bf16).unwrap();
    let (df11, native) = (root.path().join("df11"), root.path().join("native"));
    succeeds(&squeeze(&[
        "dfloat11",
        "compress",
        s(&bf16),
        "-o",
        s(&df11),
    ]));
    succeeds(&squeeze(&[
        "dfloat11",
        "compress",
        s(&bf16),
        "-o",
        s(&native),
        "--format",
        "native",
    ]));
    for copied in ["config.json", "tokenizer.json", "generation_config.json"] {
        assert!(
            df11.join(copied).is_file() && native.join(copied).is_file(),
            "{copied}"
        );
    }
    // The prompt "Hi!" is bytes 72 105 33 with the byte-level tokenizer.json.
    let want = reference_ids(&bf16, &[72, 105, 33], 4);
    assert!(!want.contains(&0), "the reference reached EOS: {want:?}");
    let mut outputs = Vec::new();
    for dir in [&bf16, &df11, &native] {
        let out = dir.with_extension("logits.safetensors");
        let json = dir.with_extension("json");
        let printed = succeeds(&squeeze(&[
            "generate",
            s(dir),
            "--prompt",
            "Hi!",
            "-n",
            "4",
            "--json",
            s(&json),
            "--logits",
            s(&out),
        ]));
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        assert_eq!(
            report["prompt_ids"],
            serde_json::json!([72, 105, 33]),
            "{printed}"
        );
        assert_eq!(
            report["ids"],
            serde_json::json!(want),
            "{}: {printed}",
            dir.display()
        );
        assert!(report["text"].is_string(), "{printed}");
        outputs.push(logits(&out));
    }
    assert_eq!(outputs[1], outputs[0], "DF11 logits differ from BF16's");
    assert_eq!(outputs[2], outputs[0], "native logits differ from BF16's");
}

#[test]
fn a_folder_without_a_model_is_an_error_naming_it() {
    let root = tempfile::tempdir().unwrap();
    let o = squeeze(&["generate", s(root.path()), "--ids", "1"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("config.json") && err.contains("missing"),
        "{err}"
    );

    let file = root.path().join("weights.safetensors");
    std::fs::write(&file, b"not a model").unwrap();
    let o = squeeze(&["generate", s(&file), "--ids", "1"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("MODEL") && err.contains("GGUF"), "{err}");
}
