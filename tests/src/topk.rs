//! Conformance of the top-k family: GPU values (bit for bit) and indices exactly equal to the CPU
//! reference, over random rows, ties, NaN/±inf/±0, the size edges (k = 1, k = n, n = 1, n not a
//! multiple of the workgroup, k past the workgroup sort, n at the small-row limit and one past
//! it), many rows, a row over 1M elements, per-row lengths (0, 1, < k, = n), every dtype and both
//! orders; on each selection path (small rows, one workgroup per row, cooperative) with the
//! portable scan, and the small and per-row paths again with the subgroup scan; and the argsort
//! baseline against the reference with k = n.

use half::{bf16, f16};
use squeeze::topk::reference::{Score, top_k};
use squeeze::topk::{Argsort, Order, Scan, ScoreBindings, Strategy, TopK};
use squeeze::{Binding, DType, Gpu};

use crate::rng::SplitMix64;
use crate::{Case, Failure, Path, expect_equal};

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

/// Runs `x` through the GPU top-k (values and the indices-only variant) and the reference, with
/// the device's default scan and [`Strategy::Auto`].
pub fn check_topk<T: Score>(
    gpu: &Gpu,
    x: &[T],
    n: usize,
    k: usize,
    order: Order,
    lengths: Option<&[u32]>,
) -> Result<(), Failure> {
    let kernel = TopK::new(gpu, T::DTYPE)?;
    compare(&kernel, x, n, k, order, lengths)
}

/// [`check_topk`] on a forced path: `strategy` with `scan`.
#[allow(clippy::too_many_arguments)]
pub fn check_topk_with<T: Score>(
    gpu: &Gpu,
    (strategy, scan): (Strategy, Scan),
    x: &[T],
    n: usize,
    k: usize,
    order: Order,
    lengths: Option<&[u32]>,
) -> Result<(), Failure> {
    let kernel = TopK::with_scan(gpu, T::DTYPE, scan)?.with_strategy(strategy);
    compare(&kernel, x, n, k, order, lengths)
}

fn compare<T: Score>(
    kernel: &TopK,
    x: &[T],
    n: usize,
    k: usize,
    order: Order,
    lengths: Option<&[u32]>,
) -> Result<(), Failure> {
    let (values, indices) = kernel.run(x, n, k, order, lengths)?;
    let (want_values, want_indices) = top_k(x, n, k, order, lengths)?;
    expect_equal("indices", &indices, &want_indices)?;
    expect_equal("value bits", &bits(&values), &bits(&want_values))?;
    let only = kernel.run_indices(x, n, k, order, lengths)?;
    expect_equal("indices (indices-only run)", &only, &want_indices)
}

/// `p`'s scores (narrowed to `T`) through the path `(strategy, scan)`, with `lengths` if given.
fn generated<T: Narrow>(
    gpu: &Gpu,
    path: (Strategy, Scan),
    p: Problem,
    lengths: Option<&[u32]>,
    seed: u64,
) -> Result<(), Failure> {
    let x: Vec<T> = scores(p.fill, p.rows * p.n, seed)
        .into_iter()
        .map(T::narrow)
        .collect();
    check_topk_with(gpu, path, &x, p.n, p.k, p.order, lengths)
}

/// Rows of 300 with lengths 0, 1, < k, = k, = n, and one short of k and of n.
const LENGTHS: [u32; 7] = [0, 1, 50, 64, 299, 300, 63];

fn with_lengths(gpu: &Gpu, path: (Strategy, Scan), order: Order) -> Result<(), Failure> {
    let p = Problem::new(LENGTHS.len(), 300, 64, Fill::Specials, order);
    generated::<f32>(gpu, path, p, Some(&LENGTHS), 5)
}

/// Rows of exactly the device's small-row capacity (`extra` = 0) or `extra` past it, many
/// rows, per-row lengths up to n, through [`Strategy::Auto`] (the small kernel, then the per-row
/// one) with `scan`.
fn at_small_limit(gpu: &Gpu, scan: Scan, extra: usize) -> Result<(), Failure> {
    let n = TopK::with_scan(gpu, DType::F32, scan)?.small_capacity() as usize + extra;
    let lengths: Vec<u32> = [n, n - 1, 7, 0, n / 2].map(|l| l as u32).to_vec();
    let p = Problem::new(lengths.len(), n, 50, Fill::Specials, L);
    generated::<f32>(
        gpu,
        (Strategy::Auto, scan),
        p,
        Some(&lengths),
        77 + extra as u64,
    )?;
    let p = Problem::new(2, n, n, Fill::FewValues, S);
    generated::<f32>(gpu, (Strategy::Auto, scan), p, None, 78 + extra as u64)
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
const PORTABLE: Scan = Scan::Workgroup;

/// Which problems of [`PROBLEMS`] a group of cases runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Set {
    /// f32, n ≤ 1536 (the smallest small-row capacity): every selection path.
    Short,
    /// f32 rows too long for the small-row kernel on some devices: the per-row path.
    Long,
    /// 16-bit (f16 and bf16), through Auto.
    Half,
}

/// (set, name, rows, n, k, fill, order) of the generated problems.
#[rustfmt::skip]
const PROBLEMS: &[(Set, &str, usize, usize, usize, Fill, Order)] = {
    use Fill::*;
    use Set::*;
    &[
        (Short, "random, 7 rows × 1000, k = 50", 7, 1000, 50, Random, L),
        (Short, "random smallest, 7 × 1000, k = 50", 7, 1000, 50, Random, S),
        (Short, "all equal: lowest indices win", 3, 777, 100, AllEqual, L),
        (Short, "many ties and ±0", 4, 1533, 500, FewValues, L),
        (Short, "many ties and ±0, smallest", 4, 1533, 499, FewValues, S),
        (Short, "NaN, ±inf, ±0 mixed", 5, 513, 200, Specials, L),
        (Short, "NaN, ±inf, ±0 mixed, smallest", 5, 513, 200, Specials, S),
        (Short, "k = 1", 9, 1031, 1, Specials, L),
        (Short, "k = n (a full sort)", 3, 1500, 1500, Specials, S),
        (Short, "n = 1", 37, 1, 1, Specials, L),
        (Short, "n = 257 (one past the workgroup)", 6, 257, 13, Random, L),
        (Short, "many rows (300 × 64)", 300, 64, 8, FewValues, L),
        (Long, "long rows, many ties and ±0", 4, 3001, 1000, FewValues, L),
        (Long, "long rows, many ties and ±0, smallest", 4, 3001, 999, FewValues, S),
        (Long, "ties past the candidate capacity", 2, 20000, 3000, FewValues, L),
        (Long, "k = 1, n = 4099", 9, 4099, 1, Specials, L),
        (Long, "one row", 1, 100_003, 2048, Random, L),
        (Long, "k past the workgroup sort (4097 of 5000)", 2, 5000, 4097, Specials, L),
        (Long, "k = n = 9000, ties (global merges)", 2, 9000, 9000, FewValues, S),
        (Half, "NaN, ±inf, ±0 mixed", 5, 513, 200, Specials, L),
        (Half, "NaN, ±inf, ±0 mixed, smallest, odd n and k", 3, 333, 77, Specials, S),
        (Half, "ties (rounded randoms), k = n", 2, 2500, 2500, Random, L),
        (Half, "k = 1, many rows", 65, 31, 1, Random, S),
        (Half, "odd k across shared words", 9, 101, 7, Specials, L),
        (Half, "past the small rows", 3, 5001, 333, FewValues, S),
    ]
};

/// The problems of `set`, by name.
fn problems(set: Set) -> Vec<(&'static str, Problem)> {
    PROBLEMS
        .iter()
        .filter(|p| p.0 == set)
        .map(|&(_, name, rows, n, k, fill, order)| (name, Problem::new(rows, n, k, fill, order)))
        .collect()
}

/// One case per problem on `path`, under `kernel` and `case_path`.
fn problem_cases<T: Narrow>(
    kernel: &'static str,
    case_path: Path,
    path: (Strategy, Scan),
    problems: Vec<(&'static str, Problem)>,
    seed: u64,
) -> impl Iterator<Item = Case> {
    problems.into_iter().enumerate().map(move |(i, (name, p))| {
        Case::new(kernel, case_path, name, move |g| {
            generated::<T>(g, path, p, None, seed + i as u64)
        })
    })
}

/// (kernel, case path, strategy, scan, problem set, dtype, first seed) of each group of
/// generated cases: every short problem on the small and per-row kernels with each scan, the
/// long ones on the per-row kernel with each scan, the 16-bit ones through Auto.
#[rustfmt::skip]
const GROUPS: &[(&str, Path, Strategy, Scan, Set, DType, u64)] = {
    use DType::{Bf16, F16, F32};
    use Path::{Portable, Subgroup};
    use Scan::Workgroup;
    use Set::{Half, Long, Short};
    use Strategy::{Auto, PerRow, Small};
    &[
        ("topk/small", Portable, Small, Workgroup, Short, F32, 0),
        ("topk/rows", Portable, PerRow, Workgroup, Short, F32, 0),
        ("topk/rows", Portable, PerRow, Workgroup, Long, F32, 20),
        ("topk/f16", Portable, Auto, Workgroup, Half, F16, 100),
        ("topk/bf16", Portable, Auto, Workgroup, Half, Bf16, 200),
        ("topk/small", Subgroup, Small, Scan::Subgroup, Short, F32, 300),
        ("topk/rows", Subgroup, PerRow, Scan::Subgroup, Short, F32, 300),
        ("topk/rows", Subgroup, PerRow, Scan::Subgroup, Long, F32, 500),
        ("topk/bf16", Subgroup, Auto, Scan::Subgroup, Half, Bf16, 400),
    ]
};

pub fn cases() -> Vec<Case> {
    use Path::Subgroup;
    let per_row = (Strategy::PerRow, PORTABLE);
    let small = (Strategy::Small, PORTABLE);
    let mut all: Vec<Case> = Vec::new();
    for &(kernel, case_path, strategy, scan, set, dtype, seed) in GROUPS {
        let path = (strategy, scan);
        let problems = problems(set);
        match dtype {
            DType::F16 => all.extend(problem_cases::<f16>(
                kernel, case_path, path, problems, seed,
            )),
            DType::Bf16 => all.extend(problem_cases::<bf16>(
                kernel, case_path, path, problems, seed,
            )),
            _ => all.extend(problem_cases::<f32>(
                kernel, case_path, path, problems, seed,
            )),
        }
    }
    let coop = |groups| (Strategy::Cooperative(groups), PORTABLE);
    all.extend([
        Case::portable("topk/small", "per-row lengths (0, 1, < k, = n)", move |g| {
            with_lengths(g, small, L)
        }),
        Case::portable("topk/small", "per-row lengths, smallest", move |g| {
            with_lengths(g, small, S)
        }),
        Case::portable("topk/rows", "per-row lengths (0, 1, < k, = n)", move |g| {
            with_lengths(g, per_row, L)
        }),
        Case::new("topk/small", Subgroup, "per-row lengths", |g| {
            with_lengths(g, (Strategy::Small, Scan::Subgroup), S)
        }),
        Case::new("topk/rows", Subgroup, "per-row lengths", |g| {
            with_lengths(g, (Strategy::PerRow, Scan::Subgroup), L)
        }),
        Case::portable("topk/f32", "n at the small-row limit", |g| {
            at_small_limit(g, PORTABLE, 0)
        }),
        Case::portable("topk/f32", "n one past the small-row limit", |g| {
            at_small_limit(g, PORTABLE, 1)
        }),
        Case::new("topk/f32", Subgroup, "n at the small-row limit", |g| {
            at_small_limit(g, Scan::Subgroup, 0)
        }),
        Case::portable(
            "topk/coop",
            "per-row lengths, 3 workgroups per row",
            move |g| with_lengths(g, coop(3), L),
        ),
        Case::portable("topk/coop", "random, 3 rows × 5000, 4 per row", move |g| {
            let p = Problem::new(3, 5000, 300, Fill::Random, L);
            generated::<f32>(g, coop(4), p, None, 41)
        }),
        Case::portable(
            "topk/coop",
            "all equal, 2 rows × 4099, 1 per row",
            move |g| {
                let p = Problem::new(2, 4099, 2500, Fill::AllEqual, S);
                generated::<f32>(g, coop(1), p, None, 42)
            },
        ),
        Case::portable(
            "topk/coop",
            "ties and specials, 7 per row, k = n",
            move |g| {
                let p = Problem::new(2, 3001, 3001, Fill::Specials, L);
                generated::<bf16>(g, coop(7), p, None, 43)
            },
        ),
        Case::portable(
            "topk/coop",
            "f16 ties, more workgroups than elements",
            move |g| {
                let p = Problem::new(3, 37, 5, Fill::FewValues, S);
                generated::<f16>(g, coop(64), p, None, 44)
            },
        ),
        Case::portable(
            "topk/coop",
            "one row over 1M elements, 64 per row",
            move |g| {
                let p = Problem::new(1, (1 << 20) + 3, 50, Fill::Random, L);
                generated::<f32>(g, coop(64), p, None, 15)
            },
        ),
        Case::portable("argsort", "f32, 3 rows × 700", |g| {
            check_argsort::<f32>(g, 3, 700, Fill::Specials)
        }),
        Case::portable("argsort", "bf16, 2 rows × 5000 (global merges)", |g| {
            check_argsort::<bf16>(g, 2, 5000, Fill::Random)
        }),
    ]);
    all
}
