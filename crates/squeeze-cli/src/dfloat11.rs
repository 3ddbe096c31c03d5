//! `squeeze dfloat11 compress|decompress`: BF16 safetensors ⇄ DF11 checkpoint folders, with a
//! progress bar on a terminal and a summary of sizes, ratio, bits per weight and time.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use squeeze::files::companions::{COPIED, Companions};
use squeeze::files::dfloat11::{self as files, Decompressed, Source};
use squeeze::{Gpu, GpuOptions};

use crate::paths::{self, OutputKind};

/// The compressed format `compress` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A DF11 checkpoint folder that the original DFloat11 loader accepts.
    Df11,
    /// squeeze's native format (one-pass decode): each shard as a native safetensors file.
    Native,
}

#[derive(Subcommand)]
pub enum Command {
    /// A BF16 safetensors file, or a folder of shards (with its config.json), → a DF11 folder
    /// or (`--format native`) a folder of native safetensors files. A model folder's config and
    /// tokenizer files are copied, so the output runs as it is.
    Compress {
        /// A BF16 safetensors file, or a folder: an HF model folder, a DF11 checkpoint or native
        /// files (converted losslessly).
        #[arg(value_name = "IN")]
        input: PathBuf,
        /// Output folder: new or empty (refused otherwise, unless --force).
        #[arg(short, long, value_name = "DIR")]
        output: PathBuf,
        /// Replace DIR if it exists (a folder without subfolders).
        #[arg(long)]
        force: bool,
        /// Encoder threads (default: all cores).
        #[arg(long)]
        threads: Option<usize>,
        /// The compressed format to write.
        #[arg(long, value_enum, default_value = "df11")]
        format: Format,
    },
    /// A DF11 checkpoint folder, or a native file or folder of them, → one BF16 safetensors
    /// file with the original names (the format is detected).
    Decompress {
        /// A DF11 checkpoint folder (config.json with `dfloat11_config`), or a native file or a
        /// folder of native files.
        #[arg(value_name = "IN")]
        input: PathBuf,
        /// The BF16 safetensors file to write (refused if it exists, unless --force).
        #[arg(short, long, value_name = "OUT")]
        output: PathBuf,
        /// Replace OUT if it exists.
        #[arg(long)]
        force: bool,
        /// Decode with the CPU reference instead of the GPU.
        #[arg(long)]
        cpu: bool,
        /// Original shapes: a safetensors file or a model.safetensors.index.json.
        #[arg(long)]
        shapes: Option<PathBuf>,
    },
}

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// Runs a `dfloat11` subcommand, printing its error.
pub fn run(options: GpuOptions, command: Command) -> ExitCode {
    let result = match command {
        Command::Compress {
            input,
            output,
            force,
            threads,
            format,
        } => run_compress(&input, &output, force, threads, format),
        Command::Decompress {
            input,
            output,
            force,
            cpu,
            shapes,
        } => run_decompress(options, &input, &output, force, cpu, shapes.as_deref()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("squeeze: {e}");
            ExitCode::FAILURE
        }
    }
}

fn progress_bar(label: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(0);
    let style = ProgressStyle::with_template(
        "{prefix} [{bar:40}] {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
    )
    .expect("valid template")
    .progress_chars("=> ");
    bar.set_style(style);
    bar.set_prefix(label.to_string());
    bar
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

fn run_compress(
    input: &Path,
    output: &Path,
    force: bool,
    threads: Option<usize>,
    format: Format,
) -> Result<()> {
    let threads = threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let source = Source::detect("IN", input)?;
    let out = paths::Output::new("--output", output, OutputKind::Folder, force)?;
    let bar = progress_bar("compress");
    let started = Instant::now();
    let progress = |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    };
    let files_format = match format {
        Format::Df11 => files::Format::Df11,
        Format::Native => files::Format::Native,
    };
    let done = files::compress(
        input,
        &source,
        out,
        files_format,
        threads,
        progress,
        |note| eprintln!("{note}"),
    )?;
    bar.finish_and_clear();
    let report = done.report;
    let name = match format {
        Format::Df11 => "DF11",
        Format::Native => "native",
    };
    let seconds = started.elapsed().as_secs_f64();
    let bits = 8.0 * report.stored_bytes as f64 / report.weights.max(1) as f64;
    println!(
        "compressed {} weights in {} units: {:.2} MB BF16 -> {:.2} MB {name} ({:.2} % of BF16, {:.2} bits per weight)",
        report.weights,
        report.units,
        mb(report.input_bytes),
        mb(report.stored_bytes),
        100.0 * report.stored_bytes as f64 / report.input_bytes.max(1) as f64,
        bits
    );
    println!(
        "passed through {:.2} MB; encoding {:.2} s ({:.1} MB/s of BF16, {threads} threads); total {:.2} s",
        mb(report.passthrough_bytes),
        report.encode_seconds,
        mb(report.input_bytes) / report.encode_seconds.max(1e-9),
        seconds
    );
    report_companions(&done.companions);
    println!("wrote {}", output.display());
    Ok(())
}

/// Prints what was copied (stdout) and what was left out (stderr).
fn report_companions(companions: &Companions) {
    if !companions.copied.is_empty() {
        println!("copied {}", companions.copied.join(", "));
    }
    for name in &companions.skipped {
        eprintln!(
            "note: not copied `{name}`: only weights (.safetensors) and config/tokenizer files \
             (.{}) are carried over",
            COPIED.join(", .")
        );
    }
}

fn run_decompress(
    options: GpuOptions,
    input: &Path,
    output: &Path,
    force: bool,
    cpu: bool,
    shapes_path: Option<&Path>,
) -> Result<()> {
    let source = Source::compressed("IN", input)?;
    let out = paths::Output::new("--output", output, OutputKind::File, force)?;
    let bar = progress_bar("decompress");
    let started = Instant::now();
    let (done, on) = files::decompress_to(
        input,
        &source,
        out,
        cpu,
        || Gpu::new(options),
        shapes_path,
        |done, total| {
            bar.set_length(total);
            bar.set_position(done);
        },
    )?;
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    let report = match done {
        Decompressed::Native {
            files,
            weights,
            written,
        } => {
            println!(
                "decoded {weights} native weights from {files} files on {on}; wrote {} ({:.2} MB) in {seconds:.2} s",
                output.display(),
                mb(written),
            );
            return Ok(());
        }
        Decompressed::Df11(report) => report,
    };
    for name in &report.flat {
        eprintln!(
            "warning: no shape known for `{name}`: written 1-D (pass --shapes ORIGINAL.safetensors)"
        );
    }
    let bf16 = 2 * report.weights;
    println!(
        "decoded {} weights in {} units on {on}: {:.2} MB DF11 -> {:.2} MB BF16 ({:.2} % of BF16, {:.2} bits per weight)",
        report.weights,
        report.units,
        mb(report.compressed_bytes),
        mb(bf16),
        100.0 * report.compressed_bytes as f64 / bf16.max(1) as f64,
        8.0 * report.compressed_bytes as f64 / report.weights.max(1) as f64
    );
    println!(
        "passed through {:.2} MB; wrote {} ({:.2} MB) in {seconds:.2} s",
        mb(report.passthrough_bytes),
        output.display(),
        mb(report.output_bytes)
    );
    Ok(())
}
