//! The command as a tool people trust (issue #19): one test per row of the issue's table —
//! nothing silently succeeds, nothing partial is left behind, one policy for paths, plain
//! errors. Every case is small: bad paths and tiny files.

mod common;

use std::path::Path;
use std::process::Output;

use common::{
    compress, decompress, fails_with, folder, run, s, squeeze, stderr, succeeds, write_tensors,
};
use safetensors::Dtype;
use squeeze::quant::gguf::{GgmlType, GgufWriter, Value};

// The argument lists of the gguf commands under test ([`common`] has the others).

/// `gguf dequantize FILE -o OUT` and `extra`.
fn dequantize<'a>(gguf: &'a Path, out: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    [&["gguf", "dequantize", s(gguf), "-o", s(out)], extra].concat()
}

/// `gguf matmul FILE --tensor TENSOR --x X -o OUT`.
fn matmul<'a>(gguf: &'a Path, tensor: &'a str, x: &'a Path, out: &'a Path) -> Vec<&'a str> {
    let (gguf, x, out) = (s(gguf), s(x), s(out));
    vec![
        "gguf", "matmul", gguf, "--tensor", tensor, "--x", x, "-o", out,
    ]
}

/// Names in `dir` other than `keep`: what a command left behind.
fn leftovers(dir: &Path, keep: &[&str]) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !keep.contains(&n.as_str()))
        .collect()
}

/// Asserts `dir` holds nothing but `keep`: no temporaries, no partial outputs.
fn assert_nothing_left(dir: &Path, keep: &[&str]) {
    assert_eq!(
        leftovers(dir, keep),
        Vec::<String>::new(),
        "left in {}",
        dir.display()
    );
}

fn bf16_matrix(rows: usize, cols: usize) -> Vec<u8> {
    (0..rows * cols)
        .flat_map(|i| half::bf16::from_f32((i % 13) as f32 * 0.125 - 0.5).to_le_bytes())
        .collect()
}

/// A BF16 model file with one compressible weight and a norm.
fn bf16_model(path: &Path) {
    let w = bf16_matrix(8, 32);
    let norm = bf16_matrix(1, 32);
    write_tensors(
        path,
        &[
            ("layer.weight", Dtype::BF16, vec![8, 32], &w),
            ("norm.weight", Dtype::BF16, vec![32], &norm),
        ],
    );
}

/// A GGUF file with one Q8_0 tensor `blk.0.ffn_up.weight` of 2 rows × 32 columns.
fn gguf_model(path: &Path) {
    let mut blocks = Vec::new();
    for row in 0..2u8 {
        blocks.extend(half::f16::from_f32(0.5).to_le_bytes());
        blocks.extend((0..32).map(|i| (i as u8).wrapping_sub(16).wrapping_add(row)));
    }
    GgufWriter::new()
        .metadata("general.architecture", Value::String("llama".into()))
        .tensor("blk.0.ffn_up.weight", GgmlType::Q8_0, &[32, 2], blocks)
        .write(path)
        .unwrap();
}

/// A topk input file `x` [1, 5] f32.
fn topk_input(path: &Path) {
    let x: Vec<u8> = [3.0f32, 1.0, 4.0, 1.5, 9.0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    write_tensors(path, &[("x", Dtype::F32, vec![1, 5], &x)]);
}

#[test]
fn row01_compress_with_nothing_to_compress_fails_and_says_what_it_found() {
    let dir = folder("row01");
    let f32_file = dir.join("f32.safetensors");
    let x = vec![0u8; 4 * 6];
    write_tensors(&f32_file, &[("a.weight", Dtype::F32, vec![2, 3], &x)]);
    let out = dir.join("out");
    fails_with(
        &squeeze(&compress(&f32_file, &out, &[])),
        &["nothing to compress", "1 F32 ≥ 2-D"],
    );
    assert!(!out.exists(), "a failed compress leaves no folder");
    // A folder holding a GGUF and an f32 file: nothing to compress either.
    let model = dir.join("model");
    std::fs::create_dir(&model).unwrap();
    gguf_model(&model.join("m.gguf"));
    std::fs::copy(&f32_file, model.join("f32.safetensors")).unwrap();
    for format in ["df11", "native"] {
        fails_with(
            &squeeze(&compress(&model, &out, &["--format", format])),
            &["nothing to compress"],
        );
        assert!(!out.exists());
    }
    assert_nothing_left(&dir, &["f32.safetensors", "model"]);
}

#[test]
fn row02_dequantize_to_a_directory_fails_before_work_and_leaves_nothing() {
    let dir = folder("row02");
    let gguf = dir.join("m.gguf");
    gguf_model(&gguf);
    let target = dir.join("somedir");
    std::fs::create_dir(&target).unwrap();
    fails_with(
        &squeeze(&dequantize(&gguf, &target, &[])),
        &["--output", "is a directory"],
    );
    assert_nothing_left(&dir, &["m.gguf", "somedir"]);
}

#[cfg(unix)]
#[test]
fn row02_interrupted_compress_removes_its_partial_output() {
    let dir = folder("row02-interrupt");
    let input = dir.join("big.safetensors");
    // Large enough that compressing takes seconds on a debug build.
    let w = bf16_matrix(4096, 4096);
    write_tensors(&input, &[("big.weight", Dtype::BF16, vec![4096, 4096], &w)]);
    let out = dir.join("out");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_squeeze"))
        .args(compress(&input, &out, &["--threads", "1"]))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    // Wait until the temporary output folder exists, then interrupt.
    while leftovers(&dir, &["big.safetensors"]).is_empty() {
        assert!(
            started.elapsed().as_secs() < 60,
            "no temporary output appeared"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let signalled = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(signalled.success());
    let done = child.wait_with_output().unwrap();
    assert_eq!(done.status.code(), Some(130), "{}", stderr(&done));
    assert!(stderr(&done).contains("interrupted"), "{}", stderr(&done));
    assert_nothing_left(&dir, &["big.safetensors"]);
}

#[test]
fn row03_conform_filter_matching_nothing_is_an_error_listing_kernels() {
    fails_with(
        &squeeze(&["conform", "nosuchkernel"]),
        &["FILTER", "nosuchkernel", "matches no case", "topk"],
    );
}

#[test]
fn row04_gguf_list_shows_metadata_and_tensors_and_matmul_suggests_names() {
    let dir = folder("row04");
    let gguf = dir.join("m.gguf");
    gguf_model(&gguf);
    let text = succeeds(&squeeze(&["gguf", "list", s(&gguf)]));
    assert!(text.contains("general.architecture = \"llama\""), "{text}");
    assert!(text.contains("blk.0.ffn_up.weight"), "{text}");
    assert!(text.contains("q8_0") || text.contains("Q8_0"), "{text}");
    assert!(text.contains("[2, 32]"), "{text}");
    let x = dir.join("x.safetensors");
    let xs = vec![0u8; 4 * 32];
    write_tensors(&x, &[("x", Dtype::F32, vec![1, 32], &xs)]);
    fails_with(
        &squeeze(&matmul(
            &gguf,
            "blk.0.ffn_up",
            &x,
            &dir.join("y.safetensors"),
        )),
        &["did you mean `blk.0.ffn_up.weight`"],
    );
    fails_with(
        &squeeze(&["gguf", "list", s(&x)]),
        &["FILE", "must be a GGUF file", "a safetensors file"],
    );
}

#[test]
fn row05_parameter_errors_are_plain_english() {
    let dir = folder("row05");
    let input = dir.join("x.safetensors");
    topk_input(&input);
    let out = dir.join("o.safetensors");
    let topk = |extra: &[&str]| squeeze(&run("topk", &input, &out, extra));
    fails_with(
        &topk(&["--set", "k=abc"]),
        &["`k`: value must be a non-negative integer, got `abc`"],
    );
    fails_with(
        &topk(&["--set", "k=2", "--set", "largest=no"]),
        &["`largest`: value must be true or false, got `no`"],
    );
    fails_with(&topk(&["--set", "k="]), &["`k`", "got an empty value"]);
    fails_with(&topk(&[]), &["`k`", "given as --set k=…", "missing"]);
    assert!(!out.exists());
}

/// q [1, 64] and a contiguous k, v [3, 1, 64] f32 for attention-decode.
fn attention_input(path: &Path) {
    let q: Vec<u8> = (0..64)
        .flat_map(|i| (i as f32 / 64.0).to_le_bytes())
        .collect();
    let kv: Vec<u8> = (0..3 * 64)
        .flat_map(|i| ((i % 7) as f32 * 0.1).to_le_bytes())
        .collect();
    write_tensors(
        path,
        &[
            ("q", Dtype::F32, vec![1, 64], &q),
            ("k", Dtype::F32, vec![3, 1, 64], &kv),
            ("v", Dtype::F32, vec![3, 1, 64], &kv),
        ],
    );
}

/// Asserts that `run attention-decode` on [`attention_input`] with `--set SET` fails naming
/// every one of `needles`, and writes no output.
fn attention_decode_fails(set: &str, needles: &[&str]) {
    let dir = folder("attention-decode");
    let input = dir.join("in.safetensors");
    attention_input(&input);
    let out = dir.join("o.safetensors");
    let extra = ["--set", set];
    fails_with(
        &squeeze(&run("attention-decode", &input, &out, &extra)),
        needles,
    );
    assert!(!out.exists(), "{set}: a failed run leaves no output");
}

#[test]
fn row05_sparse_select_without_budget_names_what_is_missing() {
    attention_decode_fails("select=token", &["`budget`", "given with select=token"]);
}

#[test]
fn row06_wrong_kinds_of_input_are_named() {
    let dir = folder("row06");
    let gguf = dir.join("m.gguf");
    gguf_model(&gguf);
    let hf = dir.join("model.safetensors");
    bf16_model(&hf);
    let out = dir.join("o.safetensors");
    fails_with(
        &squeeze(&run("topk", &dir, &out, &["--set", "k=1"])),
        &["`IN`", "must be a safetensors file", "a directory"],
    );
    fails_with(
        &squeeze(&compress(&gguf, &dir.join("out"), &[])),
        &["`IN`", "a GGUF file (starts with the GGUF magic)"],
    );
    fails_with(
        &squeeze(&decompress(&hf, &out, &[])),
        &[
            "`IN`",
            "a DF11 checkpoint folder or native-format safetensors",
            "plain safetensors",
        ],
    );
    fails_with(
        &squeeze(&dequantize(&dir.join("missing.gguf"), &dir.join("o"), &[])),
        &["`FILE`", "does not exist"],
    );
    assert_nothing_left(&dir, &["m.gguf", "model.safetensors"]);
}

#[test]
fn row07_existing_outputs_are_refused_unless_forced() {
    let dir = folder("row07");
    let input = dir.join("x.safetensors");
    topk_input(&input);
    let out = dir.join("o.safetensors");
    std::fs::write(&out, b"keep me").unwrap();
    let topk = |extra: &[&str]| {
        squeeze(&run(
            "topk",
            &input,
            &out,
            &[&["--set", "k=2"], extra].concat(),
        ))
    };
    fails_with(
        &topk(&[]),
        &["`OUT`", "pass --force to replace it", "exists"],
    );
    assert_eq!(std::fs::read(&out).unwrap(), b"keep me");
    succeeds(&topk(&["--force"]));
    assert_ne!(std::fs::read(&out).unwrap(), b"keep me");

    let gguf = dir.join("m.gguf");
    gguf_model(&gguf);
    fails_with(&squeeze(&dequantize(&gguf, &out, &[])), &["--force"]);
    succeeds(&squeeze(&dequantize(&gguf, &out, &["--force"])));

    let model = dir.join("model.safetensors");
    bf16_model(&model);
    let df11 = dir.join("df11");
    std::fs::create_dir(&df11).unwrap(); // an empty folder is accepted
    succeeds(&squeeze(&compress(&model, &df11, &[])));
    fails_with(
        &squeeze(&compress(&model, &df11, &[])),
        &["--output", "exists"],
    );
    succeeds(&squeeze(&compress(&model, &df11, &["--force"])));
    fails_with(&squeeze(&decompress(&df11, &out, &[])), &["--force"]);
    succeeds(&squeeze(&decompress(&df11, &out, &["--force"])));
    // --force never replaces a folder with subfolders (a mistyped -o).
    fails_with(
        &squeeze(&compress(&model, &dir, &["--force"])),
        &["without subfolders"],
    );
}

#[test]
fn row08_outputs_in_missing_directories_name_the_directory() {
    let dir = folder("row08");
    let input = dir.join("x.safetensors");
    topk_input(&input);
    let nodir = dir.join("nodir");
    fails_with(
        &squeeze(&run(
            "topk",
            &input,
            &nodir.join("o.safetensors"),
            &["--set", "k=1"],
        )),
        &["`OUT`", "in an existing directory", "nodir does not exist"],
    );
    let gguf = dir.join("m.gguf");
    gguf_model(&gguf);
    let x = dir.join("xs.safetensors");
    let xs = vec![0u8; 4 * 32];
    write_tensors(&x, &[("x", Dtype::F32, vec![1, 32], &xs)]);
    let y = nodir.join("y.safetensors");
    fails_with(
        &squeeze(&matmul(&gguf, "blk.0.ffn_up.weight", &x, &y)),
        &["--output", "nodir does not exist"],
    );
    let model = dir.join("model.safetensors");
    bf16_model(&model);
    fails_with(
        &squeeze(&compress(&model, &nodir.join("out"), &[])),
        &["--output", "nodir does not exist"],
    );
    assert!(!nodir.exists(), "no parent folder is created");
}

#[test]
fn row10_parameters_the_mode_ignores_are_errors() {
    attention_decode_fails("budget=32", &["`budget`", "unset with select=none"]);
    attention_decode_fails(
        "seq_len=50",
        &["`seq_len`", "unset with a contiguous cache"],
    );
}

#[cfg(unix)]
/// The permission bits of `path`.
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[cfg(unix)]
/// Runs squeeze under `umask 022`.
fn squeeze_umask_022(args: &[&str]) -> Output {
    let mut command = std::process::Command::new("sh");
    command
        .arg("-c")
        .arg("umask 022 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_squeeze"))
        .args(args)
        .env_remove("SQUEEZE_BACKEND")
        .env_remove("SQUEEZE_ADAPTER");
    command.output().unwrap()
}

#[cfg(unix)]
#[test]
fn row11_outputs_follow_the_umask() {
    let dir = folder("row11");
    let input = dir.join("x.safetensors");
    topk_input(&input);
    let out = dir.join("o.safetensors");
    succeeds(&squeeze_umask_022(&run(
        "topk",
        &input,
        &out,
        &["--set", "k=1"],
    )));
    assert_eq!(mode(&out), 0o644);

    let model = dir.join("model.safetensors");
    bf16_model(&model);
    for format in ["df11", "native"] {
        let folder = dir.join(format);
        succeeds(&squeeze_umask_022(&compress(
            &model,
            &folder,
            &["--format", format],
        )));
        assert_eq!(mode(&folder), 0o755, "{format}");
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            assert_eq!(mode(&path), 0o644, "{}", path.display());
        }
        let back = dir.join(format!("{format}.safetensors"));
        succeeds(&squeeze_umask_022(&decompress(&folder, &back, &[])));
        assert_eq!(mode(&back), 0o644, "{format}");
    }
}

#[test]
fn row12_a_backend_without_adapters_lists_what_exists() {
    fails_with(
        &squeeze(&["--backend", "metal", "conform", "topk"]),
        &["backend `metal` has no adapter here; available:"],
    );
}

#[test]
fn row13_help_names_every_command_and_argument() {
    let top = succeeds(&squeeze(&["--help"]));
    assert!(top.contains("matmul"), "{top}");
    let gguf = succeeds(&squeeze(&["gguf", "--help"]));
    for command in ["list", "dequantize", "matmul"] {
        assert!(gguf.contains(command), "{gguf}");
    }
    let compress = succeeds(&squeeze(&["dfloat11", "compress", "--help"]));
    assert!(
        compress.contains("<IN>") && compress.contains("-o, --output <DIR>"),
        "{compress}"
    );
    assert!(
        compress.contains("A BF16 safetensors file, or a folder"),
        "{compress}"
    );
    let run = succeeds(&squeeze(&["run", "--help"]));
    assert!(run.contains("[IN]") && run.contains("[OUT]"), "{run}");
    let list = succeeds(&squeeze(&["run", "--list"]));
    assert!(!list.contains("(default )"), "{list}");
    assert!(
        list.contains(
            "--set k=…  elements kept per row, 1 ≤ k ≤ n: a non-negative integer (required)"
        ),
        "{list}"
    );
    assert!(
        list.contains("a non-negative integer (unset: required by select="),
        "{list}"
    );
}

#[test]
fn row14_compress_copies_companion_files_and_names_the_rest() {
    let dir = folder("row14");
    let model = dir.join("model");
    std::fs::create_dir(&model).unwrap();
    bf16_model(&model.join("model.safetensors"));
    std::fs::write(model.join("config.json"), r#"{"model_type": "llama"}"#).unwrap();
    std::fs::write(model.join("tokenizer.json"), r#"{"model": {}}"#).unwrap();
    std::fs::write(model.join("generation_config.json"), "{}").unwrap();
    gguf_model(&model.join("other.gguf"));
    let out = dir.join("out");
    let done = squeeze(&compress(&model, &out, &[]));
    let text = succeeds(&done);
    assert!(
        text.contains("copied config.json, generation_config.json, tokenizer.json"),
        "{text}"
    );
    assert!(
        stderr(&done).contains("not copied `other.gguf`"),
        "{}",
        stderr(&done)
    );
    assert_eq!(
        std::fs::read(out.join("tokenizer.json")).unwrap(),
        br#"{"model": {}}"#
    );
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["model_type"], "llama");
    assert!(config.get("dfloat11_config").is_some(), "{config}");
    // DF11 → native: the copy keeps the model config but drops `dfloat11_config`, so the
    // native folder is not mistaken for a DF11 one.
    let native = dir.join("native");
    succeeds(&squeeze(&compress(&out, &native, &["--format", "native"])));
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(native.join("config.json")).unwrap())
            .unwrap();
    assert_eq!(config["model_type"], "llama");
    assert!(config.get("dfloat11_config").is_none(), "{config}");
    assert!(native.join("tokenizer.json").is_file());
}

#[test]
fn a_page_size_past_the_binding_limit_is_refused_before_the_cache_is_padded() {
    let needles = ["`page_size`", "max_storage_buffer_binding_size"];
    attention_decode_fails("page_size=1000000", &needles);
}
