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

/// One top-k input, as [`TopK::run`] takes it: rows of `n` scores in `x`, keeping `k` of each
/// in `order`, row `r` cut to its first `lengths[r]` scores if given.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a, T> {
    pub x: &'a [T],
    pub n: usize,
    pub k: usize,
    pub order: Order,
    pub lengths: Option<&'a [u32]>,
}

/// Runs `input` through the GPU top-k (values and the indices-only variant) and the reference,
/// with the device's default scan and [`Strategy::Auto`].
pub fn check_topk<T: Score>(gpu: &Gpu, input: Input<T>) -> Result<(), Failure> {
    compare(&TopK::new(gpu, T::DTYPE)?, input)
}

/// [`check_topk`] on a forced path: `strategy` with `scan`.
pub fn check_topk_with<T: Score>(
    gpu: &Gpu,
    (strategy, scan): (Strategy, Scan),
    input: Input<T>,
) -> Result<(), Failure> {
    let kernel = TopK::with_scan(gpu, T::DTYPE, scan)?.with_strategy(strategy);
    compare(&kernel, input)
}

fn compare<T: Score>(kernel: &TopK, input: Input<T>) -> Result<(), Failure> {
    let Input {
        x,
        n,
        k,
        order,
        lengths,
    } = input;
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
    let (n, k, order) = (p.n, p.k, p.order);
    check_topk_with(
        gpu,
        path,
        Input {
            x: &x,
            n,
            k,
            order,
            lengths,
        },
    )
}

/// [`generated`] with the scores narrowed to `dtype` (f16 or bf16; f32 for any other), no
/// per-row lengths.
fn generated_as(
    gpu: &Gpu,
    dtype: DType,
    path: (Strategy, Scan),
    p: Problem,
    seed: u64,
) -> Result<(), Failure> {
    match dtype {
        DType::F16 => generated::<f16>(gpu, path, p, None, seed),
        DType::Bf16 => generated::<bf16>(gpu, path, p, None, seed),
        _ => generated::<f32>(gpu, path, p, None, seed),
    }
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

/// (kernel, case path, strategy, scan, problem set, dtype, first seed) of a group of generated
/// cases.
type Group = (&'static str, Path, Strategy, Scan, Set, DType, u64);

/// The groups of generated cases: every short problem on the small and per-row kernels with each
/// scan, the long ones on the per-row kernel with each scan, the 16-bit ones through Auto.
#[rustfmt::skip]
const GROUPS: &[Group] = {
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

/// One case per problem of the group's set, seeds counting up from the group's first.
fn group_cases(
    &(kernel, case_path, strategy, scan, set, dtype, seed): &Group,
) -> impl Iterator<Item = Case> {
    problems(set)
        .into_iter()
        .enumerate()
        .map(move |(i, (name, p))| {
            Case::new(kernel, case_path, name, move |g| {
                generated_as(g, dtype, (strategy, scan), p, seed + i as u64)
            })
        })
}

/// (kernel, case path, name, strategy, scan, order) of the per-row-lengths cases
/// ([`with_lengths`]).
#[rustfmt::skip]
const LENGTH_CASES: &[(&str, Path, &str, Strategy, Scan, Order)] = {
    use Path::{Portable, Subgroup};
    use Scan::Workgroup;
    use Strategy::{Cooperative, PerRow, Small};
    &[
        ("topk/small", Portable, "per-row lengths (0, 1, < k, = n)", Small, Workgroup, L),
        ("topk/small", Portable, "per-row lengths, smallest", Small, Workgroup, S),
        ("topk/rows", Portable, "per-row lengths (0, 1, < k, = n)", PerRow, Workgroup, L),
        ("topk/small", Subgroup, "per-row lengths", Small, Scan::Subgroup, S),
        ("topk/rows", Subgroup, "per-row lengths", PerRow, Scan::Subgroup, L),
        ("topk/coop", Portable, "per-row lengths, 3 workgroups per row", Cooperative(3), Workgroup, L),
    ]
};

/// (case path, name, scan, elements past the limit) of the small-row-limit cases
/// ([`at_small_limit`]).
#[rustfmt::skip]
const LIMIT_CASES: &[(Path, &str, Scan, usize)] = &[
    (Path::Portable, "n at the small-row limit", PORTABLE, 0),
    (Path::Portable, "n one past the small-row limit", PORTABLE, 1),
    (Path::Subgroup, "n at the small-row limit", Scan::Subgroup, 0),
];

/// (name, workgroups per row, dtype, rows, n, k, fill, order, seed) of a cooperative case.
#[rustfmt::skip]
type CoopCase = (&'static str, u32, DType, usize, usize, usize, Fill, Order, u64);

/// The cooperative cases: several workgroups per row, all equal, specials with k = n, more
/// workgroups than elements, one row over 1M elements.
#[rustfmt::skip]
const COOPERATIVE: &[CoopCase] = {
    use DType::{Bf16, F16, F32};
    use Fill::*;
    &[
        ("random, 3 rows × 5000, 4 per row", 4, F32, 3, 5000, 300, Random, L, 41),
        ("all equal, 2 rows × 4099, 1 per row", 1, F32, 2, 4099, 2500, AllEqual, S, 42),
        ("ties and specials, 7 per row, k = n", 7, Bf16, 2, 3001, 3001, Specials, L, 43),
        ("f16 ties, more workgroups than elements", 64, F16, 3, 37, 5, FewValues, S, 44),
        ("one row over 1M elements, 64 per row", 64, F32, 1, (1 << 20) + 3, 50, Random, L, 15),
    ]
};

pub fn cases() -> Vec<Case> {
    let mut all: Vec<Case> = GROUPS.iter().flat_map(group_cases).collect();
    all.extend(
        LENGTH_CASES
            .iter()
            .map(|&(kernel, case_path, name, strategy, scan, order)| {
                Case::new(kernel, case_path, name, move |g| {
                    with_lengths(g, (strategy, scan), order)
                })
            }),
    );
    all.extend(LIMIT_CASES.iter().map(|&(case_path, name, scan, extra)| {
        Case::new("topk/f32", case_path, name, move |g| {
            at_small_limit(g, scan, extra)
        })
    }));
    all.extend(
        COOPERATIVE
            .iter()
            .map(|&(name, groups, dtype, rows, n, k, fill, order, seed)| {
                Case::portable("topk/coop", name, move |g| {
                    let p = Problem::new(rows, n, k, fill, order);
                    generated_as(g, dtype, (Strategy::Cooperative(groups), PORTABLE), p, seed)
                })
            }),
    );
    all.extend([
        Case::portable("argsort", "f32, 3 rows × 700", |g| {
            check_argsort::<f32>(g, 3, 700, Fill::Specials)
        }),
        Case::portable("argsort", "bf16, 2 rows × 5000 (global merges)", |g| {
            check_argsort::<bf16>(g, 2, 5000, Fill::Random)
        }),
    ]);
    all
}
