//! `squeeze`: adapter facts, benchmarks against the adapter's own copy bandwidth, GPU-vs-CPU
//! conformance on every adapter, and single kernels run on safetensors files.

mod bench;
mod conform;
mod dfloat11;
mod generate;
mod gguf;
mod info;
mod paths;
mod run;
mod runtime_dir;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use squeeze::{Backend, GpuOptions};

#[derive(Parser)]
#[command(
    name = "squeeze",
    version,
    about = "Portable GPU kernels for compressed LLM inference"
)]
struct Cli {
    /// Backend to use: vulkan, metal, dx12 or gl (default: SQUEEZE_BACKEND, else the best adapter's).
    #[arg(long, global = true, value_parser = parse_backend)]
    backend: Option<Backend>,
    /// Adapter index as listed by `squeeze info` (default: SQUEEZE_ADAPTER, else the best).
    #[arg(long, global = true)]
    adapter: Option<usize>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List every adapter: backend, name, driver, features and key limits.
    Info,
    /// Time each kernel at representative shapes, as GB/s and as a fraction of copy bandwidth.
    Bench(bench::Args),
    /// Check every kernel against its CPU reference on every adapter (or those of --backend).
    Conform {
        /// Run only cases whose kernel or name contains this text.
        filter: Option<String>,
    },
    /// DFloat11: compress BF16 safetensors losslessly, or decompress a DF11 checkpoint.
    #[command(subcommand)]
    Dfloat11(dfloat11::Command),
    /// Run one kernel on named tensors from a safetensors file; `--list` shows every kernel.
    Run(RunArgs),
    /// GGUF files: `list` metadata and tensors, `dequantize` every tensor to f32 safetensors,
    /// `matmul` one quantized tensor with activations.
    Gguf {
        #[command(subcommand)]
        command: gguf::GgufCommand,
    },
    /// Run a LLaMA GGUF model end to end on squeeze kernels (greedy, or sampled with
    /// --temperature): prints the generated ids.
    Generate(generate::Args),
}

#[derive(clap::Args)]
struct RunArgs {
    /// Print every kernel with its tensors, dtypes, shapes and parameters.
    #[arg(long, exclusive = true)]
    list: bool,
    /// Kernel name (see --list).
    #[arg(required_unless_present = "list")]
    kernel: Option<String>,
    /// Input safetensors file holding the kernel's tensors.
    #[arg(required_unless_present = "list", value_name = "IN")]
    input: Option<PathBuf>,
    /// Output safetensors file (refused if it exists, unless --force).
    #[arg(required_unless_present = "list", value_name = "OUT")]
    output: Option<PathBuf>,
    /// A kernel parameter as key=value; repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Replace OUT if it exists.
    #[arg(long)]
    force: bool,
}

fn parse_backend(s: &str) -> Result<Backend, String> {
    s.parse().map_err(|e: squeeze::Error| e.to_string())
}

fn main() -> ExitCode {
    // Parsed first: clap exits the process itself on --help and on a usage error, which would
    // skip the runtime directory's drop and leave it behind in the temp directory.
    let cli = Cli::parse();
    // SAFETY: before any thread exists (parsing starts none).
    let _runtime_dir = unsafe { runtime_dir::ensure() };
    // Like any Unix filter: `squeeze … | head` ends quietly when the reader goes away, instead
    // of panicking on the first write to a closed pipe (Rust ignores SIGPIPE by default).
    // SAFETY: restoring a signal's default disposition, before any thread exists.
    #[cfg(unix)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    paths::remove_temporaries_on_interrupt();
    let options = GpuOptions {
        backend: cli.backend,
        adapter: cli.adapter,
    };
    let result = match cli.command {
        Command::Info => info::run(&options),
        Command::Bench(args) => bench::run(options, args),
        Command::Conform { filter } => conform::run(&options, filter.as_deref()),
        Command::Run(args) => match (args.kernel, args.input, args.output) {
            (Some(kernel), Some(input), Some(output)) => run::run(
                options,
                &run::Request {
                    kernel: &kernel,
                    input: &input,
                    output: &output,
                    set: &args.set,
                    force: args.force,
                },
            ),
            _ => Ok(run::list()),
        },
        Command::Gguf { command } => Ok(gguf::run(options, command)),
        Command::Dfloat11(command) => Ok(dfloat11::run(options, command)),
        Command::Generate(args) => generate::run(options, args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("squeeze: {e}");
            ExitCode::FAILURE
        }
    }
}
