//! End-to-end `squeeze dfloat11`: compress a small BF16 safetensors file, decompress it on the GPU
//! and with the CPU reference, and get the original tensors back byte for byte.

use std::path::Path;
use std::process::{Command, Output};

use safetensors::tensor::{SafeTensors, TensorView};
use safetensors::{Dtype, serialize_to_file};

fn squeeze(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_squeeze"))
        .args(args)
        .env_remove("SQUEEZE_BACKEND")
        .env_remove("SQUEEZE_ADAPTER")
        .output()
        .expect("run squeeze")
}

fn ok(out: &Output) -> String {
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// BF16 bytes of rough Gaussian weights with ±0, a subnormal, ±inf and a NaN mixed in.
fn bf16_bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed;
    let mut values: Vec<u16> = (0..n)
        .map(|_| {
            let mut u = 0.0;
            for _ in 0..4 {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                u += (x >> 40) as f64 / (1u64 << 24) as f64;
            }
            (((u - 2.0) * 0.02) as f32).to_bits().wrapping_shr(16) as u16
        })
        .collect();
    for (i, s) in [0x0000u16, 0x8000, 0x0001, 0x7f80, 0xff80, 0x7fc0]
        .iter()
        .enumerate()
    {
        values[i * 7] = *s;
    }
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn write_input(path: &Path) -> Vec<(String, Dtype, Vec<usize>, Vec<u8>)> {
    let tensors = vec![
        (
            "model.layers.0.mlp.up_proj.weight".to_string(),
            Dtype::BF16,
            vec![96, 70],
            bf16_bytes(96 * 70, 1),
        ),
        (
            "model.embed_tokens.weight".to_string(),
            Dtype::BF16,
            vec![50, 33],
            bf16_bytes(50 * 33, 2),
        ),
        (
            "model.norm.weight".to_string(),
            Dtype::BF16,
            vec![70],
            bf16_bytes(70, 3),
        ),
        (
            "scale".to_string(),
            Dtype::F32,
            vec![3],
            [1.0f32, -2.5, 7.0]
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect(),
        ),
    ];
    let views: Vec<(String, TensorView<'_>)> = tensors
        .iter()
        .map(|(n, d, s, b)| (n.clone(), TensorView::new(*d, s.clone(), b).unwrap()))
        .collect();
    serialize_to_file(views, None, path).unwrap();
    tensors
}

fn assert_same(path: &Path, want: &[(String, Dtype, Vec<usize>, Vec<u8>)]) {
    let bytes = std::fs::read(path).unwrap();
    let got = SafeTensors::deserialize(&bytes).unwrap();
    assert_eq!(got.len(), want.len(), "{:?}", got.names());
    for (name, dtype, shape, data) in want {
        let t = got.tensor(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(t.dtype(), *dtype, "{name}");
        assert_eq!(t.shape(), &shape[..], "{name}");
        assert!(t.data() == &data[..], "{name}: bytes differ");
    }
}

#[test]
fn compress_then_decompress_on_gpu_and_cpu_is_lossless() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.safetensors");
    let want = write_input(&input);
    let df11 = dir.path().join("df11");
    let text = ok(&squeeze(&[
        "dfloat11",
        "compress",
        input.to_str().unwrap(),
        "-o",
        df11.to_str().unwrap(),
    ]));
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
    let text = ok(&squeeze(&[
        "dfloat11",
        "decompress",
        df11.to_str().unwrap(),
        "-o",
        gpu_out.to_str().unwrap(),
    ]));
    assert!(text.contains("decoded 8370 weights in 2 units"), "{text}");
    assert_same(&gpu_out, &want);

    let cpu_out = dir.path().join("cpu.safetensors");
    ok(&squeeze(&[
        "dfloat11",
        "decompress",
        df11.to_str().unwrap(),
        "-o",
        cpu_out.to_str().unwrap(),
        "--cpu",
        "--shapes",
        input.to_str().unwrap(),
    ]));
    assert_same(&cpu_out, &want);
    assert!(std::fs::read(&gpu_out).unwrap() == std::fs::read(&cpu_out).unwrap());

    // A second compress into the same folder is refused: the loader would read both.
    let out = squeeze(&[
        "dfloat11",
        "compress",
        input.to_str().unwrap(),
        "-o",
        df11.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
}

#[test]
fn a_folder_without_dfloat11_config_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.json"), "{\"hidden_size\": 8}").unwrap();
    let out = squeeze(&[
        "dfloat11",
        "decompress",
        dir.path().to_str().unwrap(),
        "-o",
        dir.path().join("o.safetensors").to_str().unwrap(),
        "--cpu",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("a folder without `dfloat11_config` in a config.json, nor native files"),
        "{err}"
    );
}

#[test]
fn run_dfloat11_decode_returns_the_original_bf16() {
    let dir = tempfile::tempdir().unwrap();
    let original = bf16_bytes(20_001, 4);
    let e = squeeze::dfloat11::encode(&[&original], squeeze::dfloat11::Layout::DF11, 2).unwrap();
    let input = dir.path().join("unit.safetensors");
    let views = unit_views(&e, &e.luts);
    serialize_to_file(views, None, &input).unwrap();
    let output = dir.path().join("y.safetensors");
    ok(&squeeze(&[
        "run",
        "dfloat11-decode",
        input.to_str().unwrap(),
        output.to_str().unwrap(),
        "--set",
        "threads_per_block=512",
    ]));
    let bytes = std::fs::read(&output).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let y = st.tensor("y").unwrap();
    assert_eq!((y.dtype(), y.shape()), (Dtype::BF16, &[20_001usize][..]));
    assert!(y.data() == &original[..]);

    let list = ok(&squeeze(&["run", "--list"]));
    assert!(
        list.contains("dfloat11-decode:") && list.contains("out y BF16 [n]"),
        "{list}"
    );

    // A corrupt table is a typed error before anything runs.
    let mut luts = e.luts.clone();
    luts[0] = 255;
    luts[256] = 255;
    let views = unit_views(&e, &luts);
    serialize_to_file(views, None, &input).unwrap();
    let out = squeeze(&[
        "run",
        "dfloat11-decode",
        input.to_str().unwrap(),
        output.to_str().unwrap(),
        "--force", // the output of the good run above exists
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("luts table"), "{err}");
}

/// The safetensors views of one encoded unit, with `luts` in place of its tables.
fn unit_views<'a>(
    e: &'a squeeze::dfloat11::Encoded,
    luts: &'a [u8],
) -> Vec<(&'static str, TensorView<'a>)> {
    let bytes = |data: &'a [u8]| TensorView::new(Dtype::U8, vec![data.len()], data).unwrap();
    vec![
        (
            "luts",
            TensorView::new(Dtype::U8, vec![luts.len() / 256, 256], luts).unwrap(),
        ),
        ("encoded_exponent", bytes(&e.encoded_exponent)),
        ("sign_mantissa", bytes(&e.sign_mantissa)),
        ("output_positions", bytes(&e.output_positions)),
        ("gaps", bytes(&e.gaps)),
    ]
}

#[test]
fn run_dfloat11_gemv_matches_the_reference() {
    let dir = tempfile::tempdir().unwrap();
    let (rows, cols, batch) = (7usize, 2857usize, 3usize);
    let original = bf16_bytes(rows * cols, 5);
    let e = squeeze::dfloat11::encode(&[&original], squeeze::dfloat11::Layout::DF11, 2).unwrap();
    let x: Vec<f32> = (0..batch * cols)
        .map(|i| ((i % 13) as f32 - 6.0) / 7.0)
        .collect();
    let input = dir.path().join("unit.safetensors");
    let mut views = unit_views(&e, &e.luts);
    views.push((
        "x",
        TensorView::new(Dtype::F32, vec![batch, cols], bytemuck::cast_slice(&x)).unwrap(),
    ));
    serialize_to_file(views, None, &input).unwrap();
    let output = dir.path().join("y.safetensors");
    ok(&squeeze(&[
        "run",
        "dfloat11-gemv",
        input.to_str().unwrap(),
        output.to_str().unwrap(),
    ]));
    let bytes = std::fs::read(&output).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let y = st.tensor("y").unwrap();
    assert_eq!((y.dtype(), y.shape()), (Dtype::F32, &[batch, rows][..]));
    let got: Vec<f32> = bytemuck::pod_collect_to_vec(y.data());
    let weights: Vec<u16> = bytemuck::pod_collect_to_vec(&original);
    let (want, scale) = squeeze::dfloat11::reference::gemv(&weights, rows, cols, &x, batch);
    for (i, (&g, (&w, &m))) in got.iter().zip(want.iter().zip(&scale)).enumerate() {
        let g = f64::from(g);
        let close = if w.is_finite() {
            (g - w).abs() <= 1e-5 * m
        } else {
            g.is_nan() == w.is_nan() && (w.is_nan() || g == w)
        };
        assert!(close, "y[{i}] = {g}, expected {w}");
    }

    // x with cols that do not divide the unit's weights is a typed error.
    let mut views = unit_views(&e, &e.luts);
    views.push((
        "x",
        TensorView::new(Dtype::F32, vec![1, 2], bytemuck::cast_slice(&x[..2])).unwrap(),
    ));
    serialize_to_file(views, None, &input).unwrap();
    let out = squeeze(&[
        "run",
        "dfloat11-gemv",
        input.to_str().unwrap(),
        output.to_str().unwrap(),
        "--force", // the output of the good run above exists
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("rows × cols"), "{err}");
}
