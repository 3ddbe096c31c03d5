//! End-to-end `squeeze dfloat11`: compress a small BF16 safetensors file, decompress it on the GPU
//! and with the CPU reference, and get the original tensors back byte for byte.

mod common;

use std::path::Path;

use common::{
    Entry, assert_gemv_output, assert_tensors, bf16_values, compress, decompress, fails_with, flat,
    le_bytes, read_tensor, run, s, squeeze, succeeds, write_tensors,
};
use safetensors::Dtype;
use squeeze::dfloat11::{Encoded, Layout, encode};

#[test]
fn compress_then_decompress_on_gpu_and_cpu_is_lossless() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.safetensors");
    let (up, embed, norm) = (
        le_bytes(&bf16_values(96 * 70, 1)),
        le_bytes(&bf16_values(50 * 33, 2)),
        le_bytes(&bf16_values(70, 3)),
    );
    let scale: Vec<u8> = [1.0f32, -2.5, 7.0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let want: Vec<Entry> = vec![
        (
            "model.layers.0.mlp.up_proj.weight",
            Dtype::BF16,
            vec![96, 70],
            &up,
        ),
        (
            "model.embed_tokens.weight",
            Dtype::BF16,
            vec![50, 33],
            &embed,
        ),
        ("model.norm.weight", Dtype::BF16, vec![70], &norm),
        ("scale", Dtype::F32, vec![3], &scale),
    ];
    write_tensors(&input, &want);
    let df11 = dir.path().join("df11");
    let text = succeeds(&squeeze(&compress(&input, &df11, &[])));
    assert!(
        text.contains("bits per weight") && text.contains("MB/s"),
        "{text}"
    );
    assert!(
        df11.join("model_layers_0_mlp_up_proj.safetensors")
            .is_file()
    );
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(df11.join("config.json")).unwrap()).unwrap();
    let dc = &config["dfloat11_config"];
    assert_eq!(dc["threads_per_block"], serde_json::json!([512]));
    assert_eq!(dc["bytes_per_thread"], 8);
    assert!(
        dc["pattern_dict"]["model\\.embed_tokens"].is_array(),
        "{dc}"
    );

    let gpu_out = dir.path().join("gpu.safetensors");
    let text = succeeds(&squeeze(&decompress(&df11, &gpu_out, &[])));
    assert!(text.contains("decoded 8370 weights in 2 units"), "{text}");
    assert_tensors(&gpu_out, &want);

    let cpu_out = dir.path().join("cpu.safetensors");
    succeeds(&squeeze(&decompress(
        &df11,
        &cpu_out,
        &["--cpu", "--shapes", s(&input)],
    )));
    assert_tensors(&cpu_out, &want);
    assert!(std::fs::read(&gpu_out).unwrap() == std::fs::read(&cpu_out).unwrap());

    // A second compress into the same folder is refused: the loader would read both.
    fails_with(&squeeze(&compress(&input, &df11, &[])), &["exists"]);
}

#[test]
fn a_folder_without_dfloat11_config_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.json"), "{\"hidden_size\": 8}").unwrap();
    let out = dir.path().join("o.safetensors");
    fails_with(
        &squeeze(&decompress(dir.path(), &out, &["--cpu"])),
        &["a folder without `dfloat11_config` in a config.json, nor native files"],
    );
}

/// Writes one encoded unit as `squeeze run` reads it, with `luts` in place of its tables and
/// the activations `x` [batch, cols] if given.
fn write_unit(path: &Path, e: &Encoded, luts: &[u8], x: Option<(&[usize], &[f32])>) {
    let mut tensors = vec![
        ("luts", Dtype::U8, vec![luts.len() / 256, 256], luts),
        flat("encoded_exponent", Dtype::U8, &e.encoded_exponent),
        flat("sign_mantissa", Dtype::U8, &e.sign_mantissa),
        flat("output_positions", Dtype::U8, &e.output_positions),
        flat("gaps", Dtype::U8, &e.gaps),
    ];
    if let Some((shape, x)) = x {
        tensors.push(("x", Dtype::F32, shape.to_vec(), bytemuck::cast_slice(x)));
    }
    write_tensors(path, &tensors);
}

#[test]
fn run_dfloat11_decode_returns_the_original_bf16() {
    let dir = tempfile::tempdir().unwrap();
    let original = le_bytes(&bf16_values(20_001, 4));
    let e = encode(&[&original], Layout::DF11, 2).unwrap();
    let input = dir.path().join("unit.safetensors");
    write_unit(&input, &e, &e.luts, None);
    let output = dir.path().join("y.safetensors");
    let decode = |extra: &[&str]| squeeze(&run("dfloat11-decode", &input, &output, extra));
    succeeds(&decode(&["--set", "threads_per_block=512"]));
    let (dtype, shape, data) = read_tensor(&output, "y");
    assert_eq!((dtype, shape), (Dtype::BF16, vec![20_001]));
    assert!(data == original);

    let list = succeeds(&squeeze(&["run", "--list"]));
    assert!(
        list.contains("dfloat11-decode:") && list.contains("out y BF16 [n]"),
        "{list}"
    );

    // A corrupt table is a typed error before anything runs.
    let mut luts = e.luts.clone();
    luts[0] = 255;
    luts[256] = 255;
    write_unit(&input, &e, &luts, None);
    // --force: the output of the good run above exists.
    fails_with(&decode(&["--force"]), &["luts table"]);
}

#[test]
fn run_dfloat11_gemv_matches_the_reference() {
    let dir = tempfile::tempdir().unwrap();
    let (rows, cols, batch) = (7usize, 2857usize, 3usize);
    let weights = bf16_values(rows * cols, 5);
    let e = encode(&[&le_bytes(&weights)], Layout::DF11, 2).unwrap();
    let x: Vec<f32> = (0..batch * cols)
        .map(|i| ((i % 13) as f32 - 6.0) / 7.0)
        .collect();
    let input = dir.path().join("unit.safetensors");
    write_unit(&input, &e, &e.luts, Some((&[batch, cols], &x)));
    let output = dir.path().join("y.safetensors");
    let gemv = |extra: &[&str]| squeeze(&run("dfloat11-gemv", &input, &output, extra));
    succeeds(&gemv(&[]));
    assert_gemv_output(&output, &weights, (rows, cols), &x);

    // x with cols that do not divide the unit's weights is a typed error.
    write_unit(&input, &e, &e.luts, Some((&[1, 2], &x[..2])));
    // --force: the output of the good run above exists.
    fails_with(&gemv(&["--force"]), &["rows × cols"]);
}
