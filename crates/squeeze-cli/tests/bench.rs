//! End-to-end: `squeeze bench` checks its filter and output paths before any work, writes its
//! JSON and SVG atomically, and `squeeze bench compare` matches two reports row by row. GPU runs
//! here are the copy reference alone (a second on lavapipe).

mod common;

use common::{folder, scratch, squeeze, stderr, stdout};

#[test]
fn a_filter_that_matches_nothing_is_an_error_listing_the_kernels() {
    let out = squeeze(&["bench", "nosuchkernel"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("`nosuchkernel`"), "{err}");
    for kernel in ["copy", "gemv", "dfloat11", "topk", "attention-dense"] {
        assert!(err.contains(kernel), "{kernel}: {err}");
    }
    assert!(
        !stdout(&out).lines().any(|l| l.starts_with("copy ")),
        "nothing ran: {}",
        stdout(&out)
    );
}

#[test]
fn a_filter_of_the_full_set_only_says_to_add_full() {
    let out = squeeze(&["bench", "q5_k"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("add --full"), "{}", stderr(&out));
}

#[test]
fn output_paths_are_checked_before_the_gpu_is_touched() {
    let missing = scratch("no-such-dir").join("b.json");
    let out = squeeze(&["bench", "copy", "--json", missing.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("does not exist"), "{}", stderr(&out));
    assert!(stdout(&out).is_empty(), "no run: {}", stdout(&out));

    let dir = std::env::temp_dir();
    let out = squeeze(&["bench", "copy", "--plot", dir.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(stdout(&out).is_empty(), "no run: {}", stdout(&out));

    let png = scratch("chart.png");
    let out = squeeze(&["bench", "copy", "--plot", png.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains(".svg"), "{}", stderr(&out));

    let existing = scratch("existing.json");
    std::fs::write(&existing, "keep me").unwrap();
    let out = squeeze(&["bench", "copy", "--json", existing.to_str().unwrap()]);
    let kept = std::fs::read_to_string(&existing).unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--force"), "{}", stderr(&out));
    assert!(stdout(&out).is_empty(), "no run: {}", stdout(&out));
    assert_eq!(kept, "keep me");
}

#[test]
fn plot_and_json_are_written_and_force_replaces_an_existing_file() {
    let dir = folder("plot");
    let (svg, json) = (dir.join("run.svg"), dir.join("run.json"));
    std::fs::write(&json, "old").unwrap();
    let out = squeeze(&[
        "bench",
        "copy",
        "--plot",
        svg.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
        "--force",
    ]);
    let (chart, report) = (
        std::fs::read_to_string(&svg),
        std::fs::read_to_string(&json),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let chart = chart.unwrap();
    assert!(chart.starts_with("<svg"), "{chart}");
    assert!(chart.contains("squeeze bench"), "{chart}");
    assert!(
        chart.contains("copy 64 MiB") || chart.contains("copy 256 MiB"),
        "{chart}"
    );
    let report: serde_json::Value = serde_json::from_str(&report.unwrap()).unwrap();
    assert_eq!(report["rows"][0]["family"], "core");
    assert!(report["date"].as_str().unwrap().ends_with('Z'), "{report}");
    // Nothing but the two outputs: no `.partial` temporaries left beside them.
    let mut names: Vec<_> = std::fs::read_dir(&*dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["run.json", "run.svg"]);
}

/// A report of `rows` (kernel, shape, seconds) as `squeeze bench --json` writes it.
fn report(adapter: &str, rows: &[(&str, &str, f64)]) -> String {
    let rows: Vec<_> = rows
        .iter()
        .map(|(kernel, shape, seconds)| {
            serde_json::json!({
                "family": "quant", "kernel": kernel, "shape": shape, "seconds": seconds,
                "bytes_moved": 1000, "gb_per_s": 1.0, "copy_fraction": 0.5,
                "clock": "gpu-timestamp", "gflop_per_s": null
            })
        })
        .collect();
    serde_json::json!({
        "adapter": adapter, "backend": "Vulkan", "driver": "test", "device_type": "Cpu",
        "date": "2026-12-06T10:00:00Z", "copy_gb_per_s": 2.0, "rows": rows
    })
    .to_string()
}

#[test]
fn compare_matches_rows_by_kernel_and_shape() {
    let (a, b) = (scratch("a.json"), scratch("b.json"));
    std::fs::write(
        &a,
        report(
            "before",
            &[
                ("copy", "64 MiB → 64 MiB", 0.010),
                ("gemv", "q4_0 4096×4096 b1 (subgroup)", 0.004),
                ("gemm", "q4_0 4096×4096 × 128 tokens", 0.1),
            ],
        ),
    )
    .unwrap();
    std::fs::write(
        &b,
        report(
            "after",
            &[
                ("gemv", "q4_0 4096×4096 b1 (subgroup)", 0.002),
                ("copy", "64 MiB → 64 MiB", 0.010),
                ("attention-tokenselect", "ctx 32K × b1, budget 2K", 0.5),
            ],
        ),
    )
    .unwrap();
    let out = squeeze(&["bench", "compare", a.to_str().unwrap(), b.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let line = |start: &str| {
        text.lines()
            .find(|l| l.starts_with(start))
            .unwrap_or_else(|| panic!("no `{start}` line: {text}"))
            .to_string()
    };
    assert!(line("A: ").contains("before"), "{text}");
    assert!(line("B: ").contains("after"), "{text}");
    assert!(line("gemv ").trim_end().ends_with("0.500"), "{text}");
    assert!(line("copy ").trim_end().ends_with("1.000"), "{text}");
    let only_a = text.split("only in A:").nth(1).expect("rows only in A");
    assert!(only_a.contains("gemm q4_0"), "{text}");
    let only_b = text.split("only in B:").nth(1).expect("rows only in B");
    assert!(only_b.contains("attention-tokenselect"), "{text}");
}

#[test]
fn compare_is_a_subcommand_and_other_words_are_filters() {
    // `compare` takes no run options...
    let out = squeeze(&["bench", "compare", "a.json", "b.json", "--full"]);
    assert!(!out.status.success());
    // ...a missing report is named...
    let missing = scratch("missing.json");
    let out = squeeze(&[
        "bench",
        "compare",
        missing.to_str().unwrap(),
        missing.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("missing.json"), "{}", stderr(&out));
    // ...and a word that is not a subcommand is a filter.
    let out = squeeze(&["bench", "comparex"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("argument `FILTER`"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn record_reports_a_steady_state_step_that_allocates_nothing() {
    let json = scratch("record.json");
    let out = squeeze(&[
        "bench",
        "record",
        "--steps",
        "2",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let row = &report["rows"][0];
    assert_eq!(row["kernel"], "record", "{report}");
    assert_eq!(row["dispatches"], 322, "{report}");
    assert_eq!(row["buffers_created"], 0, "{report}");
    assert_eq!(row["bind_groups_created"], 0, "{report}");
    assert!(row["seconds"].as_f64().unwrap() > 0.0, "{report}");
}
