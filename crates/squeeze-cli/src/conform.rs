//! `squeeze conform`: every conformance case on every adapter, then a pass/fail table per
//! kernel × backend × path.

use std::collections::BTreeMap;
use std::process::ExitCode;

use squeeze::{Error, GpuOptions, enumerate_adapters, select_adapter};
use squeeze_conformance::adapters::open_all;
use squeeze_conformance::{Outcome, cases, run as run_case};

#[derive(Default)]
struct Tally {
    pass: usize,
    fail: usize,
    unsupported: usize,
}

pub fn run(options: &GpuOptions, filter: Option<&str>) -> Result<ExitCode, Error> {
    let wanted = |case: &squeeze_conformance::Case| {
        filter.is_none_or(|f| case.kernel.contains(f) || case.name.contains(f))
    };
    let cases: Vec<_> = cases().into_iter().filter(wanted).collect();
    if cases.is_empty() {
        // Families (the part before any `/`: `gemv`, not every `gemv/<format>`).
        let mut kernels: Vec<_> = squeeze_conformance::cases()
            .iter()
            .map(|c| c.kernel.split('/').next().unwrap_or(c.kernel))
            .collect();
        kernels.sort_unstable();
        kernels.dedup();
        return Err(Error::invalid(
            "FILTER",
            "text",
            format!(
                "part of a kernel or case name; kernels: {} (and their formats, e.g. gemv/q4_0)",
                kernels.join(", ")
            ),
            format!("`{}`, which matches no case", filter.unwrap_or_default()),
        ));
    }
    let adapters = open_all(options.backend);
    if adapters.is_empty() || options.adapter.is_some() {
        // The same errors as every other command: what was asked for, and what exists.
        select_adapter(&enumerate_adapters(), options)?;
    }
    let mut table: BTreeMap<(String, &'static str, &'static str), Tally> = BTreeMap::new();
    let mut failed = false;
    for (entry, gpu) in adapters {
        if options.adapter.is_some_and(|i| i != entry.index) {
            continue;
        }
        let gpu = match gpu {
            Ok(gpu) => gpu,
            Err(e) => {
                println!("{}: could not open: {e}", entry.label());
                failed = true;
                continue;
            }
        };
        let backend = format!(
            "{:?} #{} {}",
            entry.info.backend, entry.index, entry.info.name
        );
        for case in &cases {
            let outcome = run_case(&gpu, case);
            let tally = table
                .entry((backend.clone(), case.kernel, case.path.name()))
                .or_default();
            match &outcome {
                Outcome::Pass => tally.pass += 1,
                Outcome::Fail(why) => {
                    tally.fail += 1;
                    failed = true;
                    println!(
                        "FAIL {backend} {} [{}] {}: {why}",
                        case.kernel,
                        case.path.name(),
                        case.name
                    );
                }
                Outcome::Unsupported(_) => tally.unsupported += 1,
            }
        }
    }
    println!(
        "{:<44} {:<10} {:<9} {:>5} {:>5} {:>11}  result",
        "adapter", "kernel", "path", "pass", "fail", "unsupported"
    );
    for ((backend, kernel, path), t) in &table {
        let result = match (t.fail, t.pass) {
            (0, 0) => "unsupported",
            (0, _) => "pass",
            _ => "FAIL",
        };
        println!(
            "{backend:<44} {kernel:<10} {path:<9} {:>5} {:>5} {:>11}  {result}",
            t.pass, t.fail, t.unsupported
        );
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
