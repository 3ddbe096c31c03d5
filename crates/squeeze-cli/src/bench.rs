//! `squeeze bench`: the roofline report on one adapter.

use std::path::Path;
use std::process::ExitCode;

use squeeze::{Error, Gpu, GpuOptions};
use squeeze_bench::Row;

pub fn run(
    options: GpuOptions,
    filter: Option<&str>,
    json: Option<&Path>,
) -> Result<ExitCode, Error> {
    let gpu = Gpu::new(options)?;
    println!("adapter: {}", gpu.label());
    println!("{}", Row::HEADER);
    let report = squeeze_bench::run(&gpu, filter, |row| println!("{row}"))?;
    println!(
        "copy bandwidth (read + write): {:.2} GB/s — the denominator of `× copy`",
        report.copy_gb_per_s
    );
    if let Some(path) = json {
        let text = serde_json::to_string_pretty(&report)
            .map_err(|e| Error::invalid("--json", "report", "serialisable", e))?;
        std::fs::write(path, text).map_err(|e| {
            Error::invalid(
                "--json",
                "file",
                "writable",
                format!("{}: {e}", path.display()),
            )
        })?;
        println!("wrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}
