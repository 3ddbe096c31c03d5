//! Criterion bench of the DFloat11 and native encoders on the CPU: MB/s of BF16 input for one
//! 32 MiB matrix of realistic weights, with one thread and with every core. `cargo test --benches` runs it once
//! as a smoke test.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use squeeze::dfloat11::{Layout, encode, native};
use squeeze_bench::dfloat11::sample_weights;

fn encoder(c: &mut Criterion) {
    let data = sample_weights(4096 * 4096);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut group = c.benchmark_group("dfloat11 encode");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(data.len() as u64));
    let values: Vec<u16> = data
        .chunks_exact(2)
        .map(|b| u16::from_le_bytes([b[0], b[1]]))
        .collect();
    for threads in [1, cores] {
        group.bench_function(format!("4096×4096 bf16, {threads} threads"), |b| {
            b.iter(|| encode(&[&data], Layout::DF11, threads).expect("encodes"))
        });
        group.bench_function(format!("native 4096×4096 bf16, {threads} threads"), |b| {
            b.iter(|| native::encode(&values, 4096, 4096, threads).expect("encodes"))
        });
    }
    group.finish();
}

criterion_group!(benches, encoder);
criterion_main!(benches);
