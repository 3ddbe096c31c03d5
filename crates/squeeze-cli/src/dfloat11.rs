//! `squeeze dfloat11 compress|decompress`: BF16 safetensors ⇄ DF11 checkpoint folders, with a
//! progress bar on a terminal and a summary of sizes, ratio, bits per weight and time.

mod companions;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;
use squeeze::dfloat11::checkpoint::Checkpoint;
use squeeze::dfloat11::decompress::{Decoder, decompress};
use squeeze::dfloat11::native::decode::NativeDecode;
use squeeze::dfloat11::native::file::{self as native_file, NativeDecoder};
use squeeze::dfloat11::shapes::{self, ShapeMap};
use squeeze::dfloat11::{Decode, Df11Error, Layout, compress};
use squeeze::{Error, Gpu, GpuOptions};

use crate::paths::{self, Kind, OutputKind, Temporary};
use companions::Companions;

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

/// What a `dfloat11` input is.
enum Source {
    /// A DF11 checkpoint folder.
    Df11,
    /// Native-format files (a file, or every safetensors file of a folder).
    Native(Vec<PathBuf>),
    /// Plain safetensors: a file or a folder of shards.
    Plain,
}

impl Source {
    /// Detects what `input` (argument `IN`) is; anything but a folder or a safetensors file is
    /// an error naming what it is.
    fn detect(input: &Path) -> Result<Source> {
        let folder = match paths::kind("IN", input)? {
            Kind::Directory => true,
            Kind::Safetensors => false,
            _ => {
                return Err(paths::input("IN", input, Kind::Safetensors)
                    .unwrap_err()
                    .into());
            }
        };
        let config = input.join("config.json");
        let df11 = folder
            && std::fs::read_to_string(&config)
                .ok()
                .and_then(|t| serde_json::from_str::<Value>(&t).ok())
                .is_some_and(|v| v.get("dfloat11_config").is_some());
        if df11 {
            return Ok(Source::Df11);
        }
        let files = native_file::inputs(input)?;
        let mut native = !files.is_empty();
        for f in &files {
            native &= native_file::is_native(f)?;
        }
        Ok(if native {
            Source::Native(files)
        } else {
            Source::Plain
        })
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
    let source = Source::detect(input)?;
    let out = paths::Output::new("--output", output, OutputKind::Folder, force)?;
    let converted = Converted::decode(input, &source)?;
    let from = converted.as_ref().map_or(input, |c| c.file.as_path());
    let bar = progress_bar("compress");
    let started = Instant::now();
    let progress = |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    };
    let report = match format {
        Format::Df11 => compress::compress(from, out.path(), Layout::DF11, threads, progress)?,
        Format::Native => {
            native_file::compress(&native_file::inputs(from)?, out.path(), threads, progress)?
        }
    };
    bar.finish_and_clear();
    let companions = if input.is_dir() {
        companions::copy(input, out.path(), format == Format::Df11)?
    } else {
        Companions::default()
    };
    out.commit()?;
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
    companions.report();
    println!("wrote {}", output.display());
    Ok(())
}

/// A compressed input to `compress` (a DF11 checkpoint folder, or native files) decoded by the
/// CPU reference to one temporary BF16 file, so that DF11 and native convert into each other
/// losslessly; removed when dropped (or on Ctrl-C).
struct Converted {
    _dir: Temporary,
    file: PathBuf,
}

impl Converted {
    /// `None` when `input` is plain safetensors.
    fn decode(input: &Path, source: &Source) -> Result<Option<Converted>> {
        let native = match source {
            Source::Plain => return Ok(None),
            Source::Df11 => None,
            Source::Native(files) => Some(files),
        };
        let dir = Temporary::new(
            std::env::temp_dir().join(format!("squeeze-convert-{}", std::process::id())),
        );
        std::fs::create_dir_all(dir.path()).map_err(|source| Df11Error::Io {
            path: dir.path().to_path_buf(),
            source,
        })?;
        let file = dir.path().join("model.safetensors");
        match native {
            None => {
                let checkpoint = Checkpoint::open(input)?;
                let report = decompress(
                    &checkpoint,
                    &file,
                    &ShapeMap::new(),
                    Decoder::Cpu,
                    |_, _| {},
                )?;
                for name in &report.flat {
                    eprintln!(
                        "warning: no shape known for `{name}`: kept 1-D, so stored uncompressed"
                    );
                }
            }
            Some(files) => {
                native_file::decompress(files, &file, NativeDecoder::Cpu, |_, _| {})?;
            }
        }
        eprintln!("decoded {} to BF16 first (CPU reference)", input.display());
        Ok(Some(Converted { _dir: dir, file }))
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
    let source = Source::detect(input)?;
    if matches!(source, Source::Plain) {
        let what = if input.is_dir() {
            "a folder without `dfloat11_config` in a config.json, nor native files"
        } else {
            "a plain safetensors file, without squeeze's native metadata"
        };
        return Err(Error::invalid(
            "IN",
            "path",
            "a DF11 checkpoint folder or native-format safetensors",
            format!("{}: {what}", input.display()),
        )
        .into());
    }
    let out = paths::Output::new("--output", output, OutputKind::File, force)?;
    if let Source::Native(files) = source {
        return run_native_decompress(options, &files, out, cpu);
    }
    let checkpoint = Checkpoint::open(input)?;
    let given = match shapes_path {
        Some(p) => shapes::load(p)?,
        None => ShapeMap::new(),
    };
    let gpu;
    let kernel;
    let (decoder, on) = if cpu {
        (Decoder::Cpu, "CPU reference".to_string())
    } else {
        gpu = Gpu::new(options)?;
        kernel = Decode::new(&gpu, checkpoint.config.layout)?;
        (Decoder::Gpu(&kernel), gpu.label())
    };
    let bar = progress_bar("decompress");
    let started = Instant::now();
    let report = decompress(&checkpoint, out.path(), &given, decoder, |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    })?;
    bar.finish_and_clear();
    out.commit()?;
    let seconds = started.elapsed().as_secs_f64();
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

fn run_native_decompress(
    options: GpuOptions,
    files: &[PathBuf],
    out: paths::Output,
    cpu: bool,
) -> Result<()> {
    let gpu;
    let kernel;
    let (decoder, on) = if cpu {
        (NativeDecoder::Cpu, "CPU reference".to_string())
    } else {
        gpu = Gpu::new(options)?;
        kernel = NativeDecode::new(&gpu)?;
        (NativeDecoder::Gpu(&kernel), gpu.label())
    };
    let bar = progress_bar("decompress");
    let started = Instant::now();
    let (weights, written) = native_file::decompress(files, out.path(), decoder, |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    })?;
    bar.finish_and_clear();
    let output = out.target().to_path_buf();
    out.commit()?;
    println!(
        "decoded {weights} native weights from {} files on {on}; wrote {} ({:.2} MB) in {:.2} s",
        files.len(),
        output.display(),
        mb(written),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
