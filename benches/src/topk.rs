//! Benchmarks of the top-k family at the shapes: one row of 1M, 32 rows of a 128K
//! vocabulary, 32 rows of 32K attention scores and one row of 4K, each with k = 1, 50 and 2048,
//! plus two short-row shapes of the small-row kernel (one row of 2K candidates, 256 rows of 1K
//! pages as in attention page selection), and the full GPU sort ([`Argsort`]) of the same rows,
//! so the speed-up of top-k over sorting is read off two rows of one report. Scores are random
//! f32 (uniform bit patterns of finite values, so few ties), uploaded once. Bytes moved are the
//! input bytes read once: GB/s is the input rate.
//!
//! Rows besides `topk` (the default kernel: [`Strategy::Auto`], subgroup scan where available)
//! force one path on the same shape: `topk-portable` the workgroup scan (where the device has
//! subgroups), `topk-rowwise` the per-row radix select where Auto takes the small-row kernel or
//! shares rows among workgroups, `topk-coop` the cooperative one.

use squeeze::topk::{Argsort, Order, Scan, ScoreBindings, Strategy, TopK, auto_groups_per_row};
use squeeze::{Binding, DType, Gpu, Result};

use crate::{Bench, Scope, Sizes, Workload};

const FAMILY: &str = "topk";

/// (rows, n) of the benchmarked problems of the issue.
pub const SHAPES: [(u32, u32); 4] = [(1, 1 << 20), (32, 128 << 10), (32, 32 << 10), (1, 4 << 10)];
/// k of the benchmarked problems of the issue.
pub const KS: [u32; 3] = [1, 50, 2048];
/// (rows, n) of short-row problems, within the small-row kernel's capacity.
pub const SMALL_SHAPES: [(u32, u32); 2] = [(1, 2 << 10), (256, 1 << 10)];
/// k of the short-row problems.
pub const SMALL_KS: [u32; 2] = [1, 64];
/// The smoke test's (rows, n): one row long enough for several workgroups per row, and a few
/// rows that one workgroup each selects from.
const SMOKE_SHAPES: [(u32, u32); 2] = [(1, 64 << 10), (4, 4 << 10)];
/// The smoke test's short rows.
const SMOKE_SMALL_SHAPES: [(u32, u32); 2] = [(1, 2 << 10), (8, 1 << 10)];
/// The default run's problem: sampling from 32 rows of a 128K vocabulary, top 50 (the full
/// sort of the same rows runs beside it).
const REPRESENTATIVE: (u32, u32, u32) = (32, 128 << 10, 50);

/// `len` random finite f32 scores (a fixed xorshift sequence).
fn scores(len: usize) -> Vec<f32> {
    let mut state = 0x9e37_79b9u32;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            // Clear the top exponent bit: finite, magnitudes up to 2^1.
            f32::from_bits(state & 0xbfff_ffff)
        })
        .collect()
}

fn label(rows: u32, n: u32) -> String {
    let n = if n >= 1 << 20 {
        format!("{}M", n >> 20)
    } else {
        format!("{}K", n >> 10)
    };
    format!("{rows}×{n} f32")
}

/// What a workload runs on `rows × n` scores.
enum Kernel {
    /// Top-k with values and indices.
    TopK(Box<TopK>, u32),
    /// The full sort (indices).
    Sort(Box<Argsort>),
}

/// `kernel` on `rows × n` random f32 scores, uploaded once.
fn workload(gpu: &Gpu, rows: u32, n: u32, kernel: Kernel) -> Result<Workload> {
    let (scratch_bytes, kept) = match &kernel {
        Kernel::TopK(topk, k) => (topk.scratch_bytes(rows, n, *k), *k),
        Kernel::Sort(_) => (Argsort::scratch_bytes(rows, n), n),
    };
    let outputs = u64::from(rows) * u64::from(kept) * 4;
    let x = gpu.upload("x", &scores(rows as usize * n as usize))?;
    let scratch = gpu.storage_buffer("scratch", scratch_bytes)?;
    let indices = gpu.storage_buffer("indices", outputs)?;
    let values = gpu.storage_buffer("values", outputs)?;
    Ok(Workload {
        bytes_moved: u64::from(rows) * u64::from(n) * 4,
        flops: 0,
        record: Box::new(move |encoder| {
            let mut b = ScoreBindings {
                x: Binding::whole(&x),
                lengths: None,
                scratch: Binding::whole(&scratch),
                indices: Binding::whole(&indices),
                values: None,
            };
            match &kernel {
                Kernel::TopK(topk, k) => {
                    b.values = Some(Binding::whole(&values));
                    topk.encode(encoder, rows, n, *k, Order::Largest, &b)
                }
                Kernel::Sort(sort) => sort.encode(encoder, rows, n, Order::Largest, &b),
            }
        }),
    })
}

/// Top-k of `rows × n` random f32 scores, values and indices, selected with `strategy` and the
/// `scan` given (the device's default if `None`).
pub fn topk_workload(
    gpu: &Gpu,
    (rows, n, k): (u32, u32, u32),
    strategy: Strategy,
    scan: Option<Scan>,
) -> Result<Workload> {
    let topk = TopK::with_scan(gpu, DType::F32, scan.unwrap_or(Scan::for_gpu(gpu)))?;
    let topk = Box::new(topk.with_strategy(strategy));
    workload(gpu, rows, n, Kernel::TopK(topk, k))
}

/// The full sort of `rows × n` random f32 scores (indices): top-k's baseline.
pub fn sort_workload(gpu: &Gpu, rows: u32, n: u32) -> Result<Workload> {
    workload(
        gpu,
        rows,
        n,
        Kernel::Sort(Box::new(Argsort::new(gpu, DType::F32)?)),
    )
}

/// A top-k bench row of `kernel` at `shape` forcing `strategy` (and `scan`, if given).
fn topk_bench(
    kernel: &'static str,
    (rows, n, k): (u32, u32, u32),
    note: &str,
    strategy: Strategy,
    scan: Option<Scan>,
) -> Bench {
    let default = kernel == "topk" && (rows, n, k) == REPRESENTATIVE;
    Bench {
        family: FAMILY,
        kernel,
        shape: format!("{} k={k}{note}", label(rows, n)),
        scope: if default { Scope::Default } else { Scope::Full },
        prepare: Box::new(move |gpu| topk_workload(gpu, (rows, n, k), strategy, scan)),
    }
}

pub fn benches(gpu: &Gpu, sizes: Sizes) -> Vec<Bench> {
    let subgroups = gpu.has_subgroups();
    let small_capacity = TopK::new(gpu, DType::F32)
        .map(|t| t.small_capacity())
        .unwrap_or(0);
    let mut all = Vec::new();
    let (shapes, small) = match sizes {
        Sizes::Real => (&SHAPES[..], &SMALL_SHAPES[..]),
        Sizes::Smoke => (&SMOKE_SHAPES[..], &SMOKE_SMALL_SHAPES[..]),
    };
    let shapes = shapes.iter().map(|&s| (s, &KS[..]));
    let small = small.iter().map(|&s| (s, &SMALL_KS[..]));
    for ((rows, n), ks) in shapes.chain(small) {
        for &k in ks {
            let shape = (rows, n, k);
            all.push(topk_bench("topk", shape, "", Strategy::Auto, None));
            if subgroups {
                let scan = Some(Scan::Workgroup);
                let note = ", workgroup scan";
                all.push(topk_bench(
                    "topk-portable",
                    shape,
                    note,
                    Strategy::Auto,
                    scan,
                ));
            }
            if n <= small_capacity {
                let note = ", one workgroup per row, radix select + sort + gather";
                all.push(topk_bench(
                    "topk-rowwise",
                    shape,
                    note,
                    Strategy::PerRow,
                    None,
                ));
            }
        }
        let groups = auto_groups_per_row(rows, n);
        if groups > 1 {
            // Where Auto shares rows among workgroups on a GPU: both paths, forced.
            let shape = (rows, n, 50);
            let note = ", one workgroup per row";
            all.push(topk_bench(
                "topk-rowwise",
                shape,
                note,
                Strategy::PerRow,
                None,
            ));
            let note = format!(", {groups} workgroups per row");
            let coop = Strategy::Cooperative(groups);
            all.push(topk_bench("topk-coop", shape, &note, coop, None));
        }
        let default = (rows, n) == (REPRESENTATIVE.0, REPRESENTATIVE.1);
        all.push(Bench {
            family: FAMILY,
            kernel: "topk-sort",
            shape: format!("{} full sort", label(rows, n)),
            scope: if default { Scope::Default } else { Scope::Full },
            prepare: Box::new(move |gpu| sort_workload(gpu, rows, n)),
        });
    }
    all
}
