//! End-to-end `squeeze run`: tensors in a safetensors file through the real binary, compared
//! with each family's CPU reference.

mod common;

use common::{
    fails_with, read_tensor, run, scratch, sets, squeeze, stderr, stdout, succeeds, write_tensors,
};
use safetensors::Dtype;
use squeeze_quant::reference;

#[test]
fn list_names_every_kernel_with_tensors_and_parameters() {
    let out = squeeze(&["run", "--list"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("dequant:"), "{text}");
    assert!(text.contains("in  w U8"), "{text}");
    assert!(text.contains("--set format="), "{text}");
    assert!(text.contains("out y F32 [rows, cols]"), "{text}");
}

#[test]
fn dequant_equals_the_cpu_reference_for_every_format() {
    let (rows, cols) = (3, 96);
    let weights: Vec<f32> = (0..rows * cols)
        .map(|i| ((i * 37 % 101) as f32 - 50.0) / 7.0)
        .collect();
    for format in reference::QUANTIZERS {
        let blocks = reference::quantize(format, &weights).unwrap();
        let input = scratch(&format!("dequant-{format}-in.safetensors"));
        let output = scratch(&format!("dequant-{format}-out.safetensors"));
        let row_bytes = format.row_bytes(cols).unwrap();
        write_tensors(&input, &[("w", Dtype::U8, vec![rows, row_bytes], &blocks)]);
        let (format_set, cols_set) = (format!("format={format}"), format!("cols={cols}"));
        let extra = sets(&[&format_set, &cols_set]);
        let out = squeeze(&run("dequant", &input, &output, &extra));
        assert!(out.status.success(), "{format}: {}", stderr(&out));
        let (dtype, shape, data) = read_tensor(&output, "y");
        let expected = reference::dequantize(format, &blocks, cols).unwrap();
        assert_eq!((dtype, shape), (Dtype::F32, vec![rows, cols]));
        assert_eq!(
            bytemuck::pod_collect_to_vec::<u8, f32>(&data),
            expected,
            "{format}"
        );
    }
}

#[test]
fn bad_run_arguments_are_errors_naming_the_argument() {
    let input = scratch("bad-run-in.safetensors");
    let output = scratch("bad-run-out.safetensors");
    let blocks = [0u8; 34];
    write_tensors(&input, &[("w", Dtype::U8, vec![1, 34], &blocks)]);
    let missing = std::path::Path::new("/nonexistent.safetensors");
    let cases = [
        (run("nope", &input, &output, &[]), "dequant"),
        (
            run("dequant", &input, &output, &sets(&["cols=32"])),
            "format",
        ),
        (
            run(
                "dequant",
                &input,
                &output,
                &sets(&["format=q8_0", "colz=32"]),
            ),
            "colz",
        ),
        (
            run(
                "dequant",
                &input,
                &output,
                &sets(&["format=q4_0", "cols=32"]),
            ),
            "18",
        ),
        (
            run(
                "dequant",
                missing,
                &output,
                &sets(&["format=q8_0", "cols=32"]),
            ),
            "nonexistent",
        ),
    ];
    for (args, needle) in cases {
        fails_with(&squeeze(&args), &[needle]);
    }
}

/// y = x · Wᵀ through the binary: GGUF q4_0 at batch 3 (GEMV) and affine int4 with zero points
/// at batch 10 (GEMM), each within 1e-5 · Σ|w·x| of the f64 reference.
#[test]
fn matmul_matches_the_f64_reference_for_gemv_and_gemm_batches() {
    use squeeze_quant::{Affine, affine};
    let (rows, cols) = (5, 128);
    let w: Vec<f32> = (0..rows * cols)
        .map(|i| ((i * 53 % 97) as f32 - 48.0) / 300.0)
        .collect();
    let affine_scheme = Affine::new(4, 64, true).unwrap();
    let packed = affine::quantize(affine_scheme, &w, cols).unwrap();
    let blocks = reference::quantize(squeeze_quant::Format::Q4_0, &w).unwrap();
    let zeros = packed.zeros.clone().unwrap();
    let cases: [(&str, usize, Vec<f32>); 2] = [
        (
            "q4_0",
            3,
            reference::dequantize(squeeze_quant::Format::Q4_0, &blocks, cols).unwrap(),
        ),
        (
            "int4",
            10,
            affine::dequantize(affine_scheme, packed.as_ref(), cols).unwrap(),
        ),
    ];
    for (format, batch, dequantized) in cases {
        let x: Vec<f32> = (0..batch * cols)
            .map(|i| ((i * 31 % 89) as f32 - 44.0) / 50.0)
            .collect();
        let input = scratch(&format!("matmul-{format}-in.safetensors"));
        let output = scratch(&format!("matmul-{format}-out.safetensors"));
        let x_bytes: &[u8] = bytemuck::cast_slice(&x);
        let mut tensors = vec![("x", Dtype::F32, vec![batch, cols], x_bytes)];
        let mut args = vec![format!("format={format}")];
        if format == "q4_0" {
            let row_bytes = blocks.len() / rows;
            tensors.push(("w", Dtype::U8, vec![rows, row_bytes], &blocks));
            args.push(format!("cols={cols}"));
        } else {
            tensors.extend([
                (
                    "qweight",
                    Dtype::U32,
                    vec![rows, cols / 8],
                    bytemuck::cast_slice(&packed.qweight),
                ),
                (
                    "scales",
                    Dtype::F16,
                    vec![rows, cols / 64],
                    bytemuck::cast_slice(&packed.scales),
                ),
                (
                    "zeros",
                    Dtype::F16,
                    vec![rows, cols / 64],
                    bytemuck::cast_slice(&zeros),
                ),
            ]);
            args.push("group=64".to_string());
        }
        write_tensors(&input, &tensors);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = squeeze(&run("matmul", &input, &output, &sets(&args)));
        assert!(out.status.success(), "{format}: {}", stderr(&out));
        let (dtype, shape, data) = read_tensor(&output, "y");
        assert_eq!((dtype, shape), (Dtype::F32, vec![batch, rows]));
        let got: Vec<f32> = bytemuck::pod_collect_to_vec(&data);
        let (want, magnitude) = reference::matmul(&dequantized, cols, &x);
        for (i, ((g, w), m)) in got.iter().zip(&want).zip(&magnitude).enumerate() {
            assert!(
                (f64::from(*g) - w).abs() <= 1e-5 * m + 1e-30,
                "{format} y[{i}] = {g}, expected {w}"
            );
        }
    }
}

#[test]
fn topk_equals_the_cpu_reference_with_ties_nan_and_lengths() {
    use half::bf16;
    use squeeze::topk::{Order, reference::top_k};
    let (rows, n, k) = (3usize, 70usize, 9usize);
    let x: Vec<bf16> = (0..rows * n)
        .map(|i| match i % 11 {
            0 => bf16::NAN,
            1 => bf16::NEG_INFINITY,
            2 => bf16::from_f32(-0.0),
            _ => bf16::from_f32((i * 7 % 13) as f32 - 6.0),
        })
        .collect();
    let lengths = [70i32, 5, 0];
    let input = scratch("topk-in.safetensors");
    let output = scratch("topk-out.safetensors");
    write_tensors(
        &input,
        &[
            ("x", Dtype::BF16, vec![rows, n], bytemuck::cast_slice(&x)),
            (
                "lengths",
                Dtype::I32,
                vec![rows],
                bytemuck::cast_slice(&lengths),
            ),
        ],
    );
    for (largest, order) in [("true", Order::Largest), ("false", Order::Smallest)] {
        let (k_set, largest_set) = (format!("k={k}"), format!("largest={largest}"));
        // --force: one output for both orders.
        let extra = [&["--force"], &sets(&[&k_set, &largest_set])[..]].concat();
        succeeds(&squeeze(&run("topk", &input, &output, &extra)));
        let (want_values, want_indices) = top_k(&x, n, k, order, Some(&[70, 5, 0])).unwrap();
        let (dtype, shape, data) = read_tensor(&output, "indices");
        assert_eq!((dtype, shape), (Dtype::I32, vec![rows, k]));
        assert_eq!(bytemuck::pod_collect_to_vec::<u8, i32>(&data), want_indices);
        let (dtype, shape, data) = read_tensor(&output, "values");
        assert_eq!((dtype, shape), (Dtype::BF16, vec![rows, k]));
        let want: Vec<u16> = want_values.iter().map(|v| v.to_bits()).collect();
        assert_eq!(bytemuck::pod_collect_to_vec::<u8, u16>(&data), want);
    }
    let extra = ["--force", "--set", "k=71"];
    fails_with(&squeeze(&run("topk", &input, &output, &extra)), &["`k`"]);
}
