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

use crate::paths::{self, OutputKind};

pub use tensors::{Inputs, Output, Settings, write};

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
    pub kind: ParamKind,
    pub default: ParamDefault,
    pub help: &'static str,
}

/// What a parameter's value must look like, checked when `--set` is parsed.
pub enum ParamKind {
    /// A non-negative integer.
    Count,
    /// A finite number.
    Number,
    /// `true` or `false`.
    Bool,
    /// One of these names.
    Choice(&'static [&'static str]),
}

impl ParamKind {
    /// What a value must be, in words.
    pub fn expected(&self) -> String {
        match self {
            ParamKind::Count => "a non-negative integer".into(),
            ParamKind::Number => "a finite number".into(),
            ParamKind::Bool => "true or false".into(),
            ParamKind::Choice(names) => format!("one of {}", names.join(" | ")),
        }
    }

    /// Checks `value` for parameter `name`.
    pub fn check(&self, name: &'static str, value: &str) -> Result<(), Error> {
        let ok = match self {
            ParamKind::Count => !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()),
            ParamKind::Number => value.parse::<f64>().is_ok_and(f64::is_finite),
            ParamKind::Bool => matches!(value, "true" | "false"),
            ParamKind::Choice(names) => names.contains(&value),
        };
        if ok {
            return Ok(());
        }
        let actual = if value.is_empty() {
            "an empty value".to_string()
        } else {
            format!("`{value}`")
        };
        Err(Error::invalid(name, "value", self.expected(), actual))
    }
}

/// What a parameter is when not set.
pub enum ParamDefault {
    /// It must be set.
    Required,
    /// Optional; the text says what happens without it (for `--list`).
    Unset(&'static str),
    /// This value.
    Value(&'static str),
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
            let default = match p.default {
                ParamDefault::Required => "required".to_string(),
                ParamDefault::Unset(meaning) => format!("unset: {meaning}"),
                ParamDefault::Value(v) => format!("default {v}"),
            };
            println!(
                "  --set {}=…  {}: {} ({default})",
                p.name,
                p.help,
                p.kind.expected()
            );
        }
        tensors("out", kernel.outputs);
    }
    ExitCode::SUCCESS
}

/// One `squeeze run` invocation.
pub struct Request<'a> {
    pub kernel: &'a str,
    pub input: &'a Path,
    pub output: &'a Path,
    pub set: &'a [String],
    /// Replace an existing output.
    pub force: bool,
}

/// `squeeze run KERNEL IN OUT --set …`: every argument and path is checked before the GPU is
/// opened; the output appears only when the kernel succeeded.
pub fn run(options: GpuOptions, request: &Request<'_>) -> Result<ExitCode, Error> {
    let kernel = find(request.kernel)?;
    let settings = Settings::parse(kernel.params, request.set)?;
    let inputs = Inputs::open(request.input, kernel.inputs)?;
    let output = paths::Output::new("OUT", request.output, OutputKind::File, request.force)?;
    let gpu = Gpu::new(options)?;
    let outputs = (kernel.run)(&gpu, &inputs, &settings)?;
    tensors::write(output.path(), &outputs)?;
    output.commit()?;
    println!(
        "{}: wrote {} tensor(s) to {} on {}",
        kernel.name,
        outputs.len(),
        request.output.display(),
        gpu.label()
    );
    Ok(ExitCode::SUCCESS)
}
