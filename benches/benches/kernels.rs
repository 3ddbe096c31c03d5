//! Criterion bench of every benchmark `squeeze bench --full` runs, one group per kernel family,
//! timed with the squeeze profiler (GPU timestamps where the adapter has them):
//! `cargo bench -p squeeze-bench --bench kernels [-- FILTER]`.
//!
//! Without `--bench` — `cargo test --all-targets`, criterion's test mode, which runs each
//! benchmark once — every benchmark is prepared at the smoke sizes and records one repetition,
//! so CI exercises every family's bench code in moments and none can rot unnoticed.

use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use squeeze::{Gpu, GpuOptions, Profiler};
use squeeze_bench::{Bench, Sizes, registry};

fn kernels(c: &mut Criterion) {
    let gpu = Gpu::new(GpuOptions::default()).unwrap_or_else(|e| panic!("no GPU adapter: {e}"));
    let timing = std::env::args().any(|a| a == "--bench");
    let sizes = if timing { Sizes::Real } else { Sizes::Smoke };
    let profiler = Profiler::new(&gpu);
    let mut families: Vec<(&str, Vec<Bench>)> = Vec::new();
    for bench in registry(&gpu, sizes) {
        match families.iter_mut().find(|(f, _)| *f == bench.family) {
            Some((_, benches)) => benches.push(bench),
            None => families.push((bench.family, vec![bench])),
        }
    }
    for (family, benches) in families {
        let mut group = c.benchmark_group(family);
        group.sample_size(10);
        for bench in benches {
            let id = format!("{} {}", bench.kernel, bench.shape);
            // Prepared one at a time: only one benchmark's buffers are alive.
            let workload = (bench.prepare)(&gpu).unwrap_or_else(|e| panic!("preparing {id}: {e}"));
            group.throughput(Throughput::Bytes(workload.bytes_moved));
            group.bench_function(&id, |b| {
                b.iter_custom(|iters| {
                    let reps = u32::try_from(iters).unwrap_or(u32::MAX).max(1);
                    let timing = profiler
                        .time(reps, &workload.record)
                        .unwrap_or_else(|e| panic!("{id}: {e}"));
                    Duration::from_secs_f64(timing.seconds * f64::from(reps))
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, kernels);
criterion_main!(benches);
