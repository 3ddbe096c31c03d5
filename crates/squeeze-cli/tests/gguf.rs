//! End-to-end `squeeze gguf dequantize`: a GGUF file made with squeeze's writer, converted by the
//! real binary on this machine's adapter, read back with the `safetensors` crate and compared
//! bit for bit with the CPU reference.

mod common;

use std::path::Path;
use std::process::Output;

use common::{read_tensor, squeeze, stderr, stdout};
use half::{bf16, f16};
use safetensors::Dtype;
use squeeze::quant::gguf::{GgmlType, GgufWriter, Value};
use squeeze::quant::{Format, reference};

fn text(o: &Output) -> String {
    format!("{}{}", stdout(o), stderr(o))
}

/// A fresh folder for one test's files, removed when it drops.
fn scratch(test: &str) -> common::Scratch {
    common::folder(&format!("gguf-{test}"))
}

/// `squeeze gguf dequantize GGUF -o OUT [extra]`.
fn dequantize(gguf: &Path, out: &Path, extra: &[&str]) -> Output {
    let (gguf, out) = (gguf.to_str().unwrap(), out.to_str().unwrap());
    let mut args = vec!["gguf", "dequantize", gguf, "-o", out];
    args.extend_from_slice(extra);
    squeeze(&args)
}

fn weights(n: usize, seed: u32) -> Vec<f32> {
    (0..n as u32)
        .map(|i| ((i.wrapping_mul(2_654_435_761) ^ seed) % 2001) as f32 / 250.0 - 4.0)
        .collect()
}

/// f32 bits with every NaN made one NaN (random blocks may have NaN scales).
fn canonical(v: &[f32]) -> Vec<u32> {
    v.iter()
        .map(|x| if x.is_nan() { 0x7fc0_0000 } else { x.to_bits() })
        .collect()
}

/// `(name, ggml type, dims innermost first, raw data, the f32 values squeeze must write)`.
type Case = (String, GgmlType, Vec<u64>, Vec<u8>, Vec<f32>);

/// Blocks quantized by squeeze's quantizer where it has one, else random bytes.
fn blocks(format: Format, dims: &[u64]) -> Vec<u8> {
    let n = dims.iter().product::<u64>() as usize;
    reference::quantize(format, &weights(n, dims[0] as u32)).unwrap_or_else(|_| {
        let len = n / format.block_weights() * format.block_bytes();
        (0..len as u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect()
    })
}

fn cases() -> Vec<Case> {
    let mut shapes = vec![
        ("blk.0.q8_0".to_string(), Format::Q8_0, vec![64u64, 5]),
        ("blk.0.q4_0".into(), Format::Q4_0, vec![32, 3]),
        ("blk.0.q4_1.3d".into(), Format::Q4_1, vec![96, 2, 3]),
        ("one_block".into(), Format::Q8_0, vec![32]),
    ];
    // Every format squeeze dequantizes, so each one added is covered end to end.
    for format in Format::ALL {
        let bw = format.block_weights() as u64;
        shapes.push((format!("every.{format}"), format, vec![2 * bw, 3]));
    }
    let mut out = Vec::new();
    for (name, format, dims) in shapes {
        let data = blocks(format, &dims);
        let want = reference::dequantize(format, &data, dims[0] as usize).unwrap();
        let ty = GgmlType::from_id(format.ggml_type()).unwrap();
        out.push((name, ty, dims, data, want));
    }
    let specials = [
        0.0f32,
        -0.0,
        1.5,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        1e-40,
    ];
    out.push((
        "norm.f32".into(),
        GgmlType::F32,
        vec![7],
        specials.iter().flat_map(|v| v.to_le_bytes()).collect(),
        specials.to_vec(),
    ));
    let halves: Vec<f16> = weights(6, 9).iter().map(|&v| f16::from_f32(v)).collect();
    out.push((
        "emb.f16".into(),
        GgmlType::F16,
        vec![3, 2],
        halves.iter().flat_map(|v| v.to_le_bytes()).collect(),
        halves.iter().map(|v| v.to_f32()).collect(),
    ));
    let brains: Vec<bf16> = specials.iter().map(|&v| bf16::from_f32(v)).collect();
    out.push((
        "out.bf16".into(),
        GgmlType::Bf16,
        vec![7, 1],
        brains.iter().flat_map(|v| v.to_le_bytes()).collect(),
        brains.iter().map(|v| v.to_f32()).collect(),
    ));
    out
}

fn write_gguf(path: &Path, cases: &[Case], extra: Option<(&str, GgmlType, &[u64], Vec<u8>)>) {
    let mut w = GgufWriter::new().metadata("general.architecture", Value::String("test".into()));
    for (name, ty, dims, data, _) in cases {
        w = w.tensor(name.clone(), *ty, dims, data.clone());
    }
    if let Some((name, ty, dims, data)) = extra {
        w = w.tensor(name, ty, dims, data);
    }
    w.write(path).unwrap();
}

fn check_output(path: &Path, cases: &[Case]) {
    let bytes = std::fs::read(path).unwrap();
    let names = safetensors::SafeTensors::deserialize(&bytes)
        .unwrap()
        .names()
        .len();
    assert_eq!(names, cases.len());
    for (name, _, dims, _, want) in cases {
        let (dtype, shape, data) = read_tensor(path, name);
        assert_eq!(dtype, Dtype::F32, "{name}");
        let want_shape: Vec<usize> = dims.iter().rev().map(|&d| d as usize).collect();
        assert_eq!(shape, want_shape, "{name}");
        let got: Vec<f32> = data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        assert_eq!(canonical(&got), canonical(want), "{name}");
    }
}

#[test]
fn dequantize_writes_every_tensor_as_f32_equal_to_the_cpu_reference() {
    let dir = scratch("all");
    let (gguf, out) = (dir.join("model.gguf"), dir.join("model.safetensors"));
    let cases = cases();
    write_gguf(&gguf, &cases, None);
    let o = dequantize(&gguf, &out, &[]);
    assert!(o.status.success(), "{}", text(&o));
    let wrote = format!("wrote {} tensors", cases.len());
    assert!(text(&o).contains(&wrote), "{}", text(&o));
    check_output(&out, &cases);
}

#[test]
fn unsupported_types_fail_by_name_unless_skipped() {
    let dir = scratch("unsupported");
    let (gguf, out) = (dir.join("model.gguf"), dir.join("model.safetensors"));
    let cases = cases();
    write_gguf(
        &gguf,
        &cases,
        Some(("blk.1.iq2_xxs", GgmlType::Iq2Xxs, &[256, 2], vec![0; 132])),
    );
    let o = dequantize(&gguf, &out, &[]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("tensor `blk.1.iq2_xxs` is iq2_xxs (ggml type 16), which squeeze cannot convert to f32 yet"),
        "{}",
        text(&o)
    );
    assert!(!out.exists() && !dir.join("model.safetensors.partial").exists());

    let o = dequantize(&gguf, &out, &["--skip-unsupported"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("skipping tensor `blk.1.iq2_xxs`"),
        "{}",
        text(&o)
    );
    check_output(&out, &cases);
}

#[test]
fn corrupt_files_are_reported_not_converted() {
    let dir = scratch("corrupt");
    let (gguf, out) = (dir.join("model.gguf"), dir.join("model.safetensors"));
    write_gguf(&gguf, &cases(), None);
    let bytes = std::fs::read(&gguf).unwrap();
    std::fs::write(&gguf, &bytes[..bytes.len() - 64]).unwrap();
    let o = dequantize(&gguf, &out, &[]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("must lie inside the file"),
        "{}",
        text(&o)
    );
    assert!(!out.exists());
}

/// A tensor whose f32 output (4096 × 8448 × 4 B = 132 MiB) exceeds lavapipe's 128 MiB storage
/// binding: it must be split across dispatches, not rejected. Ignored by default for its size;
/// run with `cargo test -p squeeze-cli --test gguf -- --ignored`.
#[test]
#[ignore = "writes ~170 MB; run with --ignored"]
fn a_tensor_over_the_binding_limit_is_split_not_rejected() {
    let dir = scratch("big");
    let (gguf, out) = (dir.join("big.gguf"), dir.join("big.safetensors"));
    let dims = vec![4096u64, 8448];
    let data = reference::quantize(Format::Q8_0, &weights(4096 * 8448, 5)).unwrap();
    let want = reference::dequantize(Format::Q8_0, &data, 4096).unwrap();
    let case = ("big".to_string(), GgmlType::Q8_0, dims, data, want);
    write_gguf(&gguf, std::slice::from_ref(&case), None);
    let o = dequantize(&gguf, &out, &[]);
    assert!(o.status.success(), "{}", text(&o));
    check_output(&out, &[case]);
}

/// `squeeze gguf matmul GGUF --tensor NAME --x X -o OUT --force` (tests reuse one OUT).
fn matmul(gguf: &Path, tensor: &str, x: &Path, out: &Path) -> Output {
    let (gguf, x, out) = (
        gguf.to_str().unwrap(),
        x.to_str().unwrap(),
        out.to_str().unwrap(),
    );
    squeeze(&[
        "gguf", "matmul", gguf, "--tensor", tensor, "--x", x, "-o", out, "--force",
    ])
}

#[test]
fn matmul_matches_the_f64_reference_for_f32_f16_and_bf16_activations() {
    let dir = scratch("matmul");
    let (gguf, xs, out) = (
        dir.join("model.gguf"),
        dir.join("x.safetensors"),
        dir.join("y.safetensors"),
    );
    let cases = cases();
    write_gguf(&gguf, &cases, None);
    for (name, _, dims, _, w) in cases.iter().filter(|c| c.0.starts_with("every.")) {
        let format: Format = name.trim_start_matches("every.").parse().unwrap();
        let cols = dims[0] as usize;
        for (dtype, batch) in [(Dtype::F32, 1), (Dtype::F16, 3), (Dtype::BF16, 10)] {
            let x32: Vec<f32> = weights(batch * cols, batch as u32)
                .iter()
                .map(|v| f16::from_f32(v / 4.0).to_f32())
                .collect();
            let bytes: Vec<u8> = match dtype {
                Dtype::F32 => x32.iter().flat_map(|v| v.to_le_bytes()).collect(),
                Dtype::F16 => x32
                    .iter()
                    .flat_map(|v| f16::from_f32(*v).to_le_bytes())
                    .collect(),
                _ => x32
                    .iter()
                    .flat_map(|v| bf16::from_f32(*v).to_le_bytes())
                    .collect(),
            };
            let x_used: Vec<f32> = match dtype {
                Dtype::BF16 => x32.iter().map(|v| bf16::from_f32(*v).to_f32()).collect(),
                _ => x32.clone(),
            };
            common::write_tensors(&xs, &[("x", dtype, vec![batch, cols], &bytes)]);
            let o = matmul(&gguf, name, &xs, &out);
            assert!(o.status.success(), "{}", text(&o));
            let (ydtype, shape, ybytes) = read_tensor(&out, "y");
            assert_eq!((ydtype, shape), (Dtype::F32, vec![batch, 3]), "{name}");
            let got: Vec<f32> = bytemuck::pod_collect_to_vec(&ybytes);
            let (want, magnitude) = reference::matmul(w, cols, &x_used);
            for (i, ((&g, &w), &m)) in got.iter().zip(&want).zip(&magnitude).enumerate() {
                let ok = if w.is_finite() {
                    (f64::from(g) - w).abs() <= 1e-5 * m + 1e-30
                } else {
                    g.is_nan() == w.is_nan() && (w.is_nan() || f64::from(g) == w)
                };
                assert!(
                    ok,
                    "{format} {dtype:?} batch {batch}: y[{i}] = {g}, expected {w}"
                );
            }
        }
    }
}

#[test]
fn matmul_errors_name_the_tensor_or_argument() {
    let dir = scratch("matmul-errors");
    let (gguf, xs, out) = (
        dir.join("model.gguf"),
        dir.join("x.safetensors"),
        dir.join("y.safetensors"),
    );
    write_gguf(&gguf, &cases(), None);
    let x = vec![0u8; 4 * 64];
    common::write_tensors(&xs, &[("x", Dtype::F32, vec![1, 64], &x)]);
    for (tensor, message) in [
        ("nope", "tensor `nope` not found"),
        ("norm.f32", "which squeeze cannot multiply"),
        ("blk.0.q4_0", "[batch, 32] (the row length of `blk.0.q4_0`)"),
        ("blk.0.q4_1.3d", "matmul needs a 2-D weight matrix"),
    ] {
        let o = matmul(&gguf, tensor, &xs, &out);
        assert!(!o.status.success(), "{tensor}");
        assert!(text(&o).contains(message), "{tensor}: {}", text(&o));
    }
    common::write_tensors(
        &xs,
        &[
            ("a", Dtype::F32, vec![1, 64], &x),
            ("b", Dtype::F32, vec![1, 64], &x),
        ],
    );
    let o = matmul(&gguf, "blk.0.q8_0", &xs, &out);
    assert!(
        text(&o).contains("a tensor named `x`, or exactly one tensor"),
        "{}",
        text(&o)
    );
}
