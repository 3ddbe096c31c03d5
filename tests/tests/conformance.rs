//! Every registered conformance case on every adapter found, each its own named test
//! `backend::adapter::kernel::path::case`, e.g.
//! `vulkan::llvmpipe::gemv::q4_0::subgroup::odd_rows_batch_1_8`, so that
//! `cargo test -p squeeze-conformance --test conformance -- gemv` runs only the GEMV cases.
//!
//! A path the adapter lacks is reported as ignored, with the missing feature as the reason; no
//! adapter at all is a failing test with instructions, never a silent pass. Each adapter is opened
//! once and shared by its cases, so a pipeline compiles once per adapter however many cases use
//! it. Trials alternate between adapters, so parallel test threads mostly drive different devices.

use std::collections::BTreeMap;
use std::sync::Arc;

use libtest_mimic::{Arguments, Completion, Failed, Trial};
use squeeze::{AdapterEntry, Gpu};
use squeeze_conformance::adapters::{NO_ADAPTER_HELP, open_all};
use squeeze_conformance::{Case, Outcome, cases, run};

fn main() {
    let mut args = Arguments::from_args();
    let adapters = open_all(None);
    let trials = if adapters.is_empty() {
        // Not subject to filters: `-- gemv` on a machine without a GPU must fail, not pass.
        args.filter = None;
        args.skip.clear();
        vec![Trial::test("no_adapter", || Err(NO_ADAPTER_HELP.into()))]
    } else {
        trials(adapters)
    };
    assert_unique(&trials);
    libtest_mimic::run(&args, trials).exit();
}

/// One trial per case × adapter (cases interleaved across adapters); an adapter that does not
/// open is one failing trial.
fn trials(adapters: Vec<(AdapterEntry, squeeze::Result<Gpu>)>) -> Vec<Trial> {
    let prefixes = adapter_prefixes(adapters.iter().map(|(entry, _)| entry));
    let mut per_adapter = Vec::new();
    for ((entry, gpu), prefix) in adapters.into_iter().zip(prefixes) {
        per_adapter.push(match gpu {
            Ok(gpu) => {
                let gpu = Arc::new(gpu);
                let trial = |case: Case| {
                    let gpu = Arc::clone(&gpu);
                    let name = format!("{prefix}::{}", case_name(&case));
                    Trial::ignorable_test(name, move || outcome(&gpu, &case))
                };
                cases().into_iter().map(trial).collect()
            }
            Err(e) => {
                let why = format!("{}: could not open: {e}", entry.label());
                vec![Trial::test(format!("{prefix}::open"), || Err(why.into()))]
            }
        });
    }
    interleave(per_adapter)
}

/// Runs `case` on `gpu`: a missing feature ignores the trial, a mismatch fails it.
fn outcome(gpu: &Gpu, case: &Case) -> Result<Completion, Failed> {
    match run(gpu, case) {
        Outcome::Pass => Ok(Completion::Completed),
        Outcome::Unsupported(feature) => {
            Ok(Completion::ignored_with(format!("adapter lacks {feature}")))
        }
        Outcome::Fail(why) => Err(why.into()),
    }
}

/// Takes one trial from each list in turn until all are empty.
fn interleave(lists: Vec<Vec<Trial>>) -> Vec<Trial> {
    let mut lists: Vec<_> = lists.into_iter().map(Vec::into_iter).collect();
    let mut out = Vec::new();
    loop {
        let before = out.len();
        out.extend(lists.iter_mut().filter_map(Iterator::next));
        if out.len() == before {
            return out;
        }
    }
}

/// `backend::adapter` for each entry, e.g. `vulkan::llvmpipe`; the adapter's index is appended
/// only where two adapters of one backend share a name.
fn adapter_prefixes<'a>(entries: impl Iterator<Item = &'a AdapterEntry> + Clone) -> Vec<String> {
    let base = |e: &AdapterEntry| {
        let name = e.info.name.split(" (").next().unwrap_or_default();
        format!("{}::{}", slug(&format!("{:?}", e.info.backend)), slug(name))
    };
    let mut counts = BTreeMap::new();
    for entry in entries.clone() {
        *counts.entry(base(entry)).or_insert(0) += 1;
    }
    entries
        .map(|e| match counts[&base(e)] {
            1 => base(e),
            _ => format!("{}_{}", base(e), e.index),
        })
        .collect()
}

/// `kernel::path::case`, e.g. `attention::decode::portable::gqa_4_sink_plus_window`.
fn case_name(case: &Case) -> String {
    let kernel: Vec<String> = case.kernel.split('/').map(slug).collect();
    format!(
        "{}::{}::{}",
        kernel.join("::"),
        case.path.name(),
        slug(case.name)
    )
}

/// Lower-case ASCII letters and digits joined by single underscores; the few symbols case names
/// use for meaning become words (`≥` → `ge`), so distinct cases keep distinct names.
fn slug(text: &str) -> String {
    let mut words = String::new();
    for c in text.chars() {
        match c {
            '≥' => words.push_str(" ge "),
            '≤' => words.push_str(" le "),
            '±' => words.push_str(" pm "),
            '+' => words.push_str(" plus "),
            '→' => words.push_str(" to "),
            '×' => words.push_str(" x "),
            c if c.is_ascii_alphanumeric() => words.push(c.to_ascii_lowercase()),
            _ => words.push(' '),
        }
    }
    words.split_whitespace().collect::<Vec<_>>().join("_")
}

/// Panics naming every test name given to more than one trial: a duplicate could not be selected
/// or reported on its own.
fn assert_unique(trials: &[Trial]) {
    let mut counts = BTreeMap::new();
    for trial in trials {
        *counts.entry(trial.name()).or_insert(0) += 1;
    }
    let duplicates: Vec<&str> = counts
        .into_iter()
        .filter(|&(_, n)| n > 1)
        .map(|(name, _)| name)
        .collect();
    assert!(
        duplicates.is_empty(),
        "conformance test names must be unique; rename these cases: {duplicates:?}"
    );
}
