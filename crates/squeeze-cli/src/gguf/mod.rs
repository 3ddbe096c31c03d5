//! `squeeze gguf …`: GGUF files through squeeze's kernels.

mod dequantize;
mod matmul;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use squeeze::GpuOptions;

#[derive(Subcommand)]
pub enum GgufCommand {
    /// Every tensor to f32 in a safetensors file, same names, shapes outermost first.
    Dequantize {
        /// The GGUF file (version 2 or 3).
        file: PathBuf,
        /// The safetensors file to write.
        #[arg(short, long)]
        output: PathBuf,
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
        /// The safetensors file to write, holding the tensor `y`.
        #[arg(short, long)]
        output: PathBuf,
    },
}

/// Runs a `gguf` subcommand, printing its error.
pub fn run(options: GpuOptions, command: GgufCommand) -> ExitCode {
    let result = match command {
        GgufCommand::Dequantize {
            file,
            output,
            skip_unsupported,
        } => dequantize::run(options, &file, &output, skip_unsupported),
        GgufCommand::Matmul {
            file,
            tensor,
            x,
            output,
        } => matmul::run(options, &file, &tensor, &x, &output),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("squeeze: {e}");
            ExitCode::FAILURE
        }
    }
}
