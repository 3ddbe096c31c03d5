//! `squeeze bench`: the roofline report on one adapter — the default representative set or
//! `--full`, a progress line on a terminal, the table, and optionally JSON and an SVG chart —
//! and `squeeze bench compare`, two reports row by row.

mod compare;
mod plot;
mod progress;
mod table;

use std::path::PathBuf;
use std::process::ExitCode;

use squeeze::{Error, Gpu, GpuOptions};
use squeeze_bench::{Event, Sizes};

use crate::paths::{Output, OutputKind};
use progress::Progress;
use table::Table;

/// `squeeze bench [FILTER] [--full] [--json FILE] [--plot FILE.svg] [--force]`, or
/// `squeeze bench compare A.json B.json`. A subcommand excludes the run's arguments, so
/// `compare` is never read as a filter and any other word is one.
#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    command: Option<BenchCommand>,
    /// Run only benchmarks whose kernel or shape contains this text (copy always runs); an
    /// error, listing the kernels, if none does.
    filter: Option<String>,
    /// Run every shape, format and path (default: one shape per kernel and format family,
    /// about two minutes on lavapipe).
    #[arg(long)]
    full: bool,
    /// Also write the report as JSON to this file (checked before the run).
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Also draw the run as an SVG chart: each row's fraction of copy bandwidth, by family.
    #[arg(long, value_name = "FILE.svg")]
    plot: Option<PathBuf>,
    /// Replace the --json and --plot files if they exist.
    #[arg(long)]
    force: bool,
}

#[derive(clap::Subcommand)]
enum BenchCommand {
    /// Host cost of recording a steady-state decode step of a 7B-shaped model: seconds per
    /// dispatch, and the buffers and bind groups squeeze creates per step.
    Record {
        /// Steps recorded (each into its own encoder, finished, never submitted).
        #[arg(long, default_value_t = 20)]
        steps: u32,
        /// Also write the row as JSON to this file (checked before the run).
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
        /// Replace the --json file if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Two `--json` reports row by row (matched by kernel and shape): time A, time B and B/A.
    Compare {
        /// The baseline report.
        a: PathBuf,
        /// The report compared with it.
        b: PathBuf,
    },
}

pub fn run(options: GpuOptions, args: Args) -> Result<ExitCode, Error> {
    match args.command {
        Some(BenchCommand::Compare { a, b }) => compare::run(&a, &b),
        Some(BenchCommand::Record { steps, json, force }) => {
            record(options, steps, json.as_ref(), force)
        }
        None => measure(options, &args),
    }
}

/// Checks the output paths, selects the benchmarks (a filter that matches nothing stops here,
/// before any is prepared), runs them and writes what was asked for.
fn measure(options: GpuOptions, args: &Args) -> Result<ExitCode, Error> {
    let output = |arg, path: &PathBuf| Output::new(arg, path, OutputKind::File, args.force);
    let json = args
        .json
        .as_ref()
        .map(|p| output("--json", p))
        .transpose()?;
    if let Some(path) = &args.plot
        && path
            .extension()
            .is_none_or(|e| !e.eq_ignore_ascii_case("svg"))
    {
        return Err(Error::invalid(
            "--plot",
            "file name",
            "one ending in .svg",
            path.display(),
        ));
    }
    let plot = args
        .plot
        .as_ref()
        .map(|p| output("--plot", p))
        .transpose()?;
    let gpu = Gpu::new(options)?;
    let registry = squeeze_bench::registry(&gpu, Sizes::Real);
    let benches = squeeze_bench::select(registry, args.full, args.filter.as_deref())?;
    let table = Table::for_benches(&benches);
    println!("adapter: {}", gpu.label());
    println!("{}", table.header());
    let progress = Progress::new(benches.len());
    let report = squeeze_bench::run(&gpu, benches, |event| match event {
        Event::Start { index, bench } => progress.start(index, bench.kernel, &bench.shape),
        Event::Row(row) => progress.println(&table.row(row)),
    });
    progress.finish();
    let report = report?;
    println!(
        "copy bandwidth (read + write): {:.2} GB/s — the denominator of `× copy`",
        report.copy_gb_per_s
    );
    if let Some(out) = json {
        let text = serde_json::to_string_pretty(&report)
            .map_err(|e| Error::invalid("--json", "report", "serialisable", e))?;
        write("--json", out, text.as_bytes())?;
    }
    if let Some(out) = plot {
        write("--plot", out, plot::svg(&report)?.as_bytes())?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `squeeze bench record`: one row, kernel `record` ([`squeeze_bench::record`]).
fn record(
    options: GpuOptions,
    steps: u32,
    json: Option<&PathBuf>,
    force: bool,
) -> Result<ExitCode, Error> {
    let json = json
        .map(|p| Output::new("--json", p, OutputKind::File, force))
        .transpose()?;
    let gpu = Gpu::new(options)?;
    println!("adapter: {}", gpu.label());
    let row = squeeze_bench::record::measure(&gpu, steps)?;
    println!(
        "{}  {}
  {:.2} µs per dispatch ({} dispatches per step; {:.2} µs with a new uniform and \
         bind group per dispatch); per steady-state step: {} buffers, {} bind groups created",
        row.kernel,
        row.shape,
        row.seconds * 1e6,
        row.dispatches,
        row.seconds_uncached * 1e6,
        row.buffers_created,
        row.bind_groups_created
    );
    if let Some(out) = json {
        let report = serde_json::json!({
            "adapter": gpu.info().name,
            "backend": format!("{:?}", gpu.info().backend),
            "rows": [row],
        });
        let text = serde_json::to_string_pretty(&report)
            .map_err(|e| Error::invalid("--json", "report", "serialisable", e))?;
        write("--json", out, text.as_bytes())?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes `bytes` through `out`'s temporary (argument `arg`) and renames it into place.
fn write(arg: &'static str, out: Output, bytes: &[u8]) -> Result<(), Error> {
    std::fs::write(out.path(), bytes).map_err(|e| {
        Error::invalid(
            arg,
            "file",
            "writable",
            format!("{}: {e}", out.target().display()),
        )
    })?;
    let target = out.target().to_path_buf();
    out.commit()?;
    println!("wrote {}", target.display());
    Ok(())
}
