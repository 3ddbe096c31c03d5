//! The roofline harness behind `squeeze bench` and the criterion benches: each benchmark is a
//! kernel at a representative shape that records its work into an encoder and states the bytes
//! it moves. The copy kernel runs first in every report, and every row is given as GB/s and as a
//! fraction of that copy bandwidth measured in the same run on the same adapter.

pub mod attention;
pub mod core;
pub mod dfloat11;
pub mod dfloat11_native;
pub mod quant;
pub mod topk;

use std::fmt;

use serde::Serialize;
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

/// A benchmark: a kernel at one shape, prepared on demand (buffers are allocated only for the
/// benchmarks that run).
pub struct Bench {
    pub kernel: &'static str,
    pub shape: String,
    pub prepare: Prepare,
}

/// Every benchmark for `gpu`, the copy reference first. Shapes are smaller on CPU adapters
/// (lavapipe), where the device is emulated and large shapes only cost time.
pub fn registry(gpu: &Gpu) -> Vec<Bench> {
    let mut all = core::benches(gpu);
    all.extend(quant::benches(gpu));
    all.extend(dfloat11::benches(gpu));
    all.extend(dfloat11_native::benches(gpu));
    all.extend(topk::benches(gpu));
    all.extend(attention::benches(gpu));
    all
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
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub kernel: String,
    pub shape: String,
    pub seconds: f64,
    pub bytes_moved: u64,
    pub gb_per_s: f64,
    /// `gb_per_s` over the copy kernel's read+write GB/s in the same run.
    pub copy_fraction: f64,
    pub clock: &'static str,
    /// GFLOP/s, for workloads that state their floating-point operations.
    pub gflop_per_s: Option<f64>,
}

/// A whole `squeeze bench` run on one adapter.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub adapter: String,
    pub backend: String,
    pub driver: String,
    pub device_type: String,
    /// Read+write GB/s of the copy kernel: the denominator of every `copy_fraction`.
    pub copy_gb_per_s: f64,
    pub rows: Vec<Row>,
}

fn row(bench: &Bench, workload: &Workload, timing: Timing, copy_gb_per_s: f64) -> Row {
    let gb_per_s = workload.bytes_moved as f64 / timing.seconds / 1e9;
    Row {
        kernel: bench.kernel.to_string(),
        shape: bench.shape.clone(),
        seconds: timing.seconds,
        bytes_moved: workload.bytes_moved,
        gb_per_s,
        copy_fraction: gb_per_s / copy_gb_per_s,
        clock: timing.clock.name(),
        gflop_per_s: (workload.flops > 0).then(|| workload.flops as f64 / timing.seconds / 1e9),
    }
}

/// Runs the copy reference and every benchmark whose kernel or shape contains `filter`;
/// `progress` is told each row as it is measured.
pub fn run(gpu: &Gpu, filter: Option<&str>, mut progress: impl FnMut(&Row)) -> Result<Report> {
    let profiler = Profiler::new(gpu);
    let mut benches = registry(gpu).into_iter();
    let reference = benches
        .next()
        .filter(|b| b.kernel == "copy")
        .ok_or_else(|| {
            squeeze::Error::invalid("registry", "first benchmark", "copy", "another kernel")
        })?;
    let workload = (reference.prepare)(gpu)?;
    let timing = measure(&profiler, &workload)?;
    let copy_gb_per_s = workload.bytes_moved as f64 / timing.seconds / 1e9;
    let first = row(&reference, &workload, timing, copy_gb_per_s);
    progress(&first);
    let mut rows = vec![first];
    drop(workload);
    for bench in benches {
        let wanted = filter.is_none_or(|f| bench.kernel.contains(f) || bench.shape.contains(f));
        if !wanted {
            continue;
        }
        let workload = (bench.prepare)(gpu)?;
        let timing = measure(&profiler, &workload)?;
        let r = row(&bench, &workload, timing, copy_gb_per_s);
        progress(&r);
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
        copy_gb_per_s,
        rows,
    })
}

impl Row {
    /// The header matching [`Row`]'s `Display`.
    pub const HEADER: &'static str = "kernel       shape                                          time (µs)    bytes moved    GB/s     × copy  clock          GFLOP/s";
}

impl fmt::Display for Row {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:<12} {:<46} {:>10.1} {:>14} {:>8.2} {:>9.3}  {:<13}",
            self.kernel,
            self.shape,
            self.seconds * 1e6,
            self.bytes_moved,
            self.gb_per_s,
            self.copy_fraction,
            self.clock
        )?;
        match self.gflop_per_s {
            Some(g) => write!(f, " {g:>8.1}"),
            None => Ok(()),
        }
    }
}
