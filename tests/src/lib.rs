//! GPU-vs-CPU conformance cases of every squeeze kernel, shared by `cargo test` (this crate's
//! tests, on every adapter found) and `squeeze conform` (a pass/fail table per kernel × backend ×
//! path). Each case names the path it exercises; an adapter without that path's features is
//! reported as unsupported, never as passed.

pub mod adapters;
pub mod attention;
pub mod core;
pub mod dfloat11;
pub mod dfloat11_gemv;
pub mod dfloat11_native;
pub mod llama;
pub mod params_layout;
pub mod probes;
pub mod quant;
pub mod rng;
pub mod topk;

use squeeze::Gpu;

/// Which variant of a kernel a case exercises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    /// Core WGSL only.
    Portable,
    /// Subgroup builtins (`SUBGROUP`).
    Subgroup,
    /// `enable f16` arithmetic (`SHADER_F16`).
    F16,
}

impl Path {
    pub fn name(self) -> &'static str {
        match self {
            Path::Portable => "portable",
            Path::Subgroup => "subgroup",
            Path::F16 => "f16",
        }
    }

    /// The missing feature that keeps this path off `gpu`, if any.
    pub fn missing_feature(self, gpu: &Gpu) -> Option<&'static str> {
        match self {
            Path::Portable => None,
            Path::Subgroup => (!gpu.has_subgroups()).then_some("SUBGROUP"),
            Path::F16 => (!gpu.has_f16()).then_some("SHADER_F16"),
        }
    }
}

/// Why a case failed.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error("{0}")]
    Mismatch(String),
    #[error("kernel error: {0}")]
    Kernel(#[from] squeeze::Error),
}

/// Runs a case's kernel on `gpu` and compares with the CPU reference. `Send + Sync` so the test
/// harness can run cases on several threads.
pub type Check = Box<dyn Fn(&Gpu) -> Result<(), Failure> + Send + Sync>;

/// One conformance case: a kernel path on inputs chosen to catch a class of bugs.
pub struct Case {
    pub kernel: &'static str,
    pub path: Path,
    pub name: &'static str,
    pub check: Check,
}

impl Case {
    pub fn new(
        kernel: &'static str,
        path: Path,
        name: &'static str,
        check: impl Fn(&Gpu) -> Result<(), Failure> + Send + Sync + 'static,
    ) -> Self {
        Self {
            kernel,
            path,
            name,
            check: Box::new(check),
        }
    }

    /// A case of the portable path.
    pub fn portable(
        kernel: &'static str,
        name: &'static str,
        check: impl Fn(&Gpu) -> Result<(), Failure> + Send + Sync + 'static,
    ) -> Self {
        Self::new(kernel, Path::Portable, name, check)
    }
}

/// What running a case on one adapter gave.
#[derive(Debug)]
pub enum Outcome {
    Pass,
    Fail(String),
    Unsupported(&'static str),
}

impl Outcome {
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail(_) => "FAIL",
            Outcome::Unsupported(_) => "unsupported",
        }
    }
}

/// Every registered case; the copy kernel's come first.
pub fn cases() -> Vec<Case> {
    let mut all = Vec::new();
    all.extend(core::cases());
    all.extend(quant::cases());
    all.extend(dfloat11::cases());
    all.extend(dfloat11_gemv::cases());
    all.extend(dfloat11_native::cases());
    all.extend(topk::cases());
    all.extend(attention::cases());
    all.extend(llama::cases());
    all
}

/// Runs one case on `gpu`.
pub fn run(gpu: &Gpu, case: &Case) -> Outcome {
    if let Some(feature) = case.path.missing_feature(gpu) {
        return Outcome::Unsupported(feature);
    }
    match (case.check)(gpu) {
        Ok(()) => Outcome::Pass,
        Err(e) => Outcome::Fail(e.to_string()),
    }
}

/// Fails with the first index where `got` and `want` differ, showing both.
pub fn expect_equal<T: PartialEq + std::fmt::Debug>(
    what: &str,
    got: &[T],
    want: &[T],
) -> Result<(), Failure> {
    if got.len() != want.len() {
        return Err(Failure::Mismatch(format!(
            "{what}: {} elements, expected {}",
            got.len(),
            want.len()
        )));
    }
    match got.iter().zip(want).position(|(g, w)| g != w) {
        None => Ok(()),
        Some(i) => Err(Failure::Mismatch(format!(
            "{what}: element {i} is {:?}, expected {:?} ({} of {} differ)",
            got[i],
            want[i],
            got.iter().zip(want).filter(|(g, w)| g != w).count(),
            got.len()
        ))),
    }
}

/// Every shader module squeeze builds: the kernels' registry, then the test-only probes.
pub fn all_modules() -> Vec<&'static squeeze::shaders::Module> {
    squeeze::shaders::MODULES
        .iter()
        .chain(probes::MODULES)
        .copied()
        .collect()
}
