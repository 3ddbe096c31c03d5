//! `squeeze gguf …`: GGUF files through squeeze's kernels.

mod dequantize;
mod list;
mod matmul;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use squeeze::GpuOptions;

use crate::paths::{self, Kind};

#[derive(Subcommand)]
pub enum GgufCommand {
    /// Metadata, and every tensor's name, type, shape and size.
    List {
        /// The GGUF file (version 2 or 3).
        file: PathBuf,
    },
    /// Every tensor to f32 in a safetensors file, same names, shapes outermost first.
    Dequantize {
        /// The GGUF file (version 2 or 3).
        file: PathBuf,
        /// The safetensors file to write (refused if it exists, unless --force).
        #[arg(short, long, value_name = "OUT")]
        output: PathBuf,
        /// Replace OUT if it exists.
        #[arg(long)]
        force: bool,
        /// Leave out tensors of types squeeze cannot convert yet (each is named on stderr)
        /// instead of failing before any work is done.
        #[arg(long)]
        skip_unsupported: bool,
    },
    /// y = x · Wᵀ for a block-quantized weight tensor W [rows, cols] of the file and
    /// activations x [batch, cols] (f32, f16 or bf16); writes y [batch, rows] f32.
    Matmul {
        /// The GGUF file (version 2 or 3).
        file: PathBuf,
        /// The weight tensor's name in the GGUF file.
        #[arg(long)]
        tensor: String,
        /// A safetensors file holding the activations: the tensor `x`, or its only tensor.
        #[arg(long)]
        x: PathBuf,
        /// The safetensors file to write, holding the tensor `y` (refused if it exists, unless
        /// --force).
        #[arg(short, long, value_name = "OUT")]
        output: PathBuf,
        /// Replace OUT if it exists.
        #[arg(long)]
        force: bool,
    },
}

/// Runs a `gguf` subcommand, printing its error.
pub fn run(options: GpuOptions, command: GgufCommand) -> ExitCode {
    let result = match command {
        GgufCommand::List { file } => checked(&file).and_then(|()| list::run(&file)),
        GgufCommand::Dequantize {
            file,
            output,
            force,
            skip_unsupported,
        } => checked(&file).and_then(|()| {
            let output = paths::Output::new("--output", &output, paths::OutputKind::File, force)?;
            dequantize::run(options, &file, output, skip_unsupported)
        }),
        GgufCommand::Matmul {
            file,
            tensor,
            x,
            output,
            force,
        } => checked(&file).and_then(|()| {
            paths::input("--x", &x, Kind::Safetensors)?;
            let output = paths::Output::new("--output", &output, paths::OutputKind::File, force)?;
            matmul::run(options, &file, &tensor, &x, output)
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("squeeze: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Checks that `file` is a GGUF file before it is parsed.
fn checked(file: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    Ok(paths::input("FILE", file, Kind::Gguf)?)
}
