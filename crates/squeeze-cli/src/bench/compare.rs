//! `squeeze bench compare A.json B.json`: two `squeeze bench --json` reports — two adapters, or
//! one before and after a change — row by row, matched by (kernel, shape): time A, time B and
//! B/A (below 1: B is faster). Rows only one report has are listed as such.

use std::path::Path;
use std::process::ExitCode;

use squeeze::Error;
use squeeze_bench::{Report, Row};

pub fn run(a: &Path, b: &Path) -> Result<ExitCode, Error> {
    let (report_a, report_b) = (load("A", a)?, load("B", b)?);
    for (name, path, report) in [("A", a, &report_a), ("B", b, &report_b)] {
        println!(
            "{name}: {} — {} ({}){}",
            path.display(),
            report.adapter,
            report.backend,
            if report.date.is_empty() {
                String::new()
            } else {
                format!(", {}", report.date)
            }
        );
    }
    let find = |report: &'_ Report, row: &Row| {
        report
            .rows
            .iter()
            .find(|r| r.kernel == row.kernel && r.shape == row.shape)
            .map(|r| r.seconds)
    };
    let matched: Vec<(&Row, f64)> = report_a
        .rows
        .iter()
        .filter_map(|row| find(&report_b, row).map(|b| (row, b)))
        .collect();
    let only_a: Vec<&Row> = report_a
        .rows
        .iter()
        .filter(|row| find(&report_b, row).is_none())
        .collect();
    let only_b: Vec<&Row> = report_b
        .rows
        .iter()
        .filter(|row| find(&report_a, row).is_none())
        .collect();
    let width = |title: &str, texts: &mut dyn Iterator<Item = &str>| {
        texts
            .map(|t| t.chars().count())
            .fold(title.len(), usize::max)
    };
    let kw = width(
        "kernel",
        &mut matched.iter().map(|(r, _)| r.kernel.as_str()),
    );
    let sw = width("shape", &mut matched.iter().map(|(r, _)| r.shape.as_str()));
    println!(
        "{:<kw$} {:<sw$} {:>12} {:>12} {:>7}",
        "kernel", "shape", "A (µs)", "B (µs)", "B/A"
    );
    for (row, b) in &matched {
        println!(
            "{:<kw$} {:<sw$} {:>12.1} {:>12.1} {:>7.3}",
            row.kernel,
            row.shape,
            row.seconds * 1e6,
            b * 1e6,
            b / row.seconds
        );
    }
    for (name, rows) in [("A", &only_a), ("B", &only_b)] {
        if !rows.is_empty() {
            println!("only in {name}:");
            for row in rows.iter() {
                println!(
                    "  {} {}  {:.1} µs",
                    row.kernel,
                    row.shape,
                    row.seconds * 1e6
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Reads a report written by `squeeze bench --json` (argument `arg`).
fn load(arg: &'static str, path: &Path) -> Result<Report, Error> {
    let bad = |e: &dyn std::fmt::Display| {
        Error::invalid(
            arg,
            "file",
            "a report written by `squeeze bench --json`",
            format!("{}: {e}", path.display()),
        )
    };
    let text = std::fs::read_to_string(path).map_err(|e| bad(&e))?;
    serde_json::from_str(&text).map_err(|e| bad(&e))
}
