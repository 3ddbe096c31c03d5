//! Checkpoint folders: a reference-style unit holding several weights (cut by `pattern_dict` and
//! `split_positions`), pass-through tensors, compress → decompress round trips on the CPU, and
//! typed errors for missing config keys and incomplete units.

use std::collections::HashMap;
use std::path::Path;

use safetensors::tensor::{SafeTensors, TensorView};
use safetensors::{Dtype, serialize_to_file};
use squeeze_dfloat11::checkpoint::Checkpoint;
use squeeze_dfloat11::decompress::{Decoder, decompress};
use squeeze_dfloat11::shapes::ShapeMap;
use squeeze_dfloat11::{Df11Error, Layout, compress::compress, encode};

fn bf16(n: usize, seed: u16) -> Vec<u8> {
    (0..n)
        .flat_map(|i| {
            let e = 118 + ((i as u16).wrapping_mul(seed) % 11);
            ((e << 7) | (i as u16 % 128) | ((i as u16 & 1) << 15)).to_le_bytes()
        })
        .collect()
}

fn write(path: &Path, tensors: &[(&str, Dtype, Vec<usize>, &[u8])]) {
    let views: Vec<_> = tensors
        .iter()
        .map(|(n, d, s, b)| (n.to_string(), TensorView::new(*d, s.clone(), b).unwrap()))
        .collect();
    serialize_to_file(views, None::<HashMap<String, String>>, path).unwrap();
}

fn config(dir: &Path, body: &str) {
    std::fs::write(dir.join("config.json"), body).unwrap();
}

const LLAMA_CONFIG: &str = r#"{
  "hidden_size": 8, "num_attention_heads": 2, "num_key_value_heads": 1, "intermediate_size": 24,
  "dfloat11_config": {
    "version": "0.5.0", "threads_per_block": [512], "bytes_per_thread": 8,
    "pattern_dict": {"lm_head": [], "model\\.layers\\.\\d+": ["self_attn.q_proj", "self_attn.k_proj", "mlp.down_proj"]}
  }
}"#;

/// One block unit `model.layers.0` holding q, k and down projections, as the reference writes it.
fn reference_style_folder(dir: &Path) -> Vec<(String, Vec<usize>, Vec<u8>)> {
    let q = bf16(64, 3);
    let k = bf16(32, 5);
    let down = bf16(8 * 24, 7);
    let e = encode(&[&q, &k, &down], Layout::DF11, 2).unwrap();
    let splits: Vec<u8> = e
        .split_positions
        .iter()
        .flat_map(|s| s.to_le_bytes())
        .collect();
    let g = "model.layers.0";
    let positions = e.output_positions.clone();
    write(
        &dir.join("model_layers_0.safetensors"),
        &[
            (
                &format!("{g}.luts"),
                Dtype::U8,
                vec![e.luts.len() / 256, 256],
                &e.luts,
            ),
            (
                &format!("{g}.encoded_exponent"),
                Dtype::U8,
                vec![e.encoded_exponent.len()],
                &e.encoded_exponent,
            ),
            (
                &format!("{g}.sign_mantissa"),
                Dtype::U8,
                vec![e.sign_mantissa.len()],
                &e.sign_mantissa,
            ),
            (
                &format!("{g}.output_positions"),
                Dtype::U8,
                vec![positions.len()],
                &positions,
            ),
            (&format!("{g}.gaps"), Dtype::U8, vec![e.gaps.len()], &e.gaps),
            (
                &format!("{g}.split_positions"),
                Dtype::I64,
                vec![2],
                &splits,
            ),
        ],
    );
    let norm = bf16(8, 9);
    write(
        &dir.join("model.safetensors"),
        &[("model.norm.weight", Dtype::BF16, vec![8], &norm)],
    );
    config(dir, LLAMA_CONFIG);
    vec![
        (
            "model.layers.0.self_attn.q_proj.weight".into(),
            vec![8, 8],
            q,
        ),
        (
            "model.layers.0.self_attn.k_proj.weight".into(),
            vec![4, 8],
            k,
        ),
        (
            "model.layers.0.mlp.down_proj.weight".into(),
            vec![8, 24],
            down,
        ),
        ("model.norm.weight".into(), vec![8], norm),
    ]
}

fn check_output(path: &Path, want: &[(String, Vec<usize>, Vec<u8>)]) {
    let bytes = std::fs::read(path).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    assert_eq!(st.len(), want.len(), "{:?}", st.names());
    for (name, shape, data) in want {
        let t = st.tensor(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(t.dtype(), Dtype::BF16);
        assert_eq!(t.shape(), &shape[..], "{name}");
        assert!(t.data() == &data[..], "{name}");
    }
}

#[test]
fn a_block_unit_is_cut_into_its_weights_with_config_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let want = reference_style_folder(dir.path());
    let ckpt = Checkpoint::open(dir.path()).unwrap();
    assert_eq!(ckpt.units.len(), 1);
    assert_eq!(ckpt.units[0].weights.len(), 3);
    assert_eq!(ckpt.passthrough.len(), 1);
    let out = dir.path().join("out.bin");
    let report = decompress(&ckpt, &out, &ShapeMap::new(), Decoder::Cpu, |_, _| {}).unwrap();
    assert!(report.flat.is_empty(), "{:?}", report.flat);
    assert_eq!(report.weights, 64 + 32 + 192);
    check_output(&out, &want);
}

#[test]
fn compress_then_decompress_restores_names_shapes_and_passthrough() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    let a = bf16(40 * 50, 13);
    let b = bf16(7 * 3, 17);
    let norm = bf16(50, 19);
    write(
        &input.join("shard1.safetensors"),
        &[("x.a.weight", Dtype::BF16, vec![40, 50], &a)],
    );
    write(
        &input.join("shard2.safetensors"),
        &[
            ("x.b.weight", Dtype::BF16, vec![7, 3], &b),
            ("x.norm.weight", Dtype::BF16, vec![50], &norm),
        ],
    );
    config(&input, r#"{"model_type": "toy"}"#);
    let df11 = dir.path().join("df11");
    let report = compress(&input, &df11, Layout::DF11, 2, |_, _| {}).unwrap();
    assert_eq!((report.units, report.weights), (2, 2000 + 21));
    let text = std::fs::read_to_string(df11.join("config.json")).unwrap();
    assert!(
        text.contains("\"model_type\": \"toy\"") && text.contains("x\\\\.a"),
        "{text}"
    );

    let ckpt = Checkpoint::open(&df11).unwrap();
    let out = dir.path().join("out.safetensors");
    let report = decompress(&ckpt, &out, &ShapeMap::new(), Decoder::Cpu, |_, _| {}).unwrap();
    assert!(report.flat.is_empty());
    check_output(
        &out,
        &[
            ("x.a.weight".into(), vec![40, 50], a),
            ("x.b.weight".into(), vec![7, 3], b),
            ("x.norm.weight".into(), vec![50], norm),
        ],
    );
}

#[test]
fn missing_config_keys_and_unit_tensors_are_named() {
    let dir = tempfile::tempdir().unwrap();
    reference_style_folder(dir.path());
    for (key, body) in [
        ("dfloat11_config", r#"{"hidden_size": 8}"#),
        (
            "threads_per_block",
            r#"{"dfloat11_config": {"bytes_per_thread": 8, "pattern_dict": {}}}"#,
        ),
        (
            "bytes_per_thread",
            r#"{"dfloat11_config": {"threads_per_block": [512], "pattern_dict": {}}}"#,
        ),
        (
            "pattern_dict",
            r#"{"dfloat11_config": {"threads_per_block": [512], "bytes_per_thread": 8}}"#,
        ),
    ] {
        config(dir.path(), body);
        let err = Checkpoint::open(dir.path()).err().unwrap();
        assert!(
            matches!(&err, Df11Error::Config { key: k, .. } if k.ends_with(key)),
            "{key}: {err}"
        );
    }
    config(
        dir.path(),
        r#"{"dfloat11_config": {"threads_per_block": [512], "bytes_per_thread": 4, "pattern_dict": {}}}"#,
    );
    assert!(matches!(
        Checkpoint::open(dir.path()),
        Err(Df11Error::Layout { .. })
    ));

    config(dir.path(), LLAMA_CONFIG);
    let path = dir.path().join("model_layers_0.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let keep: Vec<(String, TensorView<'_>)> = st
        .tensors()
        .into_iter()
        .filter(|(n, _)| !n.ends_with(".gaps"))
        .collect();
    let out = dir.path().join("model_layers_0.safetensors.tmp");
    serialize_to_file(keep, None::<HashMap<String, String>>, &out).unwrap();
    std::fs::rename(&out, &path).unwrap();
    let err = Checkpoint::open(dir.path()).err().unwrap();
    assert!(err.to_string().contains("model.layers.0.gaps"), "{err}");
}
