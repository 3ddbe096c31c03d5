//! Benchmarks of the top-k family at the shapes: one row of 1M, 32 rows of a 128K
//! vocabulary, 32 rows of 32K attention scores and one row of 4K, each with k = 1, 50 and 2048,
//! and the full GPU sort ([`Argsort`]) of the same rows, so the speed-up of top-k over sorting is
//! read off two rows of one report. Scores are random f32 (uniform bit patterns of finite
//! values, so few ties), uploaded once. Bytes moved are the input bytes read once: GB/s is the
//! input rate. Where [`Strategy::Auto`] shares each row among workgroups on a GPU, `topk-rowwise`
//! and `topk-coop` rows measure both selection paths, forced, on the same shape.

use squeeze::topk::{Argsort, Order, ScoreBindings, Strategy, TopK, auto_groups_per_row};
use squeeze::{Binding, DType, Gpu, Result};

use crate::{Bench, Workload};

/// (rows, n) of the benchmarked problems.
pub const SHAPES: [(u32, u32); 4] = [(1, 1 << 20), (32, 128 << 10), (32, 32 << 10), (1, 4 << 10)];
/// k of the benchmarked problems.
pub const KS: [u32; 3] = [1, 50, 2048];

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

/// Top-k of `rows × n` random f32 scores, values and indices, selected with `strategy`.
pub fn topk_workload(gpu: &Gpu, rows: u32, n: u32, k: u32, strategy: Strategy) -> Result<Workload> {
    let topk = TopK::new(gpu, DType::F32)?.with_strategy(strategy);
    let x = gpu.upload("x", &scores(rows as usize * n as usize))?;
    let scratch = gpu.storage_buffer("scratch", topk.scratch_bytes(rows, n, k))?;
    let indices = gpu.storage_buffer("indices", u64::from(rows) * u64::from(k) * 4)?;
    let values = gpu.storage_buffer("values", u64::from(rows) * u64::from(k) * 4)?;
    Ok(Workload {
        bytes_moved: u64::from(rows) * u64::from(n) * 4,
        flops: 0,
        record: Box::new(move |encoder| {
            topk.encode(
                encoder,
                rows,
                n,
                k,
                Order::Largest,
                &ScoreBindings {
                    x: Binding::whole(&x),
                    lengths: None,
                    scratch: Binding::whole(&scratch),
                    indices: Binding::whole(&indices),
                    values: Some(Binding::whole(&values)),
                },
            )
        }),
    })
}

/// The full sort of `rows × n` random f32 scores (indices): top-k's baseline.
pub fn sort_workload(gpu: &Gpu, rows: u32, n: u32) -> Result<Workload> {
    let sort = Argsort::new(gpu, DType::F32)?;
    let x = gpu.upload("x", &scores(rows as usize * n as usize))?;
    let scratch = gpu.storage_buffer("scratch", Argsort::scratch_bytes(rows, n))?;
    let indices = gpu.storage_buffer("indices", u64::from(rows) * u64::from(n) * 4)?;
    Ok(Workload {
        bytes_moved: u64::from(rows) * u64::from(n) * 4,
        flops: 0,
        record: Box::new(move |encoder| {
            sort.encode(
                encoder,
                rows,
                n,
                Order::Largest,
                &ScoreBindings {
                    x: Binding::whole(&x),
                    lengths: None,
                    scratch: Binding::whole(&scratch),
                    indices: Binding::whole(&indices),
                    values: None,
                },
            )
        }),
    })
}

pub fn benches(_gpu: &Gpu) -> Vec<Bench> {
    let mut all = Vec::new();
    for (rows, n) in SHAPES {
        for k in KS {
            all.push(Bench {
                kernel: "topk",
                shape: format!("{} k={k}", label(rows, n)),
                prepare: Box::new(move |gpu| topk_workload(gpu, rows, n, k, Strategy::Auto)),
            });
        }
        let groups = auto_groups_per_row(rows, n);
        if groups > 1 {
            // Where Auto shares rows among workgroups on a GPU: both paths, forced.
            all.push(Bench {
                kernel: "topk-rowwise",
                shape: format!("{} k=50, one workgroup per row", label(rows, n)),
                prepare: Box::new(move |gpu| topk_workload(gpu, rows, n, 50, Strategy::PerRow)),
            });
            all.push(Bench {
                kernel: "topk-coop",
                shape: format!("{} k=50, {groups} workgroups per row", label(rows, n)),
                prepare: Box::new(move |gpu| {
                    topk_workload(gpu, rows, n, 50, Strategy::Cooperative(groups))
                }),
            });
        }
        all.push(Bench {
            kernel: "topk-sort",
            shape: format!("{} full sort", label(rows, n)),
            prepare: Box::new(move |gpu| sort_workload(gpu, rows, n)),
        });
    }
    all
}
