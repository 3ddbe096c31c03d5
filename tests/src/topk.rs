//! Conformance of the top-k family: GPU values (bit for bit) and indices exactly equal to the CPU
//! reference, over random rows, ties, NaN/±inf/±0, the size edges (k = 1, k = n, n = 1, n not a
//! multiple of the workgroup, k past the workgroup sort), many rows, a row over 1M elements,
//! per-row lengths, every dtype and both orders; and the argsort baseline against the reference
//! with k = n.

use half::{bf16, f16};
use squeeze::topk::reference::{Score, top_k};
use squeeze::topk::{Argsort, Order, ScoreBindings, Strategy, TopK};
use squeeze::{Binding, Gpu};

use crate::rng::SplitMix64;
use crate::{Case, Failure, expect_equal};

/// How a test row is filled.
#[derive(Debug, Clone, Copy)]
pub enum Fill {
    /// Uniform random f32 bit patterns of finite values in ±2^±8.
    Random,
    /// Every element the same value.
    AllEqual,
    /// Five distinct values (±0.0 among them, written both ways).
    FewValues,
    /// Random values with NaNs (several payloads and signs), ±inf, ±0 and ties mixed in.
    Specials,
}

/// `len` scores of `fill`, deterministic in `seed`, as f32 (narrowed later for 16-bit dtypes).
pub fn scores(fill: Fill, len: usize, seed: u64) -> Vec<f32> {
    let mut rng = SplitMix64::new(seed);
    let random = |rng: &mut SplitMix64| {
        let u = rng.next_u32();
        let mantissa = (u >> 9) as f32 / (1u32 << 23) as f32 + 1.0;
        let exponent = ((u >> 1) & 15) as i32 - 8;
        let sign = if u & 1 == 1 { -1.0 } else { 1.0 };
        sign * mantissa * 2f32.powi(exponent)
    };
    (0..len)
        .map(|_| match fill {
            Fill::Random => random(&mut rng),
            Fill::AllEqual => 0.75,
            Fill::FewValues => [0.0, -0.0, 1.0, -2.5, 3.0][(rng.next_u32() % 5) as usize],
            Fill::Specials => match rng.next_u32() % 12 {
                0 => f32::NAN,
                1 => f32::from_bits(0xffc0_0001),
                2 => f32::INFINITY,
                3 => f32::NEG_INFINITY,
                4 => 0.0,
                5 => -0.0,
                6 => 1.0,
                _ => random(&mut rng),
            },
        })
        .collect()
}

/// The score dtypes, each narrowing f32 test data.
pub trait Narrow: Score {
    fn narrow(v: f32) -> Self;
}
impl Narrow for f32 {
    fn narrow(v: f32) -> Self {
        v
    }
}
impl Narrow for f16 {
    fn narrow(v: f32) -> Self {
        f16::from_f32(v)
    }
}
impl Narrow for bf16 {
    fn narrow(v: f32) -> Self {
        bf16::from_f32(v)
    }
}

/// One top-k problem.
#[derive(Debug, Clone, Copy)]
pub struct Problem {
    pub rows: usize,
    pub n: usize,
    pub k: usize,
    pub fill: Fill,
    pub order: Order,
}

impl Problem {
    const fn new(rows: usize, n: usize, k: usize, fill: Fill, order: Order) -> Self {
        Self {
            rows,
            n,
            k,
            fill,
            order,
        }
    }
}

fn bits<T: Score>(values: &[T]) -> Vec<u32> {
    values.iter().map(|v| v.f32_bits()).collect()
}

/// Runs `x` through the GPU top-k (values and the indices-only variant) and the reference.
pub fn check_topk<T: Score>(
    gpu: &Gpu,
    x: &[T],
    n: usize,
    k: usize,
    order: Order,
    lengths: Option<&[u32]>,
) -> Result<(), Failure> {
    check_topk_with(gpu, Strategy::Auto, x, n, k, order, lengths)
}

/// [`check_topk`] with the selection strategy forced.
pub fn check_topk_with<T: Score>(
    gpu: &Gpu,
    strategy: Strategy,
    x: &[T],
    n: usize,
    k: usize,
    order: Order,
    lengths: Option<&[u32]>,
) -> Result<(), Failure> {
    let kernel = TopK::new(gpu, T::DTYPE)?.with_strategy(strategy);
    let (values, indices) = kernel.run(x, n, k, order, lengths)?;
    let (want_values, want_indices) = top_k(x, n, k, order, lengths)?;
    expect_equal("indices", &indices, &want_indices)?;
    expect_equal("value bits", &bits(&values), &bits(&want_values))?;
    let only = kernel.run_indices(x, n, k, order, lengths)?;
    expect_equal("indices (indices-only run)", &only, &want_indices)
}

fn problem<T: Narrow>(gpu: &Gpu, p: Problem, seed: u64) -> Result<(), Failure> {
    let x: Vec<T> = scores(p.fill, p.rows * p.n, seed)
        .into_iter()
        .map(T::narrow)
        .collect();
    check_topk(gpu, &x, p.n, p.k, p.order, None)
}

fn cooperative<T: Narrow>(gpu: &Gpu, groups: u32, p: Problem, seed: u64) -> Result<(), Failure> {
    let x: Vec<T> = scores(p.fill, p.rows * p.n, seed)
        .into_iter()
        .map(T::narrow)
        .collect();
    check_topk_with(
        gpu,
        Strategy::Cooperative(groups),
        &x,
        p.n,
        p.k,
        p.order,
        None,
    )
}

fn with_lengths(gpu: &Gpu, strategy: Strategy, order: Order) -> Result<(), Failure> {
    let (n, k) = (300, 64);
    let lengths = [0u32, 1, 50, 64, 299, 300, 63];
    let x = scores(Fill::Specials, lengths.len() * n, 5);
    check_topk_with(gpu, strategy, &x, n, k, order, Some(&lengths))
}

/// The argsort baseline (k = n) against the reference.
pub fn check_argsort<T: Narrow>(
    gpu: &Gpu,
    rows: usize,
    n: usize,
    fill: Fill,
) -> Result<(), Failure> {
    let x: Vec<T> = scores(fill, rows * n, 17)
        .into_iter()
        .map(T::narrow)
        .collect();
    let (_, want) = top_k(&x, n, n, Order::Largest, None)?;
    let sort = Argsort::new(gpu, T::DTYPE)?;
    let input = gpu.upload("x", &x)?;
    let scratch = gpu.storage_buffer("scratch", Argsort::scratch_bytes(rows as u32, n as u32))?;
    let indices = gpu.storage_buffer("indices", (rows * n * 4) as u64)?;
    let mut encoder = gpu.encoder("argsort");
    sort.encode(
        &mut encoder,
        rows as u32,
        n as u32,
        Order::Largest,
        &ScoreBindings {
            x: Binding::whole(&input),
            lengths: None,
            scratch: Binding::whole(&scratch),
            indices: Binding::whole(&indices),
            values: None,
        },
    )?;
    gpu.submit_and_wait(encoder)?;
    let got: Vec<i32> = gpu.read_back("indices", &indices, 0, rows * n)?;
    expect_equal("argsort indices", &got, &want)
}

const L: Order = Order::Largest;
const S: Order = Order::Smallest;

pub fn cases() -> Vec<Case> {
    use Fill::*;
    let f32_problems: Vec<(&'static str, Problem)> = vec![
        (
            "random, 7 rows × 1000, k = 50",
            Problem::new(7, 1000, 50, Random, L),
        ),
        (
            "random smallest, 7 × 1000, k = 50",
            Problem::new(7, 1000, 50, Random, S),
        ),
        (
            "all equal: lowest indices win",
            Problem::new(3, 777, 100, AllEqual, L),
        ),
        (
            "many ties and ±0",
            Problem::new(4, 3001, 1000, FewValues, L),
        ),
        (
            "many ties and ±0, smallest",
            Problem::new(4, 3001, 999, FewValues, S),
        ),
        (
            "ties past the candidate capacity",
            Problem::new(2, 20000, 3000, FewValues, L),
        ),
        (
            "NaN, ±inf, ±0 mixed",
            Problem::new(5, 513, 200, Specials, L),
        ),
        (
            "NaN, ±inf, ±0 mixed, smallest",
            Problem::new(5, 513, 200, Specials, S),
        ),
        ("k = 1", Problem::new(9, 4099, 1, Specials, L)),
        (
            "k = n (a full sort)",
            Problem::new(3, 1500, 1500, Specials, S),
        ),
        ("n = 1", Problem::new(37, 1, 1, Specials, L)),
        (
            "n = 257 (one past the workgroup)",
            Problem::new(6, 257, 13, Random, L),
        ),
        (
            "many rows (300 × 64)",
            Problem::new(300, 64, 8, FewValues, L),
        ),
        ("one row", Problem::new(1, 100_003, 2048, Random, L)),
        (
            "k past the workgroup sort (4097 of 5000)",
            Problem::new(2, 5000, 4097, Specials, L),
        ),
        (
            "k = n = 9000, ties (global merges)",
            Problem::new(2, 9000, 9000, FewValues, S),
        ),
    ];
    let mut all: Vec<Case> = f32_problems
        .into_iter()
        .enumerate()
        .map(|(i, (name, p))| {
            Case::portable("topk/f32", name, move |g| problem::<f32>(g, p, i as u64))
        })
        .collect();
    let half_problems: Vec<(&'static str, Problem)> = vec![
        (
            "NaN, ±inf, ±0 mixed",
            Problem::new(5, 513, 200, Specials, L),
        ),
        (
            "NaN, ±inf, ±0 mixed, smallest, odd n and k",
            Problem::new(3, 333, 77, Specials, S),
        ),
        (
            "ties (rounded randoms), k = n",
            Problem::new(2, 2500, 2500, Random, L),
        ),
        ("k = 1, many rows", Problem::new(65, 31, 1, Random, S)),
    ];
    for (i, (name, p)) in half_problems.into_iter().enumerate() {
        all.push(Case::portable("topk/f16", name, move |g| {
            problem::<f16>(g, p, 100 + i as u64)
        }));
        all.push(Case::portable("topk/bf16", name, move |g| {
            problem::<bf16>(g, p, 200 + i as u64)
        }));
    }
    all.extend([
        Case::portable("topk/f32", "per-row lengths (0, 1, < k, = n)", |g| {
            with_lengths(g, Strategy::Auto, L)
        }),
        Case::portable("topk/f32", "per-row lengths, smallest", |g| {
            with_lengths(g, Strategy::Auto, S)
        }),
        Case::portable("topk/coop", "per-row lengths, 3 workgroups per row", |g| {
            with_lengths(g, Strategy::Cooperative(3), L)
        }),
        Case::portable("topk/coop", "random, 3 rows × 5000, 4 per row", |g| {
            cooperative::<f32>(g, 4, Problem::new(3, 5000, 300, Fill::Random, L), 41)
        }),
        Case::portable("topk/coop", "all equal, 2 rows × 4099, 1 per row", |g| {
            cooperative::<f32>(g, 1, Problem::new(2, 4099, 2500, Fill::AllEqual, S), 42)
        }),
        Case::portable("topk/coop", "ties and specials, 7 per row, k = n", |g| {
            cooperative::<bf16>(g, 7, Problem::new(2, 3001, 3001, Fill::Specials, L), 43)
        }),
        Case::portable(
            "topk/coop",
            "f16 ties, more workgroups than elements",
            |g| cooperative::<f16>(g, 64, Problem::new(3, 37, 5, Fill::FewValues, S), 44),
        ),
        Case::portable("topk/coop", "one row over 1M elements, 64 per row", |g| {
            let p = Problem::new(1, (1 << 20) + 3, 50, Fill::Random, L);
            cooperative::<f32>(g, 64, p, 15)
        }),
        Case::portable("argsort", "f32, 3 rows × 700", |g| {
            check_argsort::<f32>(g, 3, 700, Fill::Specials)
        }),
        Case::portable("argsort", "bf16, 2 rows × 5000 (global merges)", |g| {
            check_argsort::<bf16>(g, 2, 5000, Fill::Random)
        }),
    ]);
    all
}
