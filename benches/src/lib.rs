//! The roofline harness behind `squeeze bench` and the criterion benches: each benchmark is a
//! kernel at a representative shape that records its work into an encoder and states the bytes
//! it moves. The copy kernel runs first in every report, and every row is given as GB/s and as a
//! fraction of that copy bandwidth measured in the same run on the same adapter.

pub mod attention;
pub mod core;
mod date;
pub mod dfloat11;
pub mod dfloat11_native;
pub mod quant;
pub mod record;
pub mod topk;

use serde::{Deserialize, Serialize};
use squeeze::{Gpu, Profiler, Result, Timing};

/// Records one repetition of a workload into an encoder.
pub type Record = Box<dyn Fn(&mut squeeze::wgpu::CommandEncoder) -> Result<()>>;

/// Builds a benchmark's buffers and kernel on a device.
pub type Prepare = Box<dyn Fn(&Gpu) -> Result<Workload>>;

/// Work recorded into an encoder, repeatable, and the bytes one repetition reads plus writes.
pub struct Workload {
    pub bytes_moved: u64,
    /// Floating-point operations of one repetition, for compute-bound kernels (GEMM); 0 where
    /// bandwidth is the figure.
    pub flops: u64,
    pub record: Record,
}

/// Which runs measure a benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The representative set `squeeze bench` runs by default — one shape per kernel and format
    /// family, a couple of minutes on lavapipe — and `--full` too.
    Default,
    /// Only `squeeze bench --full`: every shape, format and path.
    Full,
}

/// How large the benchmarked problems are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sizes {
    /// Representative LLM shapes (smaller on an emulated adapter, where they only cost time).
    Real,
    /// Tiny shapes that run every benchmark's code in moments: CI's smoke test of the benches.
    Smoke,
}

/// A benchmark: a kernel at one shape, prepared on demand (buffers are allocated only for the
/// benchmarks that run).
pub struct Bench {
    /// The kernel family (`core`, `quant`, `dfloat11`, `topk`, `attention`): how plots group rows.
    pub family: &'static str,
    pub kernel: &'static str,
    pub shape: String,
    pub scope: Scope,
    pub prepare: Prepare,
}

/// Every benchmark for `gpu` at `sizes`, the copy reference first.
pub fn registry(gpu: &Gpu, sizes: Sizes) -> Vec<Bench> {
    let mut all = core::benches(gpu, sizes);
    all.extend(quant::benches(gpu, sizes));
    all.extend(dfloat11::benches(gpu, sizes));
    all.extend(dfloat11_native::benches(gpu, sizes));
    all.extend(topk::benches(gpu, sizes));
    all.extend(attention::benches(gpu, sizes));
    all
}

/// The benchmarks a run measures: the copy reference first, always, then those of the default
/// set (every one if `full`) whose kernel or shape contains `filter`. A filter that matches
/// nothing is an error that lists the kernels, so a typo cannot pass for a short run.
pub fn select(all: Vec<Bench>, full: bool, filter: Option<&str>) -> Result<Vec<Bench>> {
    let matches = |b: &Bench| filter.is_none_or(|f| b.kernel.contains(f) || b.shape.contains(f));
    let mut kernels: Vec<&str> = Vec::new();
    for b in &all {
        if !kernels.contains(&b.kernel) {
            kernels.push(b.kernel);
        }
    }
    let only_full = all
        .iter()
        .filter(|b| b.scope == Scope::Full && matches(b))
        .count();
    let kernels = kernels.join(", ");
    let mut all = all.into_iter();
    let reference = all.next().filter(|b| b.kernel == "copy").ok_or_else(|| {
        squeeze::Error::invalid("registry", "first benchmark", "copy", "another kernel")
    })?;
    let reference_matches = matches(&reference);
    let mut chosen = vec![reference];
    chosen.extend(all.filter(|b| (full || b.scope == Scope::Default) && matches(b)));
    if let Some(f) = filter
        && chosen.len() == 1
        && !reference_matches
    {
        let actual = if full || only_full == 0 {
            format!("`{f}`, which matches none")
        } else {
            format!(
                "`{f}`, which matches {only_full} benchmark(s) of the full set only (add --full)"
            )
        };
        return Err(squeeze::Error::invalid(
            "FILTER",
            "filter",
            format!("text of a benchmark's kernel or shape (kernels: {kernels})"),
            actual,
        ));
    }
    Ok(chosen)
}

/// Whether the adapter is a CPU emulating a GPU.
pub fn is_emulated(gpu: &Gpu) -> bool {
    gpu.info().device_type == squeeze::wgpu::DeviceType::Cpu
}

/// Target wall time of one timed sample.
const SAMPLE_SECONDS: f64 = 0.1;
/// Samples per benchmark; the fastest is reported (noise only ever adds time).
const SAMPLES: usize = 5;
/// Most repetitions recorded into one sample.
const MAX_REPETITIONS: u32 = 64;

/// Times a workload: one warm-up repetition, then [`SAMPLES`] samples sized to about
/// [`SAMPLE_SECONDS`]; returns the fastest per-repetition time.
pub fn measure(profiler: &Profiler, workload: &Workload) -> Result<Timing> {
    let warm = profiler.time(1, &workload.record)?;
    let repetitions =
        ((SAMPLE_SECONDS / warm.seconds.max(1e-9)).ceil() as u32).clamp(1, MAX_REPETITIONS);
    let mut best: Option<Timing> = None;
    for _ in 0..SAMPLES {
        let t = profiler.time(repetitions, &workload.record)?;
        if best.is_none_or(|b| t.seconds < b.seconds) {
            best = Some(t);
        }
    }
    Ok(best.unwrap_or(warm))
}

/// One measured benchmark.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Row {
    /// The kernel family ([`Bench::family`]); empty in reports written before families.
    #[serde(default)]
    pub family: String,
    pub kernel: String,
    pub shape: String,
    pub seconds: f64,
    pub bytes_moved: u64,
    pub gb_per_s: f64,
    /// `gb_per_s` over the copy kernel's read+write GB/s in the same run.
    pub copy_fraction: f64,
    pub clock: String,
    /// GFLOP/s, for workloads that state their floating-point operations.
    pub gflop_per_s: Option<f64>,
}

/// A whole `squeeze bench` run on one adapter.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub adapter: String,
    pub backend: String,
    pub driver: String,
    pub device_type: String,
    /// When the run started, UTC (`2026-12-06T10:02:26Z`); empty in reports written before dates.
    #[serde(default)]
    pub date: String,
    /// Read+write GB/s of the copy kernel: the denominator of every `copy_fraction`.
    pub copy_gb_per_s: f64,
    pub rows: Vec<Row>,
}

fn row(bench: &Bench, workload: &Workload, timing: Timing, copy_gb_per_s: f64) -> Row {
    let gb_per_s = workload.bytes_moved as f64 / timing.seconds / 1e9;
    Row {
        family: bench.family.to_string(),
        kernel: bench.kernel.to_string(),
        shape: bench.shape.clone(),
        seconds: timing.seconds,
        bytes_moved: workload.bytes_moved,
        gb_per_s,
        copy_fraction: gb_per_s / copy_gb_per_s,
        clock: timing.clock.name().to_string(),
        gflop_per_s: (workload.flops > 0).then(|| workload.flops as f64 / timing.seconds / 1e9),
    }
}

/// What [`run`] reports as it goes.
pub enum Event<'a> {
    /// Benchmark `index` (from 0) of the run is about to be prepared and timed.
    Start { index: usize, bench: &'a Bench },
    /// A benchmark was measured.
    Row(&'a Row),
}

/// Measures `benches` (from [`select`]: the copy reference first) in order; `observe` is told
/// when each starts and each row as it is measured.
pub fn run(gpu: &Gpu, benches: Vec<Bench>, mut observe: impl FnMut(Event<'_>)) -> Result<Report> {
    let date = date::now_utc();
    let profiler = Profiler::new(gpu);
    let mut copy_gb_per_s = None;
    let mut rows = Vec::with_capacity(benches.len());
    for (index, bench) in benches.iter().enumerate() {
        observe(Event::Start { index, bench });
        let workload = (bench.prepare)(gpu)?;
        let timing = measure(&profiler, &workload)?;
        let reference = match copy_gb_per_s {
            Some(gb_per_s) => gb_per_s,
            None if bench.kernel == "copy" => {
                let gb_per_s = workload.bytes_moved as f64 / timing.seconds / 1e9;
                *copy_gb_per_s.insert(gb_per_s)
            }
            None => {
                return Err(squeeze::Error::invalid(
                    "benches",
                    "first benchmark",
                    "copy",
                    bench.kernel,
                ));
            }
        };
        let r = row(bench, &workload, timing, reference);
        observe(Event::Row(&r));
        rows.push(r);
    }
    let info = gpu.info();
    Ok(Report {
        adapter: info.name.clone(),
        backend: format!("{:?}", info.backend),
        driver: format!("{} {}", info.driver, info.driver_info)
            .trim()
            .to_string(),
        device_type: format!("{:?}", info.device_type),
        date,
        copy_gb_per_s: copy_gb_per_s.unwrap_or(0.0),
        rows,
    })
}

#[cfg(test)]
mod tests {
    use super::{Bench, Scope, select};

    fn bench(kernel: &'static str, shape: &str, scope: Scope) -> Bench {
        Bench {
            family: "test",
            kernel,
            shape: shape.to_string(),
            scope,
            prepare: Box::new(|_| Err(squeeze::Error::invalid("test", "bench", "unused", ""))),
        }
    }

    fn registry() -> Vec<Bench> {
        vec![
            bench("copy", "64 MiB", Scope::Default),
            bench("gemv", "q4_0 b1", Scope::Default),
            bench("gemv", "q5_k b1", Scope::Full),
            bench("topk", "32×128K", Scope::Default),
        ]
    }

    fn names(benches: &[Bench]) -> Vec<String> {
        benches
            .iter()
            .map(|b| format!("{} {}", b.kernel, b.shape))
            .collect()
    }

    #[test]
    fn the_default_set_and_full_keep_copy_first() {
        let default = select(registry(), false, None).unwrap();
        assert_eq!(
            names(&default),
            ["copy 64 MiB", "gemv q4_0 b1", "topk 32×128K"]
        );
        assert_eq!(select(registry(), true, None).unwrap().len(), 4);
        let gemv = select(registry(), true, Some("gemv")).unwrap();
        assert_eq!(
            names(&gemv),
            ["copy 64 MiB", "gemv q4_0 b1", "gemv q5_k b1"]
        );
        assert_eq!(select(registry(), false, Some("copy")).unwrap().len(), 1);
    }

    #[test]
    fn a_filter_that_matches_nothing_lists_the_kernels() {
        let error = |full, filter| {
            select(registry(), full, Some(filter))
                .err()
                .unwrap()
                .to_string()
        };
        let e = error(true, "nosuch");
        assert!(
            e.contains("copy, gemv, topk") && e.contains("`nosuch`"),
            "{e}"
        );
        let e = error(false, "q5_k");
        assert!(e.contains("add --full"), "{e}");
    }
}
