//! The real `squeeze` binary, run from end-to-end tests.
#![allow(dead_code)] // each test file uses the helpers it needs

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use squeeze::attention::KvDtype;
use squeeze_llama::{CpuModel, ModelTensors};

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

/// Greedy ids of the CPU reference forward pass (f32 KV cache) of `tensors` for `prompt`, `n`
/// tokens: what `squeeze generate` must print. A tie goes to the lower id.
pub fn reference_ids(tensors: &ModelTensors<'_>, prompt: &[u32], n: usize) -> Vec<u32> {
    let mut cpu = CpuModel::new(tensors, KvDtype::F32).unwrap();
    let mut logits = Vec::new();
    for &t in prompt {
        logits = cpu.step(t).unwrap();
    }
    let mut ids = Vec::new();
    while ids.len() < n {
        let best = (0..logits.len())
            .max_by(|&a, &b| logits[a].total_cmp(&logits[b]).then(b.cmp(&a)))
            .unwrap() as u32;
        ids.push(best);
        if ids.len() < n {
            logits = cpu.step(best).unwrap();
        }
    }
    ids
}

/// A path as a command-line argument (test paths are UTF-8).
pub fn s(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}

/// Asserts that `out` succeeded and returns its stdout.
pub fn succeeds(out: &Output) -> String {
    assert!(out.status.success(), "{}\n{}", stdout(out), stderr(out));
    stdout(out)
}

/// Asserts a failure whose stderr contains every one of `needles`.
pub fn fails_with(out: &Output, needles: &[&str]) {
    let err = stderr(out);
    assert!(!out.status.success(), "should fail\n{}\n{err}", stdout(out));
    for n in needles {
        assert!(err.contains(n), "stderr lacks {n:?}:\n{err}");
    }
}

// The argument lists of the commands under test.

/// `run KERNEL IN OUT` and `extra`.
pub fn run<'a>(kernel: &'a str, input: &'a Path, out: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    [&["run", kernel, s(input), s(out)], extra].concat()
}

/// `dfloat11 compress IN -o OUT` and `extra`.
pub fn compress<'a>(input: &'a Path, out: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    [&["dfloat11", "compress", s(input), "-o", s(out)], extra].concat()
}

/// `dfloat11 decompress IN -o OUT` and `extra`.
pub fn decompress<'a>(input: &'a Path, out: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    [&["dfloat11", "decompress", s(input), "-o", s(out)], extra].concat()
}

/// `--set KEY=VALUE` for each of `sets`.
pub fn sets<'a>(sets: &[&'a str]) -> Vec<&'a str> {
    sets.iter().flat_map(|kv| ["--set", kv]).collect()
}

/// One safetensors entry: name, dtype, shape, little-endian bytes.
pub type Entry<'a> = (&'a str, safetensors::Dtype, Vec<usize>, &'a [u8]);

/// A 1-D [`Entry`] holding all of `data`.
pub fn flat<'a>(name: &'a str, dtype: safetensors::Dtype, data: &'a [u8]) -> Entry<'a> {
    (name, dtype, vec![data.len() * 8 / dtype.bitsize()], data)
}

/// Asserts that the safetensors file at `path` holds exactly the tensors of `want`.
pub fn assert_tensors(path: &Path, want: &[Entry]) {
    let bytes = std::fs::read(path).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    assert_eq!(file.len(), want.len(), "{:?}", file.names());
    for (name, dtype, shape, data) in want {
        let t = file.tensor(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!((t.dtype(), t.shape()), (*dtype, &shape[..]), "{name}");
        assert!(t.data() == *data, "{name}: bytes differ");
    }
}

/// BF16 bit patterns of rough Gaussian weights (σ ≈ 0.01), deterministic in `seed`, with ±0, a
/// subnormal, ±inf and a NaN mixed in.
pub fn bf16_values(n: usize, seed: u64) -> Vec<u16> {
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

/// The little-endian bytes of 16-bit values.
pub fn le_bytes(values: &[u16]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// Asserts that the tensor `y` of the safetensors file at `path` is f32 [batch, rows] and equals
/// the BF16 `weights` (rows × cols) times `x` (batch × cols) within 1e-5 of the reference's
/// magnitude per element; non-finite results must match exactly (NaN for NaN, the same
/// infinity).
pub fn assert_gemv_output(path: &Path, weights: &[u16], (rows, cols): (usize, usize), x: &[f32]) {
    let batch = x.len() / cols;
    let (dtype, shape, data) = read_tensor(path, "y");
    assert_eq!((dtype, shape), (safetensors::Dtype::F32, vec![batch, rows]));
    let y: Vec<f32> = bytemuck::pod_collect_to_vec(&data);
    let (want, scale) = squeeze::dfloat11::reference::gemv(weights, rows, cols, x, batch);
    for (i, (&g, (&w, &m))) in y.iter().zip(want.iter().zip(&scale)).enumerate() {
        let g = f64::from(g);
        let close = if w.is_finite() {
            (g - w).abs() <= 1e-5 * m
        } else {
            g.is_nan() == w.is_nan() && (w.is_nan() || g == w)
        };
        assert!(close, "y[{i}] = {g}, expected {w}");
    }
}
