//! `squeeze run KERNEL IN.safetensors OUT.safetensors [--set key=value]…`: one kernel on named
//! tensors, so anyone can check a kernel against PyTorch or NumPy on any vendor's GPU.
//!
//! Every kernel is a [`Kernel`] value: its tensor and parameter specs (what `--list` prints and
//! what the arguments are checked against) and the function that runs it. Unknown tensors or
//! parameters are errors, not ignored: a typo must not silently run something else.

mod attention;
mod dfloat11;
mod dfloat11_native;
mod quant;
mod tensors;
mod topk;

use std::path::Path;
use std::process::ExitCode;

use squeeze::{Error, Gpu, GpuOptions};

pub use tensors::{Inputs, Output, Settings};

/// One tensor a kernel reads or writes.
pub struct TensorSpec {
    pub name: &'static str,
    /// Accepted dtypes, as safetensors names them (`"F32|F16"`).
    pub dtypes: &'static str,
    /// Shape in words (`"[rows, n]"`).
    pub shape: &'static str,
    pub required: bool,
}

/// One `--set key=value` parameter.
pub struct ParamSpec {
    pub name: &'static str,
    /// Value when not set; `None` means the parameter is required.
    pub default: Option<&'static str>,
    pub help: &'static str,
}

/// A kernel as `squeeze run` sees it.
pub struct Kernel {
    pub name: &'static str,
    pub summary: &'static str,
    pub inputs: &'static [TensorSpec],
    pub params: &'static [ParamSpec],
    pub outputs: &'static [TensorSpec],
    pub run: fn(&Gpu, &Inputs, &Settings) -> Result<Vec<Output>, Error>,
}

/// Every kernel `squeeze run` offers, in `--list` order.
pub const KERNELS: &[&Kernel] = &[
    &quant::DEQUANT,
    &quant::MATMUL,
    &dfloat11::DFLOAT11_DECODE,
    &dfloat11::DFLOAT11_GEMV,
    &dfloat11_native::NATIVE_DECODE,
    &dfloat11_native::NATIVE_GEMV,
    &topk::TOPK,
    &attention::ATTENTION_DECODE,
];

fn find(name: &str) -> Result<&'static Kernel, Error> {
    KERNELS
        .iter()
        .copied()
        .find(|k| k.name == name)
        .ok_or_else(|| {
            let names: Vec<_> = KERNELS.iter().map(|k| k.name).collect();
            Error::invalid("KERNEL", "name", names.join(" | "), name)
        })
}

/// `squeeze run --list`.
pub fn list() -> ExitCode {
    for kernel in KERNELS {
        println!("{}: {}", kernel.name, kernel.summary);
        let tensors = |label: &str, specs: &[TensorSpec]| {
            for t in specs {
                let optional = if t.required { "" } else { " (optional)" };
                println!("  {label} {} {} {}{optional}", t.name, t.dtypes, t.shape);
            }
        };
        tensors("in ", kernel.inputs);
        for p in kernel.params {
            let default = p
                .default
                .map_or("required".to_string(), |d| format!("default {d}"));
            println!("  --set {}=…  ({default}) {}", p.name, p.help);
        }
        tensors("out", kernel.outputs);
    }
    ExitCode::SUCCESS
}

/// `squeeze run KERNEL IN OUT --set …`.
pub fn run(
    options: GpuOptions,
    kernel: &str,
    input: &Path,
    output: &Path,
    set: &[String],
) -> Result<ExitCode, Error> {
    let kernel = find(kernel)?;
    let settings = Settings::parse(kernel.params, set)?;
    let inputs = Inputs::open(input, kernel.inputs)?;
    let gpu = Gpu::new(options)?;
    let outputs = (kernel.run)(&gpu, &inputs, &settings)?;
    tensors::write(output, &outputs)?;
    println!(
        "{}: wrote {} tensor(s) to {} on {}",
        kernel.name,
        outputs.len(),
        output.display(),
        gpu.label()
    );
    Ok(ExitCode::SUCCESS)
}
