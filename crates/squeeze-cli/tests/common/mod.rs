//! The real `squeeze` binary, run from end-to-end tests.
#![allow(dead_code)] // each test file uses the helpers it needs

use std::ops::Deref;
use std::path::{Path, PathBuf};
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

/// A scratch path for one test: `name` inside a fresh private folder that is removed, with
/// whatever the test or the command wrote there, when the guard drops — after the test passes
/// and while a failing one unwinds — so test runs leave nothing in the temp directory.
/// Derefs to the path; nothing exists at it until the test writes there.
pub struct Scratch {
    path: PathBuf,
    _dir: tempfile::TempDir,
}

impl Deref for Scratch {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.path
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        &self.path
    }
}

/// A [`Scratch`] path named `name` (nothing there yet).
pub fn scratch(name: &str) -> Scratch {
    let dir = tempfile::Builder::new()
        .prefix("squeeze-test-")
        .tempdir()
        .expect("make a scratch folder");
    Scratch {
        path: dir.path().join(name),
        _dir: dir,
    }
}

/// A [`Scratch`] folder named `name`, created empty.
pub fn folder(name: &str) -> Scratch {
    let dir = scratch(name);
    std::fs::create_dir(&*dir).expect("make a scratch folder");
    dir
}

/// Writes named tensors (dtype, shape, little-endian bytes) to a safetensors file.
pub fn write_tensors(path: &Path, tensors: &[(&str, safetensors::Dtype, Vec<usize>, &[u8])]) {
    let views = tensors.iter().map(|(name, dtype, shape, data)| {
        let view = safetensors::tensor::TensorView::new(*dtype, shape.clone(), data).unwrap();
        (name.to_string(), view)
    });
    safetensors::serialize_to_file(views, None, path).unwrap();
}

/// Reads one tensor of a safetensors file: dtype, shape and bytes.
pub fn read_tensor(path: &Path, name: &str) -> (safetensors::Dtype, Vec<usize>, Vec<u8>) {
    let bytes = std::fs::read(path).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let t = file.tensor(name).unwrap();
    (t.dtype(), t.shape().to_vec(), t.data().to_vec())
}
