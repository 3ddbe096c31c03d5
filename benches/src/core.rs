//! Benchmarks of the core kernels: copy (the bandwidth reference) and widen.

use squeeze::core::copy::Copy;
use squeeze::core::widen::{Half, Widen};
use squeeze::{Binding, Gpu, Result};

use crate::{Bench, Scope, Sizes, Workload, is_emulated};

const FAMILY: &str = "core";

const MIB: u64 = 1 << 20;

/// The copy kernel over `bytes` (a multiple of 16): reads and writes `bytes` each.
pub fn copy_workload(gpu: &Gpu, bytes: u64) -> Result<Workload> {
    let copy = Copy::new(gpu)?;
    let src = gpu.storage_buffer("src", bytes)?;
    let dst = gpu.storage_buffer("dst", bytes)?;
    Ok(Workload {
        bytes_moved: 2 * bytes,
        flops: 0,
        record: Box::new(move |encoder| {
            copy.encode(encoder, Binding::whole(&src), Binding::whole(&dst))
        }),
    })
}

/// The widen kernel over `n` elements: reads 2n bytes, writes 4n.
pub fn widen_workload(gpu: &Gpu, format: Half, n: u32) -> Result<Workload> {
    let widen = Widen::new(gpu, format)?;
    let src = gpu.storage_buffer("src", u64::from(n) * 2)?;
    let dst = gpu.storage_buffer("dst", u64::from(n) * 4)?;
    Ok(Workload {
        bytes_moved: u64::from(n) * 6,
        flops: 0,
        record: Box::new(move |encoder| {
            widen.encode(encoder, n, Binding::whole(&src), Binding::whole(&dst))
        }),
    })
}

pub fn benches(gpu: &Gpu, sizes: Sizes) -> Vec<Bench> {
    // 256 MiB per buffer saturates a discrete GPU's memory well past its caches; lavapipe
    // emulates the GPU on CPU cores, where 64 MiB already exceeds the last-level cache.
    let (copy_bytes, widen_n): (u64, u32) = match sizes {
        Sizes::Smoke => (MIB, 1 << 16),
        Sizes::Real if is_emulated(gpu) => (64 * MIB, 16 << 20),
        Sizes::Real => (256 * MIB, 64 << 20),
    };
    let mut all = vec![Bench {
        family: FAMILY,
        kernel: "copy",
        shape: format!("{} MiB → {} MiB", copy_bytes / MIB, copy_bytes / MIB),
        scope: Scope::Default,
        prepare: Box::new(move |gpu| copy_workload(gpu, copy_bytes)),
    }];
    for (format, name) in [(Half::Bf16, "bf16"), (Half::F16, "f16")] {
        all.push(Bench {
            family: FAMILY,
            kernel: "widen",
            shape: format!("{name} → f32, {} elements", count(widen_n)),
            scope: Scope::Default,
            prepare: Box::new(move |gpu| widen_workload(gpu, format, widen_n)),
        });
    }
    all
}

/// `n` as `16M` or `64K`.
fn count(n: u32) -> String {
    if n >= 1 << 20 {
        format!("{}M", n >> 20)
    } else {
        format!("{}K", n >> 10)
    }
}
