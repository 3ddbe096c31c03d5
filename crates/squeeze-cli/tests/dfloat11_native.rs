//! End-to-end native format: `squeeze dfloat11 compress --format native`, decompress (format
//! detected) on the GPU and with the CPU reference back to the original bytes, a malformed
//! native file refused with a typed error, and `squeeze run dfloat11-native-decode|gemv`.

mod common;

use common::{read_tensor, squeeze, stderr, stdout, write_tensors};
use safetensors::Dtype;

/// BF16 bytes of rough Gaussian weights with ±0, a subnormal, ±inf and a NaN mixed in.
fn bf16_values(n: usize, seed: u64) -> Vec<u16> {
    let mut x = seed;
    let mut values: Vec<u16> = (0..n)
        .map(|_| {
            let mut u = -2.0;
            for _ in 0..4 {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                u += (x >> 40) as f64 / (1u64 << 24) as f64;
            }
            ((u * 0.02) as f32).to_bits().wrapping_shr(16) as u16
        })
        .collect();
    for (i, s) in [0x0000u16, 0x8000, 0x0001, 0x7f80, 0xff80, 0x7fc0]
        .iter()
        .enumerate()
    {
        values[(i * 7) % n] = *s;
    }
    values
}

fn le(values: &[u16]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn ok(out: &std::process::Output) -> String {
    assert!(out.status.success(), "{}\n{}", stdout(out), stderr(out));
    stdout(out)
}

#[test]
fn compress_native_then_decompress_on_gpu_and_cpu_is_lossless() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("model.safetensors");
    let up = le(&bf16_values(96 * 301, 1));
    let experts = le(&bf16_values(2 * 3 * 129, 2));
    let norm = le(&bf16_values(70, 3));
    let scale: Vec<u8> = [1.0f32, -2.5]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let want: Vec<(&str, Dtype, Vec<usize>, &[u8])> = vec![
        ("layers.0.up.weight", Dtype::BF16, vec![96, 301], &up),
        ("layers.0.experts", Dtype::BF16, vec![2, 3, 129], &experts),
        ("norm.weight", Dtype::BF16, vec![70], &norm),
        ("scale", Dtype::F32, vec![2], &scale),
    ];
    write_tensors(&input, &want);
    let native = dir.path().join("native");
    let text = ok(&squeeze(&[
        "dfloat11",
        "compress",
        input.to_str().unwrap(),
        "-o",
        native.to_str().unwrap(),
        "--format",
        "native",
    ]));
    assert!(
        text.contains("in 2 units") && text.contains("MB native"),
        "{text}"
    );
    let stored = native.join("model.safetensors");
    let (dtype, shape, _) = read_tensor(&stored, "layers.0.up.weight.exponents");
    assert_eq!(dtype, Dtype::U32);
    assert_eq!(shape.len(), 1);
    let (dtype, shape, _) = read_tensor(&stored, "layers.0.up.weight.chunk_offsets");
    assert_eq!((dtype, shape), (Dtype::U16, vec![96 * 3]));

    for (flag, name) in [
        (None, "gpu.safetensors"),
        (Some("--cpu"), "cpu.safetensors"),
    ] {
        let out = dir.path().join(name);
        let mut args = vec![
            "dfloat11",
            "decompress",
            native.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ];
        args.extend(flag);
        let text = ok(&squeeze(&args));
        assert!(text.contains("decoded 29670 native weights"), "{text}");
        for (tensor, dtype, shape, data) in &want {
            let got = read_tensor(&out, tensor);
            assert_eq!((got.0, &got.1), (*dtype, shape), "{tensor}");
            assert!(got.2 == *data, "{tensor}: bytes differ");
        }
    }
    // A single native file decompresses too.
    let out = dir.path().join("file.safetensors");
    ok(&squeeze(&[
        "dfloat11",
        "decompress",
        stored.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]));
    assert!(read_tensor(&out, "layers.0.experts").2 == experts);
}

#[test]
fn a_native_file_of_another_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let e = squeeze::dfloat11::native::encode(&bf16_values(40, 4), 4, 10, 1).unwrap();
    let u = e.unit();
    let views = [
        ("w.lengths", Dtype::U8, u.lengths),
        ("w.exponents", Dtype::U32, u.exponents),
        ("w.sign_mantissa", Dtype::U8, u.sign_mantissa),
        ("w.tile_offsets", Dtype::U32, u.tile_offsets),
        ("w.chunk_offsets", Dtype::U16, u.chunk_offsets),
    ]
    .map(|(n, d, data)| {
        let size = if d == Dtype::U8 {
            1
        } else if d == Dtype::U16 {
            2
        } else {
            4
        };
        (
            n,
            safetensors::tensor::TensorView::new(d, vec![data.len() / size], data).unwrap(),
        )
    });
    let meta = serde_json::json!({
        "version": 2, "chunk_symbols": 128, "tile_chunks": 32, "max_code_bits": 12,
        "weights": {"w": [4, 10]},
    });
    let path = dir.path().join("bad.safetensors");
    let metadata =
        std::collections::HashMap::from([("squeeze_native".to_string(), meta.to_string())]);
    safetensors::serialize_to_file(views, Some(metadata), &path).unwrap();
    let out = squeeze(&[
        "dfloat11",
        "decompress",
        path.to_str().unwrap(),
        "-o",
        dir.path().join("o.safetensors").to_str().unwrap(),
        "--cpu",
    ]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("`version` must be 1"),
        "{}",
        stderr(&out)
    );
}

/// The tensors of one native unit, `W.`-less as `squeeze run` reads them, plus `extra`.
fn write_unit(
    path: &std::path::Path,
    e: &squeeze::dfloat11::native::NativeEncoded,
    extra: Option<(&[usize], &[u8])>,
) {
    let u = e.unit();
    let mut tensors: Vec<(&str, Dtype, Vec<usize>, &[u8])> = vec![
        ("lengths", Dtype::U8, vec![256], u.lengths),
        (
            "exponents",
            Dtype::U32,
            vec![e.exponents.len()],
            u.exponents,
        ),
        (
            "sign_mantissa",
            Dtype::U8,
            vec![u.sign_mantissa.len()],
            u.sign_mantissa,
        ),
        (
            "tile_offsets",
            Dtype::U32,
            vec![e.tile_offsets.len()],
            u.tile_offsets,
        ),
        (
            "chunk_offsets",
            Dtype::U16,
            vec![e.chunk_offsets.len()],
            u.chunk_offsets,
        ),
    ];
    if let Some((shape, data)) = extra {
        tensors.push(("x", Dtype::F32, shape.to_vec(), data));
    }
    write_tensors(path, &tensors);
}

#[test]
fn run_native_decode_and_gemv() {
    let dir = tempfile::tempdir().unwrap();
    let (rows, cols, batch) = (7usize, 2857usize, 3usize);
    let values = bf16_values(rows * cols, 5);
    let e = squeeze::dfloat11::native::encode(&values, rows, cols, 2).unwrap();
    let input = dir.path().join("unit.safetensors");
    let output = dir.path().join("y.safetensors");
    write_unit(&input, &e, None);
    ok(&squeeze(&[
        "run",
        "dfloat11-native-decode",
        input.to_str().unwrap(),
        output.to_str().unwrap(),
        "--set",
        &format!("cols={cols}"),
    ]));
    let (dtype, shape, data) = read_tensor(&output, "y");
    assert_eq!((dtype, shape), (Dtype::BF16, vec![rows, cols]));
    assert!(data == le(&values));

    let x: Vec<f32> = (0..batch * cols)
        .map(|i| ((i % 13) as f32 - 6.0) / 7.0)
        .collect();
    write_unit(&input, &e, Some((&[batch, cols], bytemuck::cast_slice(&x))));
    ok(&squeeze(&[
        "run",
        "dfloat11-native-gemv",
        input.to_str().unwrap(),
        output.to_str().unwrap(),
        "--force", // the decode run above wrote it
    ]));
    let (dtype, shape, data) = read_tensor(&output, "y");
    assert_eq!((dtype, shape), (Dtype::F32, vec![batch, rows]));
    let got: Vec<f32> = bytemuck::pod_collect_to_vec(&data);
    let (want, scale) = squeeze::dfloat11::reference::gemv(&values, rows, cols, &x, batch);
    for (i, (&g, (&w, &m))) in got.iter().zip(want.iter().zip(&scale)).enumerate() {
        let g = f64::from(g);
        let close = if w.is_finite() {
            (g - w).abs() <= 1e-5 * m
        } else {
            g.is_nan() == w.is_nan() && (w.is_nan() || g == w)
        };
        assert!(close, "y[{i}] = {g}, expected {w}");
    }

    let list = ok(&squeeze(&["run", "--list"]));
    assert!(
        list.contains("dfloat11-native-decode:") && list.contains("dfloat11-native-gemv:"),
        "{list}"
    );

    // Corrupt offsets are a typed error before anything runs.
    let mut bad = e.clone();
    bad.chunk_offsets[1] = 0;
    write_unit(&input, &bad, None);
    let out = squeeze(&[
        "run",
        "dfloat11-native-decode",
        input.to_str().unwrap(),
        output.to_str().unwrap(),
        "--force",
        "--set",
        &format!("cols={cols}"),
    ]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("native unit `input`: chunk 0"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn df11_and_native_convert_into_each_other_losslessly() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("model.safetensors");
    let w = le(&bf16_values(33 * 517, 6));
    let want: Vec<(&str, Dtype, Vec<usize>, &[u8])> =
        vec![("layers.1.down.weight", Dtype::BF16, vec![33, 517], &w)];
    write_tensors(&input, &want);
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let run = |args: &[&str]| ok(&squeeze(args));
    run(&[
        "dfloat11",
        "compress",
        &path("model.safetensors"),
        "-o",
        &path("df11"),
    ]);
    run(&[
        "dfloat11",
        "compress",
        &path("df11"),
        "-o",
        &path("native"),
        "--format",
        "native",
    ]);
    run(&[
        "dfloat11",
        "compress",
        &path("native"),
        "-o",
        &path("df11_again"),
    ]);
    for (from, out) in [("native", "a.safetensors"), ("df11_again", "b.safetensors")] {
        run(&[
            "dfloat11",
            "decompress",
            &path(from),
            "-o",
            &path(out),
            "--cpu",
        ]);
        let got = read_tensor(&dir.path().join(out), "layers.1.down.weight");
        assert_eq!((got.0, &got.1), (Dtype::BF16, &vec![33, 517]), "{from}");
        assert!(got.2 == w, "{from}: bytes differ");
    }
}
