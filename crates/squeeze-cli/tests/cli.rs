//! End-to-end: the real `squeeze` binary on whatever adapter this machine has (lavapipe in CI).

mod common;

use common::{scratch, squeeze, stderr, stdout};

#[test]
fn info_lists_adapters_with_features_and_limits() {
    let out = squeeze(&["info"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("adapter #0"), "{text}");
    assert!(text.contains("(default)"), "{text}");
    assert!(text.contains("max_storage_buffer_binding_size"), "{text}");
    assert!(text.contains("SUBGROUP="), "{text}");
}

#[test]
fn bench_copy_prints_bandwidth_and_writes_json() {
    let json = scratch("bench.json");
    let out = squeeze(&["bench", "copy", "--json", json.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("GB/s"), "{text}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let rows = report["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "the filter keeps only copy: {rows:?}");
    assert_eq!(rows[0]["kernel"], "copy");
    assert!(rows[0]["gb_per_s"].as_f64().unwrap() > 0.0);
    assert_eq!(rows[0]["copy_fraction"].as_f64().unwrap(), 1.0);
    assert!(report["copy_gb_per_s"].as_f64().unwrap() > 0.0);
}

#[test]
fn bench_rows_are_fractions_of_the_same_runs_copy() {
    let out = squeeze(&["bench", "widen"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.iter().any(|l| l.starts_with("copy ")), "{text}");
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("widen ")).count(),
        2,
        "{text}"
    );
}

#[test]
fn conform_passes_on_every_adapter() {
    let out = squeeze(&["conform"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    for kernel in ["copy", "widen", "bits"] {
        assert!(
            text.lines()
                .any(|l| l.contains(kernel) && l.ends_with("pass")),
            "{kernel}: {text}"
        );
    }
    assert!(!text.contains("FAIL"), "{text}");
}

#[test]
fn unknown_backend_and_adapter_are_errors_that_list_choices() {
    let out = squeeze(&["--backend", "cuda", "info"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("vulkan, metal, dx12, gl"),
        "{}",
        stderr(&out)
    );

    let out = squeeze(&["--adapter", "99", "bench", "copy"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("adapter index 99 is out of range") && err.contains("#0"),
        "{err}"
    );
}

#[test]
fn absent_backend_is_an_error_naming_what_exists() {
    // Metal and DX12 never exist on Linux; on macOS/Windows DX12/Metal respectively do not.
    let absent = if cfg!(target_os = "macos") {
        "dx12"
    } else {
        "metal"
    };
    let out = squeeze(&["--backend", absent, "bench", "copy"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains(&format!("backend `{absent}` has no adapter")) && err.contains("#0"),
        "{err}"
    );
}
