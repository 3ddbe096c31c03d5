//! The real `squeeze` binary, run from end-to-end tests.
#![allow(dead_code)] // each test file uses the helpers it needs

use std::process::{Command, Output};

pub fn squeeze(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_squeeze"))
        .args(args)
        .env_remove("SQUEEZE_BACKEND")
        .env_remove("SQUEEZE_ADAPTER")
        .output()
        .expect("run squeeze")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A scratch path unique to this test process and `name`.
pub fn scratch(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("squeeze-{}-{name}", std::process::id()))
}

/// Writes named tensors (dtype, shape, little-endian bytes) to a safetensors file.
pub fn write_tensors(
    path: &std::path::Path,
    tensors: &[(&str, safetensors::Dtype, Vec<usize>, &[u8])],
) {
    let views = tensors.iter().map(|(name, dtype, shape, data)| {
        let view = safetensors::tensor::TensorView::new(*dtype, shape.clone(), data).unwrap();
        (name.to_string(), view)
    });
    safetensors::serialize_to_file(views, None, path).unwrap();
}

/// Reads one tensor of a safetensors file: dtype, shape and bytes.
pub fn read_tensor(
    path: &std::path::Path,
    name: &str,
) -> (safetensors::Dtype, Vec<usize>, Vec<u8>) {
    let bytes = std::fs::read(path).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let t = file.tensor(name).unwrap();
    (t.dtype(), t.shape().to_vec(), t.data().to_vec())
}
