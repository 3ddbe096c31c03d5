//! End-to-end native format: `squeeze dfloat11 compress --format native`, decompress (format
//! detected) on the GPU and with the CPU reference back to the original bytes, a malformed
//! native file refused with a typed error, and `squeeze run dfloat11-native-decode|gemv`.

mod common;

use std::path::Path;

use common::{
    Entry, assert_gemv_output, assert_tensors, bf16_values, compress, decompress, fails_with, flat,
    le_bytes, read_tensor, run, squeeze, succeeds, write_tensors,
};
use safetensors::Dtype;
use squeeze::dfloat11::native::{NativeEncoded, encode};

#[test]
fn compress_native_then_decompress_on_gpu_and_cpu_is_lossless() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("model.safetensors");
    let up = le_bytes(&bf16_values(96 * 301, 1));
    let experts = le_bytes(&bf16_values(2 * 3 * 129, 2));
    let norm = le_bytes(&bf16_values(70, 3));
    let scale: Vec<u8> = [1.0f32, -2.5]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let want: Vec<Entry> = vec![
        ("layers.0.up.weight", Dtype::BF16, vec![96, 301], &up),
        ("layers.0.experts", Dtype::BF16, vec![2, 3, 129], &experts),
        ("norm.weight", Dtype::BF16, vec![70], &norm),
        ("scale", Dtype::F32, vec![2], &scale),
    ];
    write_tensors(&input, &want);
    let native = dir.path().join("native");
    let text = succeeds(&squeeze(&compress(
        &input,
        &native,
        &["--format", "native"],
    )));
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

    for (extra, name) in [
        (&[][..], "gpu.safetensors"),
        (&["--cpu"], "cpu.safetensors"),
    ] {
        let out = dir.path().join(name);
        let text = succeeds(&squeeze(&decompress(&native, &out, extra)));
        assert!(text.contains("decoded 29670 native weights"), "{text}");
        assert_tensors(&out, &want);
    }
    // A single native file decompresses too.
    let out = dir.path().join("file.safetensors");
    succeeds(&squeeze(&decompress(&stored, &out, &[])));
    assert!(read_tensor(&out, "layers.0.experts").2 == experts);
}

/// The five tensors of one native unit, 1-D, named `names` (for lengths, exponents,
/// sign_mantissa, tile_offsets and chunk_offsets, in that order).
fn unit_tensors<'a>(e: &'a NativeEncoded, names: [&'a str; 5]) -> Vec<Entry<'a>> {
    let u = e.unit();
    let [
        lengths,
        exponents,
        sign_mantissa,
        tile_offsets,
        chunk_offsets,
    ] = names;
    vec![
        flat(lengths, Dtype::U8, u.lengths),
        flat(exponents, Dtype::U32, u.exponents),
        flat(sign_mantissa, Dtype::U8, u.sign_mantissa),
        flat(tile_offsets, Dtype::U32, u.tile_offsets),
        flat(chunk_offsets, Dtype::U16, u.chunk_offsets),
    ]
}

#[test]
fn a_native_file_of_another_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let e = encode(&bf16_values(40, 4), 4, 10, 1).unwrap();
    let names = [
        "w.lengths",
        "w.exponents",
        "w.sign_mantissa",
        "w.tile_offsets",
        "w.chunk_offsets",
    ];
    let views = unit_tensors(&e, names)
        .into_iter()
        .map(|(n, d, shape, data)| {
            (
                n,
                safetensors::tensor::TensorView::new(d, shape, data).unwrap(),
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
    let out = dir.path().join("o.safetensors");
    fails_with(
        &squeeze(&decompress(&path, &out, &["--cpu"])),
        &["`version` must be 1"],
    );
}

/// Writes one native unit, `W.`-less as `squeeze run` reads it, and the activations `x`
/// [batch, cols] if given.
fn write_unit(path: &Path, e: &NativeEncoded, x: Option<(&[usize], &[f32])>) {
    let names = [
        "lengths",
        "exponents",
        "sign_mantissa",
        "tile_offsets",
        "chunk_offsets",
    ];
    let mut tensors = unit_tensors(e, names);
    if let Some((shape, x)) = x {
        tensors.push(("x", Dtype::F32, shape.to_vec(), bytemuck::cast_slice(x)));
    }
    write_tensors(path, &tensors);
}

#[test]
fn run_native_decode_and_gemv() {
    let dir = tempfile::tempdir().unwrap();
    let (rows, cols, batch) = (7usize, 2857usize, 3usize);
    let weights = bf16_values(rows * cols, 5);
    let e = encode(&weights, rows, cols, 2).unwrap();
    let input = dir.path().join("unit.safetensors");
    let output = dir.path().join("y.safetensors");
    let cols_set = format!("cols={cols}");
    let decode = |extra: &[&str]| {
        let extra = [&["--set", cols_set.as_str()], extra].concat();
        squeeze(&run("dfloat11-native-decode", &input, &output, &extra))
    };
    write_unit(&input, &e, None);
    succeeds(&decode(&[]));
    let (dtype, shape, data) = read_tensor(&output, "y");
    assert_eq!((dtype, shape), (Dtype::BF16, vec![rows, cols]));
    assert!(data == le_bytes(&weights));

    let x: Vec<f32> = (0..batch * cols)
        .map(|i| ((i % 13) as f32 - 6.0) / 7.0)
        .collect();
    write_unit(&input, &e, Some((&[batch, cols], &x)));
    // --force: the decode run above wrote the output.
    succeeds(&squeeze(&run(
        "dfloat11-native-gemv",
        &input,
        &output,
        &["--force"],
    )));
    assert_gemv_output(&output, &weights, (rows, cols), &x);

    let list = succeeds(&squeeze(&["run", "--list"]));
    assert!(
        list.contains("dfloat11-native-decode:") && list.contains("dfloat11-native-gemv:"),
        "{list}"
    );

    // Corrupt offsets are a typed error before anything runs.
    let mut bad = e.clone();
    bad.chunk_offsets[1] = 0;
    write_unit(&input, &bad, None);
    // --force: the runs above wrote the output.
    fails_with(&decode(&["--force"]), &["native unit `input`: chunk 0"]);
}

#[test]
fn df11_and_native_convert_into_each_other_losslessly() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name);
    let w = le_bytes(&bf16_values(33 * 517, 6));
    let want: Vec<Entry> = vec![("layers.1.down.weight", Dtype::BF16, vec![33, 517], &w)];
    write_tensors(&path("model.safetensors"), &want);
    succeeds(&squeeze(&compress(
        &path("model.safetensors"),
        &path("df11"),
        &[],
    )));
    succeeds(&squeeze(&compress(
        &path("df11"),
        &path("native"),
        &["--format", "native"],
    )));
    succeeds(&squeeze(&compress(
        &path("native"),
        &path("df11_again"),
        &[],
    )));
    for (from, out) in [("native", "a.safetensors"), ("df11_again", "b.safetensors")] {
        succeeds(&squeeze(&decompress(&path(from), &path(out), &["--cpu"])));
        assert_tensors(&path(out), &want);
    }
}
