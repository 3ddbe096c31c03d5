//! Criterion bench of the copy kernel, timed with the squeeze profiler (GPU timestamps where the
//! adapter has them). `cargo test --benches` runs it once as a smoke test.

use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use squeeze::{Gpu, GpuOptions, Profiler};
use squeeze_bench::core::copy_workload;

fn copy(c: &mut Criterion) {
    let gpu = Gpu::new(GpuOptions::default()).unwrap_or_else(|e| panic!("no GPU adapter: {e}"));
    let mut group = c.benchmark_group("copy");
    for mib in [1u64, 16, 64] {
        let workload = copy_workload(&gpu, mib << 20).unwrap_or_else(|e| panic!("copy: {e}"));
        let profiler = Profiler::new(&gpu);
        group.throughput(Throughput::Bytes(workload.bytes_moved));
        group.bench_function(format!("{mib} MiB"), |b| {
            b.iter_custom(|iters| {
                let reps = u32::try_from(iters).unwrap_or(u32::MAX).max(1);
                let timing = profiler
                    .time(reps, &workload.record)
                    .unwrap_or_else(|e| panic!("copy: {e}"));
                Duration::from_secs_f64(timing.seconds * f64::from(reps))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, copy);
criterion_main!(benches);
