//! `squeeze dfloat11 compress|decompress`: BF16 safetensors ⇄ DF11 checkpoint folders, with a
//! progress bar on a terminal and a summary of sizes, ratio, bits per weight and time.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use squeeze::dfloat11::checkpoint::Checkpoint;
use squeeze::dfloat11::decompress::{Decoder, decompress};
use squeeze::dfloat11::native::decode::NativeDecode;
use squeeze::dfloat11::native::file::{self as native_file, NativeDecoder};
use squeeze::dfloat11::shapes::{self, ShapeMap};
use squeeze::dfloat11::{Decode, Df11Error, Layout, compress};
use squeeze::{Error, Gpu, GpuOptions};

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
    /// or (`--format native`) a folder of native safetensors files.
    Compress {
        input: PathBuf,
        /// Output folder (created; must hold no .safetensors yet).
        #[arg(short, long)]
        output: PathBuf,
        /// Encoder threads (default: all cores).
        #[arg(long)]
        threads: Option<usize>,
        #[arg(long, value_enum, default_value = "df11")]
        format: Format,
    },
    /// A DF11 checkpoint folder, or a native file or folder of them, → one BF16 safetensors
    /// file with the original names (the format is detected).
    Decompress {
        input: PathBuf,
        #[arg(short, long)]
        output: PathBuf,
        /// Decode with the CPU reference instead of the GPU.
        #[arg(long)]
        cpu: bool,
        /// Original shapes: a safetensors file or a model.safetensors.index.json.
        #[arg(long)]
        shapes: Option<PathBuf>,
    },
}

pub fn run(options: GpuOptions, command: Command) -> Result<ExitCode, Error> {
    let result = match command {
        Command::Compress {
            input,
            output,
            threads,
            format,
        } => run_compress(&input, &output, threads, format),
        Command::Decompress {
            input,
            output,
            cpu,
            shapes,
        } => run_decompress(options, &input, &output, cpu, shapes.as_deref()),
    };
    match result {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(Df11Error::Gpu(e)) => Err(e),
        Err(e) => {
            eprintln!("squeeze: {e}");
            Ok(ExitCode::FAILURE)
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
    threads: Option<usize>,
    format: Format,
) -> Result<(), Df11Error> {
    let threads = threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let converted = Converted::decode(input)?;
    let input = converted.as_ref().map_or(input, |c| c.file.as_path());
    let bar = progress_bar("compress");
    let started = Instant::now();
    let progress = |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    };
    let report = match format {
        Format::Df11 => compress::compress(input, output, Layout::DF11, threads, progress)?,
        Format::Native => {
            native_file::compress(&native_file::inputs(input)?, output, threads, progress)?
        }
    };
    let name = match format {
        Format::Df11 => "DF11",
        Format::Native => "native",
    };
    bar.finish_and_clear();
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
    println!("wrote {}", output.display());
    Ok(())
}

/// A compressed input to `compress` (a DF11 checkpoint folder, or native files) decoded by the
/// CPU reference to one temporary BF16 file, so that DF11 and native convert into each other
/// losslessly; removed when dropped.
struct Converted {
    dir: PathBuf,
    file: PathBuf,
}

impl Converted {
    /// `None` when `input` is plain safetensors.
    fn decode(input: &Path) -> Result<Option<Converted>, Df11Error> {
        let config = input.join("config.json");
        let df11 = input.is_dir()
            && std::fs::read_to_string(&config)
                .ok()
                .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
                .is_some_and(|v| v.get("dfloat11_config").is_some());
        let files = native_file::inputs(input)?;
        let native = !df11
            && !files.is_empty()
            && files
                .iter()
                .map(|f| native_file::is_native(f))
                .collect::<Result<Vec<_>, _>>()?
                .into_iter()
                .all(|n| n);
        if !df11 && !native {
            return Ok(None);
        }
        let dir = std::env::temp_dir().join(format!("squeeze-convert-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|source| Df11Error::Io {
            path: dir.clone(),
            source,
        })?;
        let converted = Converted {
            file: dir.join("model.safetensors"),
            dir,
        };
        if df11 {
            let checkpoint = Checkpoint::open(input)?;
            let report = decompress(
                &checkpoint,
                &converted.file,
                &ShapeMap::new(),
                Decoder::Cpu,
                |_, _| {},
            )?;
            for name in &report.flat {
                eprintln!("warning: no shape known for `{name}`: kept 1-D, so stored uncompressed");
            }
        } else {
            native_file::decompress(&files, &converted.file, NativeDecoder::Cpu, |_, _| {})?;
        }
        eprintln!("decoded {} to BF16 first (CPU reference)", input.display());
        Ok(Some(converted))
    }
}

impl Drop for Converted {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn run_decompress(
    options: GpuOptions,
    input: &Path,
    output: &Path,
    cpu: bool,
    shapes_path: Option<&Path>,
) -> Result<(), Df11Error> {
    let files = native_file::inputs(input)?;
    let native = !files.is_empty()
        && files
            .iter()
            .map(|f| native_file::is_native(f))
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .all(|n| n);
    if native {
        return run_native_decompress(options, &files, output, cpu);
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
    let report = decompress(&checkpoint, output, &given, decoder, |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    })?;
    bar.finish_and_clear();
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
    output: &Path,
    cpu: bool,
) -> Result<(), Df11Error> {
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
    let (weights, written) = native_file::decompress(files, output, decoder, |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    })?;
    bar.finish_and_clear();
    println!(
        "decoded {weights} native weights from {} files on {on}; wrote {} ({:.2} MB) in {:.2} s",
        files.len(),
        output.display(),
        mb(written),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
