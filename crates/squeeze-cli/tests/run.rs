//! End-to-end `squeeze run`: tensors in a safetensors file through the real binary, compared
//! with each family's CPU reference.

mod common;

use common::{read_tensor, scratch, squeeze, stderr, stdout, write_tensors};
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
        let out = squeeze(&[
            "run",
            "dequant",
            input.to_str().unwrap(),
            output.to_str().unwrap(),
            "--set",
            &format!("format={format}"),
            "--set",
            &format!("cols={cols}"),
        ]);
        assert!(out.status.success(), "{format}: {}", stderr(&out));
        let (dtype, shape, data) = read_tensor(&output, "y");
        let expected = reference::dequantize(format, &blocks, cols).unwrap();
        assert_eq!((dtype, shape), (Dtype::F32, vec![rows, cols]));
        assert_eq!(
            bytemuck::pod_collect_to_vec::<u8, f32>(&data),
            expected,
            "{format}"
        );
        let _ = std::fs::remove_file(input);
        let _ = std::fs::remove_file(output);
    }
}

#[test]
fn bad_run_arguments_are_errors_naming_the_argument() {
    let input = scratch("bad-run-in.safetensors");
    let output = scratch("bad-run-out.safetensors");
    let blocks = [0u8; 34];
    write_tensors(&input, &[("w", Dtype::U8, vec![1, 34], &blocks)]);
    let (i, o) = (input.to_str().unwrap(), output.to_str().unwrap());
    let cases: [(&[&str], &str); 5] = [
        (&["run", "nope", i, o], "dequant"),
        (&["run", "dequant", i, o, "--set", "cols=32"], "format"),
        (
            &[
                "run",
                "dequant",
                i,
                o,
                "--set",
                "format=q8_0",
                "--set",
                "colz=32",
            ],
            "colz",
        ),
        (
            &[
                "run",
                "dequant",
                i,
                o,
                "--set",
                "format=q4_0",
                "--set",
                "cols=32",
            ],
            "18",
        ),
        (
            &[
                "run",
                "dequant",
                "/nonexistent.safetensors",
                o,
                "--set",
                "format=q8_0",
                "--set",
                "cols=32",
            ],
            "nonexistent",
        ),
    ];
    for (args, needle) in cases {
        let out = squeeze(args);
        assert!(!out.status.success(), "{args:?}");
        assert!(stderr(&out).contains(needle), "{args:?}: {}", stderr(&out));
    }
    let _ = std::fs::remove_file(input);
}
