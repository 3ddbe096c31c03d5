//! Conformance of the attention family against its CPU references: dense decode (f32 and f16
//! caches, GQA 1/4/8, head_dim 64/128/256, odd lengths, partial last pages, shuffled page
//! tables, empty and one-token sequences, several splits, large logits), per-head sinks +
//! windows, appends with Quest metadata, and the sparse steps (Quest, TidalDecode, TokenSelect):
//! selections index for index where the scores are exact, and sparse = dense when the budget
//! covers the sequence. q8_0 / q4_0 caches (`quantized_cases`): the GPU's quantizing append
//! against the reference quantizer byte for byte (edge rows included), and every reader over
//! the same bytes against the references over the dequantized values. int4 / int2 (KIVI) the
//! same way, the append against `reference::kivi::append` over whole bindings, its residual
//! across page boundaries (`kivi_append_cases`).
//!
//! Tolerance of attention outputs: |gpu − f64 reference| ≤ 1e-4 · max |v| (+1e-6); a missing or
//! extra token moves an output by ≈ 1 / length · |v|, far above it at these lengths.

use half::f16;
use squeeze::Gpu;
use squeeze::attention::host::{
    HostKv, SparseResult, Uploaded, run_decode, run_sparse, run_sparse_in,
};
use squeeze::attention::quest_meta::{all_pages, meta_bytes};
use squeeze::attention::reference::{self, HostCache, Vote};
use squeeze::attention::{
    Append, Budget, CacheLayout, Decode, DecodeArgs, DecodePath, DevicePageTable, HeadPolicy,
    KvCache, KvDtype, NewTokens, PageTable, Pool, Prefill, PrefillArgs, PrefillPath, Query,
    QuestMeta, Selector, Sparse, Tokens,
};
use squeeze::{Binding, Error};

use crate::rng::SplitMix64;
use crate::{Case, Failure, Path, expect_equal};

/// Inputs of one attention problem, with K and V as the f32 values the cache holds.
#[derive(Debug, Clone)]
pub struct Setup {
    pub layout: CacheLayout,
    pub table: PageTable,
    pub k: Vec<f32>,
    pub v: Vec<f32>,
    pub q: Vec<f32>,
    pub q_heads: u32,
    /// For a quantized format: the pools' bytes (int4 / int2: the whole bindings, residual
    /// included), quantized on the CPU from the drawn values, and those unquantized values;
    /// `k` and `v` are then the values the readers see.
    pub blocks: Option<Blocks>,
}

/// A block-format pool: its K and V bytes and the values they were quantized from.
#[derive(Debug, Clone)]
pub struct Blocks {
    pub k: Vec<u8>,
    pub v: Vec<u8>,
    pub k_raw: Vec<f32>,
    pub v_raw: Vec<f32>,
}

/// How values are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Values {
    /// Uniform in [-1, 1).
    Random,
    /// Multiples of 1/8 in [-1, 1]: every product and short sum is exact in f32, so scores and
    /// selections can be compared bit for bit; ties are common.
    Eighths,
}

/// Shape of a problem.
#[derive(Debug, Clone, Copy)]
pub struct Shape<'a> {
    pub lens: &'a [u32],
    pub page_size: u32,
    pub kv_heads: u32,
    pub q_heads: u32,
    pub head_dim: u32,
    pub dtype: KvDtype,
    /// Pool pages no sequence uses (filled too: reading one would show).
    pub spare_pages: u32,
}

impl Setup {
    /// Sequences of `shape.lens` on pool pages in a shuffled order.
    pub fn new(shape: Shape<'_>, values: Values, seed: u64) -> Self {
        let mut rng = SplitMix64::new(seed);
        let (mut table, used) = PageTable::contiguous(shape.lens, shape.page_size);
        let pages = used + shape.spare_pages;
        let mut order: Vec<u32> = (0..pages).collect();
        for i in (1..order.len()).rev() {
            order.swap(i, rng.next_u32() as usize % (i + 1));
        }
        for p in &mut table.indices {
            *p = order[*p as usize];
        }
        let layout = CacheLayout {
            pages,
            page_size: shape.page_size,
            kv_heads: shape.kv_heads,
            head_dim: shape.head_dim,
            dtype: shape.dtype,
        };
        let draw = |n: usize, rng: &mut SplitMix64| -> Vec<f32> {
            (0..n)
                .map(|_| {
                    let u = rng.next_u32();
                    let x = match values {
                        Values::Random => (u >> 8) as f32 / (1u32 << 23) as f32 - 1.0,
                        Values::Eighths => (u % 17) as f32 / 8.0 - 1.0,
                    };
                    match shape.dtype {
                        KvDtype::F16 => f16::from_f32(x).to_f32(),
                        KvDtype::F32
                        | KvDtype::Q8_0
                        | KvDtype::Q4_0
                        | KvDtype::Int4
                        | KvDtype::Int2 => x,
                    }
                })
                .collect()
        };
        let elements = layout.elements() as usize;
        let mut k = draw(elements, &mut rng);
        let mut v = draw(elements, &mut rng);
        let q = draw(
            shape.lens.len() * (shape.q_heads * shape.head_dim) as usize,
            &mut rng,
        );
        // Rows are whole blocks, so the pool quantizes as one run of blocks; KIVI's formats
        // quantize every page and keep each partial last page in the residual.
        let quantized = match shape.dtype.kivi_bits() {
            Some(_) => reference::kivi::fill(&layout, &table, &k, &v),
            None => reference::quantize_row(shape.dtype, &k)
                .zip(reference::quantize_row(shape.dtype, &v)),
        };
        let blocks = quantized.map(|(kb, vb)| {
            let (dk, dv) = match shape.dtype.kivi_bits() {
                Some(_) => reference::kivi::values(&layout, &table, &kb, &vb).unwrap_or_default(),
                None => {
                    let dequantized =
                        |b: &[u8]| reference::dequantize_row(shape.dtype, b).unwrap_or_default();
                    (dequantized(&kb), dequantized(&vb))
                }
            };
            let raw = (std::mem::replace(&mut k, dk), std::mem::replace(&mut v, dv));
            Blocks {
                k: kb,
                v: vb,
                k_raw: raw.0,
                v_raw: raw.1,
            }
        });
        Self {
            layout,
            table,
            k,
            v,
            q,
            q_heads: shape.q_heads,
            blocks,
        }
    }

    pub fn cache(&self) -> HostCache<'_> {
        HostCache {
            layout: self.layout,
            k: &self.k,
            v: &self.v,
        }
    }

    pub fn upload(&self, gpu: &Gpu) -> Result<Uploaded, Error> {
        let (k16, v16): (Vec<f16>, Vec<f16>);
        let kv = match (self.layout.dtype, &self.blocks) {
            (KvDtype::F32, _) => HostKv::F32 {
                k: &self.k,
                v: &self.v,
            },
            (KvDtype::F16, _) => {
                k16 = self.k.iter().map(|&x| f16::from_f32(x)).collect();
                v16 = self.v.iter().map(|&x| f16::from_f32(x)).collect();
                HostKv::F16 { k: &k16, v: &v16 }
            }
            (dtype, Some(blocks)) => HostKv::Blocks {
                dtype,
                k: &blocks.k,
                v: &blocks.v,
            },
            (dtype, None) => {
                return Err(Error::invalid("k_pages", "bytes", "quantized", dtype));
            }
        };
        Uploaded::new(gpu, self.layout, &self.table, kv, &self.q, self.q_heads)
    }

    pub fn scale(&self) -> f32 {
        1.0 / (self.layout.head_dim as f32).sqrt()
    }

    pub fn lens(&self) -> Vec<u32> {
        reference::seq_lens(&self.table, self.layout.page_size)
    }
}

/// Fails unless every output is within the stated tolerance of the reference.
pub fn expect_close(what: &str, got: &[f32], want: &[f32], v: &[f32]) -> Result<(), Failure> {
    let scale = v.iter().fold(0f32, |m, x| m.max(x.abs()));
    let tol = 1e-4 * scale + 1e-6;
    if got.len() != want.len() {
        return Err(Failure::Mismatch(format!(
            "{what}: {} outputs, expected {}",
            got.len(),
            want.len()
        )));
    }
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        if (g - w).is_nan() || (g - w).abs() > tol {
            return Err(Failure::Mismatch(format!(
                "{what}: output {i} is {g}, reference {w} (tolerance {tol})"
            )));
        }
    }
    Ok(())
}

/// Both decode kernels, as conformance paths: portable = tiled, subgroup = a lane per token.
const DECODE_PATHS: [Path; 2] = [Path::Portable, Path::Subgroup];

fn decode_path(path: Path) -> DecodePath {
    match path {
        Path::Subgroup => DecodePath::Subgroup,
        _ => DecodePath::Tiled,
    }
}

fn dense_check(gpu: &Gpu, setup: &Setup, policy: &[HeadPolicy], path: Path) -> Result<(), Failure> {
    let data = setup.upload(gpu)?;
    let got = run_decode(gpu, &data, setup.scale(), policy, decode_path(path))?;
    let lens = setup.lens();
    let want = reference::decode(
        &setup.cache(),
        &setup.table,
        &setup.q,
        setup.q_heads,
        setup.scale(),
        &|b, h| reference::policy_positions(policy[h], lens[b]),
    );
    expect_close("o", &got, &want, &setup.v)
}

fn shape(
    lens: &[u32],
    page_size: u32,
    heads: (u32, u32),
    head_dim: u32,
    dtype: KvDtype,
) -> Shape<'_> {
    Shape {
        lens,
        page_size,
        kv_heads: heads.0,
        q_heads: heads.1,
        head_dim,
        dtype,
        spare_pages: 3,
    }
}

fn full(setup: &Setup) -> Vec<HeadPolicy> {
    vec![HeadPolicy::Full; setup.layout.kv_heads as usize]
}

/// Dense decode cases.
fn dense_cases() -> Vec<Case> {
    use KvDtype::{F16, F32};
    let mut all = Vec::new();
    let problems: [(&'static str, Shape<'static>); 9] = [
        (
            "f32, GQA 1, d 64, one sequence",
            shape(&[37], 16, (2, 2), 64, F32),
        ),
        (
            "f16, GQA 4, d 128, odd lengths",
            shape(&[1, 45, 130], 16, (2, 8), 128, F16),
        ),
        (
            "f32, GQA 8, d 128, partial pages",
            shape(&[77, 3], 32, (1, 8), 128, F32),
        ),
        ("f16, GQA 4, d 256", shape(&[66, 19], 8, (2, 8), 256, F16)),
        (
            "f16, empty sequence in the batch",
            shape(&[0, 21], 16, (2, 4), 64, F16),
        ),
        ("f32, page size 1", shape(&[9, 4], 1, (2, 4), 64, F32)),
        (
            "f16, several splits (1500 tokens)",
            shape(&[1500, 300], 64, (2, 8), 128, F16),
        ),
        ("f32, GQA 32 at d 64", shape(&[50], 16, (1, 32), 64, F32)),
        (
            "f16, GQA 7 (padded to 8)",
            shape(&[90, 33], 16, (2, 14), 128, F16),
        ),
    ];
    for path in DECODE_PATHS {
        for (i, &(name, shape)) in problems.iter().enumerate() {
            all.push(Case::new("attention/decode", path, name, move |gpu| {
                let setup = Setup::new(shape, Values::Random, 10 + i as u64);
                dense_check(gpu, &setup, &full(&setup), path)
            }));
        }
        all.extend(dense_edge_cases(path));
    }
    all
}

/// Large logits and per-head policies on `path`.
fn dense_edge_cases(path: Path) -> Vec<Case> {
    let mut all = Vec::new();
    all.push(Case::new(
        "attention/decode",
        path,
        "large logits stay finite (q × 300)",
        move |gpu| {
            let mut setup = Setup::new(
                shape(&[200, 33], 16, (2, 4), 128, KvDtype::F32),
                Values::Random,
                3,
            );
            setup.q.iter_mut().for_each(|x| *x *= 300.0);
            dense_check(gpu, &setup, &full(&setup), path)
        },
    ));
    all.push(Case::new(
        "attention/decode",
        path,
        "sink + window, and per-head policies",
        move |gpu| {
            let setup = Setup::new(
                shape(&[300, 40, 5], 16, (4, 8), 64, KvDtype::F16),
                Values::Random,
                4,
            );
            dense_check(
                gpu,
                &setup,
                &[HeadPolicy::SinkWindow {
                    sink: 4,
                    window: 64,
                }; 4],
                path,
            )?;
            let mixed = [
                HeadPolicy::Full,
                HeadPolicy::SinkWindow {
                    sink: 0,
                    window: 17,
                },
                HeadPolicy::SinkWindow { sink: 7, window: 0 },
                HeadPolicy::SinkWindow {
                    sink: 100,
                    window: 250,
                },
            ];
            dense_check(gpu, &setup, &mixed, path)
        },
    ));
    all
}

/// Appends tokens into a paged cache (decode steps and a multi-page prefill) from `input` rows
/// (f32 or f16), comparing the whole pool byte for byte — copied, converted or quantized — and
/// the touched pages' Quest metadata exactly (for the block formats, taken from the unquantized
/// keys). The appended rows start as garbage bytes, so every byte written and every neighbour
/// kept (blocks share words across rows) is checked.
fn append_check(
    gpu: &Gpu,
    dtype: KvDtype,
    input: squeeze::DType,
    appended: &[u32],
    edit: fn(&mut [f32], &mut [f32]),
) -> Result<(), Failure> {
    let before = [5u32, 16, 0];
    let lens: Vec<u32> = before.iter().zip(appended).map(|(a, b)| a + b).collect();
    let setup = Setup::new(shape(&lens, 16, (2, 4), 64, dtype), Values::Random, 21);
    let layout = setup.layout;
    let row = (layout.kv_heads * layout.head_dim) as usize;
    let token_bytes = layout.token_bytes() as usize;
    // The values appended, as the input dtype holds them.
    let narrow = |x: &[f32]| -> Vec<f32> {
        match input {
            squeeze::DType::F16 => x.iter().map(|&v| f16::from_f32(v).to_f32()).collect(),
            _ => x.to_vec(),
        }
    };
    let (mut raw_k, mut raw_v) = match &setup.blocks {
        Some(b) => (b.k_raw.clone(), b.v_raw.clone()),
        None => (setup.k.clone(), setup.v.clone()),
    };
    edit(&mut raw_k, &mut raw_v);
    let (raw_k, raw_v) = (narrow(&raw_k), narrow(&raw_v));
    let pool_bytes = |x: &[f32]| -> Vec<u8> {
        match dtype {
            KvDtype::F32 => bytemuck::cast_slice(x).to_vec(),
            KvDtype::F16 => x
                .iter()
                .flat_map(|&v| f16::from_f32(v).to_le_bytes())
                .collect(),
            _ => reference::quantize_row(dtype, x).unwrap_or_default(),
        }
    };
    let input_bytes = |x: &[f32]| -> Vec<u8> {
        match input {
            squeeze::DType::F16 => x
                .iter()
                .flat_map(|&v| f16::from_f32(v).to_le_bytes())
                .collect(),
            _ => bytemuck::cast_slice(x).to_vec(),
        }
    };
    let (want_k, want_v) = (pool_bytes(&raw_k), pool_bytes(&raw_v));
    // New tokens: the tail rows of each sequence; their pool rows start as garbage.
    let (mut pool_k, mut pool_v) = (want_k.clone(), want_v.clone());
    let (mut new_k, mut new_v) = (Vec::new(), Vec::new());
    let mut indptr = vec![0u32];
    for (b, (&len, &n)) in lens.iter().zip(appended).enumerate() {
        for pos in len - n..len {
            let first = reference::element(&layout, &setup.table, b, pos, 0);
            new_k.extend_from_slice(&raw_k[first..first + row]);
            new_v.extend_from_slice(&raw_v[first..first + row]);
            let at = first / row * token_bytes;
            pool_k[at..at + token_bytes].fill(0x5a);
            pool_v[at..at + token_bytes].fill(0xa5);
        }
        indptr.push(indptr[b] + n);
    }
    let pad = |mut x: Vec<u8>| {
        x.resize(layout.bytes() as usize, 0);
        x
    };
    let (k, v) = (
        gpu.upload::<u8>("k_pages", &pad(pool_k))?,
        gpu.upload::<u8>("v_pages", &pad(pool_v))?,
    );
    let (nk, nv) = (
        gpu.upload::<u8>("k_new", &input_bytes(&new_k))?,
        gpu.upload::<u8>("v_new", &input_bytes(&new_v))?,
    );
    let table = DevicePageTable::new(gpu, layout, &setup.table)?;
    // The keys the metadata covers: the unquantized ones for a block format, the cache's for
    // f32 / f16.
    let cache_k: Vec<f32> = match dtype {
        KvDtype::F16 => raw_k.iter().map(|&x| f16::from_f32(x).to_f32()).collect(),
        _ => raw_k.clone(),
    };
    let keys = HostCache {
        layout,
        k: &cache_k,
        v: &cache_k,
    };
    // The metadata before the append (what earlier appends left): a block format widens it.
    let mut earlier = PageTable {
        indptr: vec![0],
        indices: Vec::new(),
        last_page_len: Vec::new(),
    };
    for (b, &n) in before.iter().enumerate() {
        let pages = n.div_ceil(16);
        let first = setup.table.indptr[b] as usize;
        earlier
            .indices
            .extend_from_slice(&setup.table.indices[first..first + pages as usize]);
        earlier.indptr.push(earlier.indices.len() as u32);
        earlier.last_page_len.push(n - pages.saturating_sub(1) * 16);
    }
    let meta = gpu.upload("meta", &reference::quest_meta(&keys, &earlier))?;
    let mut encoder = gpu.encoder("append");
    let kv = KvCache {
        k: Binding::whole(&k),
        v: Binding::whole(&v),
        meta: Some(Binding::whole(&meta)),
    };
    if !new_k.is_empty() {
        let size = |n: usize| (n * input.size()) as u64;
        Append::with_input(gpu, dtype, input)?.encode(
            &mut encoder,
            &table,
            &NewTokens {
                append_indptr: &indptr,
                k: Binding::new(&nk, 0, size(new_k.len())),
                v: Binding::new(&nv, 0, size(new_v.len())),
            },
            &kv,
        )?;
    }
    gpu.submit_and_wait(encoder)?;
    let pools = [
        ("k_pages", &k, &want_k, &raw_k),
        ("v_pages", &v, &want_v, &raw_v),
    ];
    for (name, buffer, want, raw) in pools {
        let got = gpu.read_back::<u8>(name, buffer, 0, want.len())?;
        let near_ties = match dtype.block() {
            Some((_, size)) => block_differences(dtype, raw, &got, want, size as usize)
                .map_err(|e| Failure::Mismatch(format!("{name}: {e}")))?,
            None => {
                expect_equal(name, &got, want)?;
                0
            }
        };
        if near_ties > 0 {
            // Allowed (a GPU's 1 / d may differ from IEEE division in the last place); goal 0,
            // and 0 on lavapipe and llvmpipe.
            eprintln!("{name}: {near_ties} {dtype} codes off by one at a rounding tie of x · id");
        }
    }
    // Every page an appended token landed in has the metadata of its full contents.
    let want = reference::quest_meta(&keys, &setup.table);
    let got: Vec<f32> = gpu.read_back("meta", &meta, 0, want.len())?;
    expect_touched_meta(&setup.table, &lens, appended, 16, 2 * row, &got, &want)
}

/// Every page that the last `appended[b]` of sequence b's `lens[b]` tokens landed in
/// (`page_size` tokens a page) has the metadata `want` of its full contents, `span` values a
/// page.
fn expect_touched_meta(
    table: &PageTable,
    lens: &[u32],
    appended: &[u32],
    page_size: u32,
    span: usize,
    got: &[f32],
    want: &[f32],
) -> Result<(), Failure> {
    for (b, (&len, &n)) in lens.iter().zip(appended).enumerate() {
        if n == 0 {
            continue;
        }
        for page in (len - n) / page_size..len.div_ceil(page_size) {
            let p = table.indices[(table.indptr[b] + page) as usize] as usize;
            expect_equal(
                "meta",
                &got[p * span..(p + 1) * span],
                &want[p * span..(p + 1) * span],
            )?;
        }
    }
    Ok(())
}

/// Compares GPU-quantized blocks with the reference quantizer's: scales must be equal, and a
/// code may differ only by one where x · id lies within 1e-5 (relative) of its rounding
/// boundary — where a GPU division that differs from IEEE in the last place can land on the
/// other side. Returns how many codes did; any other difference is an error.
fn block_differences(
    dtype: KvDtype,
    raw: &[f32],
    got: &[u8],
    want: &[u8],
    size: usize,
) -> Result<usize, String> {
    let mut near_ties = 0;
    for (b, (g, w)) in got.chunks(size).zip(want.chunks(size)).enumerate() {
        if g == w {
            continue;
        }
        if g[..2] != w[..2] {
            return Err(format!(
                "block {b}: scale {:?}, reference {:?}",
                &g[..2],
                &w[..2]
            ));
        }
        let x = &raw[32 * b..32 * (b + 1)];
        let codes = |bytes: &[u8]| -> Vec<i32> {
            match dtype {
                KvDtype::Q8_0 => bytes[2..].iter().map(|&q| i32::from(q as i8)).collect(),
                _ => (0..32)
                    .map(|j| i32::from((bytes[2 + j % 16] >> (4 * (j / 16))) & 15))
                    .collect(),
            }
        };
        // The reference's x · id and where it rounds: k + ½ (q8_0), an integer after + 8.5.
        let d = match dtype {
            KvDtype::Q8_0 => {
                x.iter()
                    .fold(0f32, |m, v| if m > v.abs() { m } else { v.abs() })
                    / 127.0
            }
            _ => {
                let max = x
                    .iter()
                    .fold(0f32, |m, &v| if m.abs() < v.abs() { v } else { m });
                max / -8.0
            }
        };
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        for (j, (cg, cw)) in codes(g).into_iter().zip(codes(w)).enumerate() {
            if cg == cw {
                continue;
            }
            let t = match dtype {
                KvDtype::Q8_0 => x[j] * id + 0.5,
                _ => x[j] * id + 8.5,
            };
            let tie = (t - t.round()).abs() <= 1e-5 * t.abs().max(1.0);
            if (cg - cw).abs() != 1 || !tie {
                return Err(format!(
                    "block {b}, value {j} ({}): code {cg}, reference {cw}",
                    x[j]
                ));
            }
            near_ties += 1;
        }
    }
    Ok(near_ties)
}

fn append_cases() -> Vec<Case> {
    use squeeze::DType;
    vec![
        Case::portable("attention/append", "one token per sequence, f16", |gpu| {
            append_check(gpu, KvDtype::F16, DType::F16, &[1, 1, 1], |_, _| ())
        }),
        Case::portable(
            "attention/append",
            "prefill across pages, a sequence without new tokens, f32",
            |gpu| append_check(gpu, KvDtype::F32, DType::F32, &[40, 0, 17], |_, _| ()),
        ),
        Case::portable(
            "attention/append",
            "f32 rows into an f16 cache (rounded on the GPU)",
            |gpu| append_check(gpu, KvDtype::F16, DType::F32, &[40, 0, 17], |_, _| ()),
        ),
    ]
}

/// GPU selection rows equal to the reference's, index for index.
fn selection_check(
    gpu: &Gpu,
    setup: &Setup,
    selector: Selector,
    budget: Budget,
) -> Result<(), Failure> {
    let data = setup.upload(gpu)?;
    let got = run_sparse(
        gpu,
        &data,
        setup.scale(),
        selector,
        budget,
        DecodePath::Tiled,
    )?;
    expect_selection(setup, selector, budget, &got)
}

/// `got`, one sparse step over `setup`, equals the reference: the selection index for index
/// (TokenSelect up to near ties) and the output over exactly that selection.
fn expect_selection(
    setup: &Setup,
    selector: Selector,
    budget: Budget,
    got: &SparseResult,
) -> Result<(), Failure> {
    let lens = setup.lens();
    let layout = &setup.layout;
    let forced = (budget.sink, budget.window);
    let (scores, lengths) = match selector {
        Selector::Quest => {
            let meta = reference::quest_meta(&setup.cache(), &setup.table);
            reference::quest_scores(layout, &setup.table, &meta, &setup.q, setup.q_heads, forced)
        }
        Selector::Tidal | Selector::TokenSelect => {
            let logits = reference::token_logits(
                &setup.cache(),
                &setup.table,
                &setup.q,
                setup.q_heads,
                setup.scale(),
            );
            let vote = if selector == Selector::Tidal {
                Vote::Sum
            } else {
                Vote::Softmax
            };
            reference::token_votes(&logits, &lens, layout.kv_heads, setup.q_heads, vote, forced)
        }
    };
    let n = scores.len() / lengths.len();
    let k = got.k as usize;
    let want = reference::select(&scores, n, k, &lengths)?;
    if selector == Selector::TokenSelect {
        near_tie_equal(&got.selected, &want, &scores, n, k)?;
    } else {
        expect_equal("selected", &got.selected, &want)?;
    }
    // The output is attention over exactly the GPU's selection.
    let want_o = reference::decode(
        &setup.cache(),
        &setup.table,
        &setup.q,
        setup.q_heads,
        setup.scale(),
        &|b, h| {
            let row = &got.selected[(b * layout.kv_heads as usize + h) * k..][..k];
            reference::selected_positions(row, got.unit, lens[b])
        },
    );
    expect_close("o", &got.o, &want_o, &setup.v)
}

/// Selections through softmax (TokenSelect) are compared up to near ties: every index in one
/// selection but not the other must score within 1e-5 (relative) of the row's k-th score.
fn near_tie_equal(
    got: &[i32],
    want: &[i32],
    scores: &[f32],
    n: usize,
    k: usize,
) -> Result<(), Failure> {
    for (r, (g, w)) in got.chunks(k).zip(want.chunks(k)).enumerate() {
        let row = &scores[r * n..(r + 1) * n];
        let kth = w
            .iter()
            .filter(|&&i| i >= 0)
            .map(|&i| row[i as usize])
            .fold(f32::INFINITY, f32::min);
        for &i in g
            .iter()
            .filter(|i| !w.contains(i))
            .chain(w.iter().filter(|i| !g.contains(i)))
        {
            let s = if i >= 0 {
                row[i as usize]
            } else {
                f32::NEG_INFINITY
            };
            let gap = (s - kth).abs();
            if gap.is_nan() || gap > 1e-5 * kth.abs().max(1e-30) {
                return Err(Failure::Mismatch(format!(
                    "selected row {r}: index {i} (score {s}) differs from the reference {w:?} \
                     beyond a near tie with the k-th score {kth}; got {g:?}"
                )));
            }
        }
    }
    Ok(())
}

/// One workspace planned for a capacity serves a sequence growing token by token (as in a
/// generation): every step's selection and output equal the reference for that step's table.
/// Sizing scores by the table of each step instead of the plan's capacity would write rows at
/// the wrong stride from the second step on.
fn growth_check(gpu: &Gpu, selector: Selector) -> Result<(), Failure> {
    const CAPACITY: u32 = 72;
    let page_size = 16;
    let whole = Setup::new(
        shape(&[CAPACITY], page_size, (2, 8), 64, KvDtype::F16),
        Values::Eighths,
        97,
    );
    let budget = Budget {
        tokens: 32,
        sink: 4,
        window: 8,
    };
    // The table of the sequence at `len` tokens: the first pages of the whole one.
    let at = |len: u32| {
        let pages = len.div_ceil(page_size) as usize;
        Setup {
            table: PageTable {
                indptr: vec![0, pages as u32],
                indices: whole.table.indices[..pages].to_vec(),
                last_page_len: vec![len - (pages as u32 - 1) * page_size],
            },
            ..whole.clone()
        }
    };
    let sparse = Sparse::with_path(gpu, KvDtype::F16, DecodePath::Tiled)?;
    let first = at(40).upload(gpu)?;
    let workspace = sparse.workspace_with_capacity(&first.table, 8, selector, budget, CAPACITY)?;
    for len in 40..=CAPACITY {
        let setup = at(len);
        let data = setup.upload(gpu)?;
        let got = run_sparse_in(gpu, &data, setup.scale(), &sparse, &workspace)?;
        expect_selection(&setup, selector, budget, &got)
            .map_err(|e| Failure::Mismatch(format!("at {len} tokens: {e}")))?;
    }
    // A table past the capacity (one page more than it holds, a spare pool page) is refused,
    // not written past the rows.
    let len = CAPACITY.next_multiple_of(page_size) + 1;
    let spare = (0..whole.layout.pages)
        .find(|p| !whole.table.indices.contains(p))
        .ok_or_else(|| Failure::Mismatch("the pool has no spare page".into()))?;
    let past = Setup {
        table: PageTable {
            indptr: vec![0, len.div_ceil(page_size)],
            indices: [whole.table.indices.clone(), vec![spare]].concat(),
            last_page_len: vec![1],
        },
        ..whole.clone()
    };
    let data = past.upload(gpu)?;
    match run_sparse_in(gpu, &data, past.scale(), &sparse, &workspace) {
        Err(Error::InvalidArgument {
            arg: "workspace", ..
        }) => Ok(()),
        other => Err(Failure::Mismatch(format!(
            "a table past the workspace's capacity gave {other:?}"
        ))),
    }
}

/// f16 at attention's seams: queries in f16 (exactly representable values) give the f32
/// queries' results bit for bit, and an f16 output is the f32 output rounded to nearest even —
/// for dense decode and for a sparse step (`selector`), whose selection must not change either.
fn f16_seams_check(gpu: &Gpu, selector: Option<Selector>, path: Path) -> Result<(), Failure> {
    use squeeze::DType;
    use squeeze::attention::Output;

    let setup = Setup::new(
        shape(&[150, 61], 16, (2, 8), 64, KvDtype::F16),
        Values::Eighths,
        71,
    );
    let data = setup.upload(gpu)?;
    let q16: Vec<f16> = setup.q.iter().map(|&x| f16::from_f32(x)).collect();
    let q16_buf = gpu.upload("q16", &q16)?;
    let n = setup.q.len();
    let (o32, o16) = (
        gpu.storage_buffer("o32", n as u64 * 4)?,
        gpu.storage_buffer("o16", n as u64 * 2)?,
    );
    let scale = setup.scale();
    let queries = [
        (data.query(scale), Output::from(Binding::whole(&o32))),
        (
            Query {
                q: Binding::whole(&q16_buf),
                dtype: DType::F16,
                ..data.query(scale)
            },
            Output {
                o: Binding::whole(&o16),
                dtype: DType::F16,
            },
        ),
    ];
    let mut selections = Vec::new();
    match selector {
        None => {
            let decode = Decode::with_path(gpu, KvDtype::F16, decode_path(path))?;
            decode.prepare_for(4, 64, DType::F16)?;
            let policy = full(&setup);
            let tokens = Tokens::Policy(&policy);
            let scratch =
                gpu.storage_buffer("scratch", decode.scratch_bytes(&data.table, 8, &tokens))?;
            let mut encoder = gpu.encoder("f16 seams");
            for (query, out) in queries {
                let kv = data.kv(None);
                decode.encode(
                    &mut encoder,
                    &DecodeArgs {
                        table: &data.table,
                        kv: &kv,
                        query: &query,
                        tokens: &tokens,
                        scratch: Binding::whole(&scratch),
                        out,
                    },
                )?;
            }
            gpu.submit_and_wait(encoder)?;
        }
        Some(selector) => {
            let sparse = Sparse::with_path(gpu, KvDtype::F16, decode_path(path))?;
            let budget = Budget {
                tokens: 48,
                sink: 4,
                window: 8,
            };
            let layout = setup.layout;
            let meta = gpu.storage_buffer("meta", meta_bytes(&layout))?;
            let mut encoder = gpu.encoder("meta");
            QuestMeta::new(gpu, KvDtype::F16)?.encode(
                &mut encoder,
                &data.table,
                Binding::whole(&data.k),
                &all_pages(&data.table)?,
                Binding::whole(&meta),
            )?;
            gpu.submit_and_wait(encoder)?;
            for (query, out) in queries {
                let workspace = sparse.workspace(&data.table, 8, selector, budget)?;
                let mut encoder = gpu.encoder("f16 seams");
                sparse.encode(
                    &mut encoder,
                    &data.table,
                    &data.kv(Some(&meta)),
                    &query,
                    &workspace,
                    out,
                )?;
                gpu.submit_and_wait(encoder)?;
                let plan = workspace.plan();
                let rows = (plan.rows * plan.k) as usize;
                let selected: Vec<i32> =
                    gpu.read_back("selected", workspace.selected().buffer, 0, rows)?;
                selections.push(selected);
            }
            expect_equal("selection, f16 q vs f32 q", &selections[1], &selections[0])?;
        }
    }
    let full32: Vec<f32> = gpu.read_back("o32", &o32, 0, n)?;
    let got16: Vec<u16> = gpu
        .read_back::<f16>("o16", &o16, 0, n)?
        .iter()
        .map(|h| h.to_bits())
        .collect();
    let want16: Vec<u16> = full32.iter().map(|&v| f16::from_f32(v).to_bits()).collect();
    expect_equal("f16 output vs the f32 output rounded", &got16, &want16)
}

/// Sparse with a budget covering every sequence equals dense.
fn covering_check(gpu: &Gpu, setup: &Setup, selector: Selector, path: Path) -> Result<(), Failure> {
    let data = setup.upload(gpu)?;
    let longest = setup.lens().into_iter().max().unwrap_or(0);
    let budget = Budget {
        tokens: longest.next_multiple_of(setup.layout.page_size),
        sink: 0,
        window: 0,
    };
    let path = decode_path(path);
    let sparse = run_sparse(gpu, &data, setup.scale(), selector, budget, path)?;
    let dense = run_decode(gpu, &data, setup.scale(), &full(setup), path)?;
    expect_close("sparse vs dense", &sparse.o, &dense, &setup.v)
}

fn sparse_cases() -> Vec<Case> {
    use KvDtype::{F16, F32};
    let mut all = Vec::new();
    let budget = |tokens, sink, window| Budget {
        tokens,
        sink,
        window,
    };
    let selectors = [
        ("attention/quest", Selector::Quest),
        ("attention/tidal", Selector::Tidal),
        ("attention/tokenselect", Selector::TokenSelect),
    ];
    for (i, (kernel, selector)) in selectors.into_iter().enumerate() {
        let seed = 40 + 10 * i as u64;
        all.push(Case::portable(
            kernel,
            "one workspace while the sequence grows 40 → 72 tokens, then past its capacity",
            move |gpu| growth_check(gpu, selector),
        ));
        all.push(Case::portable(
            kernel,
            "exact scores, ties, GQA 4, sink + window",
            move |gpu| {
                let setup = Setup::new(
                    shape(&[200, 77, 9], 8, (2, 8), 64, F16),
                    Values::Eighths,
                    seed,
                );
                selection_check(gpu, &setup, selector, budget(64, 8, 16))
            },
        ));
        all.push(Case::portable(
            kernel,
            "random, GQA 8, d 128, no forced tokens",
            move |gpu| {
                let setup = Setup::new(
                    shape(&[300, 130], 16, (1, 8), 128, F32),
                    Values::Eighths,
                    seed + 1,
                );
                selection_check(gpu, &setup, selector, budget(96, 0, 0))
            },
        ));
        all.push(Case::portable(
            kernel,
            "GQA 1, budget over a short sequence",
            move |gpu| {
                let setup = Setup::new(
                    shape(&[5, 260], 16, (2, 2), 64, F16),
                    Values::Eighths,
                    seed + 2,
                );
                selection_check(gpu, &setup, selector, budget(48, 1, 15))
            },
        ));
        for path in DECODE_PATHS {
            all.push(Case::new(
                kernel,
                path,
                "budget ≥ length equals dense",
                move |gpu| {
                    let setup = Setup::new(
                        shape(&[123, 64, 1], 16, (2, 8), 128, F16),
                        Values::Random,
                        seed + 3,
                    );
                    covering_check(gpu, &setup, selector, path)
                },
            ));
        }
    }
    all
}

/// Quest metadata built from a whole cache equals the reference bit for bit.
fn meta_cases() -> Vec<Case> {
    vec![Case::portable(
        "attention/quest",
        "metadata of every page, f16",
        |gpu| {
            let setup = Setup::new(
                shape(&[70, 16, 3], 16, (2, 4), 128, KvDtype::F16),
                Values::Random,
                7,
            );
            let data = setup.upload(gpu)?;
            let meta = gpu.storage_buffer("meta", meta_bytes(&setup.layout))?;
            let mut encoder = gpu.encoder("meta");
            QuestMeta::new(gpu, KvDtype::F16)?.encode(
                &mut encoder,
                &data.table,
                Binding::whole(&data.k),
                &all_pages(&data.table)?,
                Binding::whole(&meta),
            )?;
            gpu.submit_and_wait(encoder)?;
            let want = reference::quest_meta(&setup.cache(), &setup.table);
            expect_equal(
                "meta",
                &gpu.read_back::<f32>("meta", &meta, 0, want.len())?,
                &want,
            )
        },
    )]
}

/// TidalDecode: the selection made at one layer, reused by a later layer with its own K, V and
/// queries, all in one encoder; the later layer attends over exactly the earlier selection.
fn reuse_check(gpu: &Gpu) -> Result<(), Failure> {
    let shape = shape(&[150, 61], 16, (2, 8), 64, KvDtype::F16);
    let first = Setup::new(shape, Values::Eighths, 90);
    let later = Setup {
        table: first.table.clone(),
        ..Setup::new(shape, Values::Random, 91)
    };
    let (a, b) = (first.upload(gpu)?, later.upload(gpu)?);
    let sparse = Sparse::with_path(gpu, KvDtype::F16, DecodePath::Tiled)?;
    let budget = Budget {
        tokens: 40,
        sink: 4,
        window: 8,
    };
    let workspace = sparse.workspace(&a.table, first.q_heads, Selector::Tidal, budget)?;
    let out_bytes = (first.q.len() * 4) as u64;
    let (out_a, out_b) = (
        gpu.storage_buffer("o", out_bytes)?,
        gpu.storage_buffer("o", out_bytes)?,
    );
    let tokens = workspace.tokens();
    let scratch = gpu.storage_buffer(
        "scratch",
        sparse
            .decode()
            .scratch_bytes(&b.table, later.q_heads, &tokens),
    )?;
    let mut encoder = gpu.encoder("two layers");
    let scale = first.scale();
    sparse.encode(
        &mut encoder,
        &a.table,
        &a.kv(None),
        &a.query(scale),
        &workspace,
        Binding::whole(&out_a),
    )?;
    sparse.decode().encode(
        &mut encoder,
        &DecodeArgs {
            table: &b.table,
            kv: &b.kv(None),
            query: &b.query(scale),
            tokens: &tokens,
            scratch: Binding::whole(&scratch),
            out: Binding::whole(&out_b).into(),
        },
    )?;
    gpu.submit_and_wait(encoder)?;
    let plan = workspace.plan();
    let k = plan.k as usize;
    let selected: Vec<i32> = gpu.read_back(
        "selected",
        workspace.selected().buffer,
        0,
        plan.rows as usize * k,
    )?;
    let lens = first.lens();
    let logits =
        reference::token_logits(&first.cache(), &first.table, &first.q, first.q_heads, scale);
    let (votes, lengths) =
        reference::token_votes(&logits, &lens, 2, first.q_heads, Vote::Sum, (4, 8));
    let want = reference::select(&votes, votes.len() / lengths.len(), k, &lengths)?;
    expect_equal("selected", &selected, &want)?;
    let want_b = reference::decode(
        &later.cache(),
        &later.table,
        &later.q,
        later.q_heads,
        scale,
        &|s, h| reference::selected_positions(&selected[(s * 2 + h) * k..][..k], 1, lens[s]),
    );
    let got_b: Vec<f32> = gpu.read_back("o", &out_b, 0, later.q.len())?;
    expect_close("later layer", &got_b, &want_b, &later.v)
}

/// A case name made at run time (case names are `&'static str`; the few made here live as long
/// as the test binary anyway).
fn leak(text: String) -> &'static str {
    Box::leak(text.into_boxed_str())
}

/// Rows of the quantized-append edge case, 64 values (two blocks) each, K then V: an all-zero
/// row (scale 0), ggml's rounding ties (x · id exactly k + ½, both signs), equal largest
/// magnitudes of both signs (q4_0 keeps the first), f16-subnormal scales; V alone gets the
/// non-finite values (NaN first, NaN last — ggml's MAX lets only the last one win —, ±inf),
/// since Quest's metadata is compared over K.
fn edge_rows(k: &mut [f32], v: &mut [f32]) {
    let row = 2 * 64;
    let ties: Vec<f32> = (0..32)
        .map(|j| match j {
            0 => 127.0,
            1 => -127.0,
            _ => (j as f32 - 16.0) + 0.5,
        })
        .collect();
    for x in [&mut *k, &mut *v] {
        x[..row].fill(0.0);
        x[row..row + 32].copy_from_slice(&ties);
        x[row + 32..row + 64].copy_from_slice(&ties.iter().map(|t| -t / 16.0).collect::<Vec<_>>());
        x[row + 64] = -8.0;
        x[row + 65] = 8.0;
        for (j, e) in x[2 * row..2 * row + 64].iter_mut().enumerate() {
            *e = (j as f32 - 30.0) * 1e-7;
        }
    }
    let r = 3 * row;
    v[r] = f32::NAN;
    v[r + 32 + 31] = f32::NAN;
    v[r + 64 + 5] = f32::INFINITY;
    v[r + 96 + 9] = f32::NEG_INFINITY;
}

/// The sequences before and after a KIVI append, `(before, appended)` tokens each.
type Appends<'a> = (&'a [u32], &'a [u32]);

/// KIVI's int4 / int2 append on the GPU against `reference::kivi::append` from the same
/// starting bytes, whole bindings byte for byte (pools and residuals; a code may be one step
/// off where a GPU's division is, counted), and the touched pages' Quest metadata (from the
/// unquantized keys) exactly. Pages of 16, shuffled; the start is
/// what appending `before` left (every earlier partial page in its residual), with garbage in
/// every pool page not yet full and every residual slot not yet used, so each byte the append
/// writes and each byte it must keep is checked.
fn kivi_append_check(
    gpu: &Gpu,
    dtype: KvDtype,
    input: squeeze::DType,
    (before, appended): Appends<'_>,
    edit: fn(&mut [f32], &mut [f32]),
) -> Result<(), Failure> {
    const PAGE: u32 = 16;
    let lens: Vec<u32> = before.iter().zip(appended).map(|(a, b)| a + b).collect();
    let setup = Setup::new(shape(&lens, PAGE, (2, 4), 64, dtype), Values::Random, 23);
    let layout = setup.layout;
    let kvd = (layout.kv_heads * layout.head_dim) as usize;
    let Some(blocks) = &setup.blocks else {
        return Err(Failure::Mismatch(format!("{dtype} is not quantized")));
    };
    let (mut raw_k, mut raw_v) = (blocks.k_raw.clone(), blocks.v_raw.clone());
    edit(&mut raw_k, &mut raw_v);
    if input == squeeze::DType::F16 {
        for x in raw_k.iter_mut().chain(raw_v.iter_mut()) {
            *x = f16::from_f32(*x).to_f32();
        }
    }
    // The table before the append, and the bytes it left.
    let mut earlier = setup.table.clone();
    earlier.indices.clear();
    for (b, &n) in before.iter().enumerate() {
        let first = setup.table.indptr[b] as usize;
        let pages = n.div_ceil(PAGE) as usize;
        earlier
            .indices
            .extend_from_slice(&setup.table.indices[first..first + pages]);
        earlier.indptr[b + 1] = earlier.indices.len() as u32;
        earlier.last_page_len[b] = n - (pages as u32).saturating_sub(1) * PAGE;
    }
    let garbage = |x: &mut [u8], fill: u8| x.iter_mut().for_each(|b| *b = fill);
    let (mut k0, mut v0) = reference::kivi::fill(&layout, &earlier, &raw_k, &raw_v)
        .ok_or_else(|| Failure::Mismatch(format!("{dtype} is not KIVI")))?;
    let full_before: Vec<u32> = before
        .iter()
        .enumerate()
        .flat_map(|(b, &n)| {
            let first = earlier.indptr[b] as usize;
            earlier.indices[first..first + (n / PAGE) as usize].to_vec()
        })
        .collect();
    let bits = dtype.kivi_bits().unwrap_or(4) as usize;
    let k_page = 4 * kvd + PAGE as usize * kvd * bits / 8;
    let v_row = kvd / 32 * (4 + 4 * bits);
    for page in (0..layout.pages).filter(|p| !full_before.contains(p)) {
        let p = page as usize;
        garbage(&mut k0[p * k_page..(p + 1) * k_page], 0x5a);
        let rows = p * PAGE as usize * v_row..(p + 1) * PAGE as usize * v_row;
        garbage(&mut v0[rows], 0x5a);
    }
    let residual = (
        layout.pool_bytes(Pool::K) as usize,
        layout.pool_bytes(Pool::V) as usize,
    );
    for (b, &n) in before.iter().enumerate() {
        let slot = |t: u32| (b as u32 * PAGE + t) as usize * kvd * 2;
        let used = (n % PAGE, PAGE);
        let range = slot(used.0)..slot(used.1);
        garbage(
            &mut k0[residual.0 + range.start..residual.0 + range.end],
            0xa5,
        );
        garbage(
            &mut v0[residual.1 + range.start..residual.1 + range.end],
            0xa5,
        );
    }
    // The new rows, in order, and the reference's result.
    let (mut new_k, mut new_v) = (Vec::new(), Vec::new());
    let mut indptr = vec![0u32];
    for (b, (&len, &n)) in lens.iter().zip(appended).enumerate() {
        for pos in len - n..len {
            let first = reference::element(&layout, &setup.table, b, pos, 0);
            new_k.extend_from_slice(&raw_k[first..first + kvd]);
            new_v.extend_from_slice(&raw_v[first..first + kvd]);
        }
        indptr.push(indptr[b] + n);
    }
    let (mut want_k, mut want_v) = (k0.clone(), v0.clone());
    reference::kivi::append(
        &layout,
        &setup.table,
        &indptr,
        (&new_k, &new_v),
        (&mut want_k, &mut want_v),
    );
    let input_bytes = |x: &[f32]| -> Vec<u8> {
        match input {
            squeeze::DType::F16 => x
                .iter()
                .flat_map(|&v| f16::from_f32(v).to_le_bytes())
                .collect(),
            _ => bytemuck::cast_slice(x).to_vec(),
        }
    };
    let (k, v) = (
        gpu.upload::<u8>("k_pages", &k0)?,
        gpu.upload::<u8>("v_pages", &v0)?,
    );
    let (nk, nv) = (
        gpu.upload::<u8>("k_new", &input_bytes(&new_k))?,
        gpu.upload::<u8>("v_new", &input_bytes(&new_v))?,
    );
    let table = DevicePageTable::new(gpu, layout, &setup.table)?;
    let keys = |table: &PageTable| {
        let cache = HostCache {
            layout,
            k: &raw_k,
            v: &raw_k,
        };
        reference::quest_meta(&cache, table)
    };
    let meta = gpu.upload("meta", &keys(&earlier))?;
    let mut encoder = gpu.encoder("kivi append");
    let size = |n: usize| (n * input.size()) as u64;
    Append::with_input(gpu, dtype, input)?.encode(
        &mut encoder,
        &table,
        &NewTokens {
            append_indptr: &indptr,
            k: Binding::new(&nk, 0, size(new_k.len()).max(4)),
            v: Binding::new(&nv, 0, size(new_v.len()).max(4)),
        },
        &KvCache {
            k: Binding::whole(&k),
            v: Binding::whole(&v),
            meta: Some(Binding::whole(&meta)),
        },
    )?;
    gpu.submit_and_wait(encoder)?;
    let pools = [
        ("k_pages", &k, &want_k, Pool::K),
        ("v_pages", &v, &want_v, Pool::V),
    ];
    for (name, buffer, want, pool) in pools {
        let got = gpu.read_back::<u8>(name, buffer, 0, want.len())?;
        let off = reference::kivi::code_differences(&layout, pool, &got, want)
            .map_err(|e| Failure::Mismatch(format!("{name}: {e}")))?;
        if off > 0 {
            // Allowed (a GPU's division may differ from IEEE in the last place); goal 0, and
            // 0 on lavapipe and llvmpipe.
            eprintln!("{name}: {off} {dtype} codes one step from the reference's");
        }
    }
    let want = keys(&setup.table);
    let got: Vec<f32> = gpu.read_back("meta", &meta, 0, want.len())?;
    expect_touched_meta(&setup.table, &lens, appended, PAGE, 2 * kvd, &got, &want)
}

/// KIVI edge values, K then V (first token rows of the pool, 2 heads × 64): K channel 0
/// constant over the whole pool (scale 0), channel 1 two values only; V's first group
/// constant, then NaN, ±inf and a value beyond f16's range in later groups (codes saturate,
/// scale and zero from the finite values). Quest's metadata is compared over K, so K stays
/// finite.
fn kivi_edge_rows(k: &mut [f32], v: &mut [f32]) {
    let kvd = 128;
    for (t, row) in k.chunks_exact_mut(kvd).enumerate() {
        row[0] = 0.625;
        row[1] = if t % 2 == 0 { -3.0 } else { 5.0 };
    }
    for row in v.chunks_exact_mut(kvd).take(40) {
        row[..32].fill(-0.25);
        row[32] = f32::NAN;
        row[33] = f32::INFINITY;
        row[64] = f32::NEG_INFINITY;
        row[96] = 1e6;
    }
}

/// A block cache filled on the GPU from f32 values (`Uploaded::appended`, the path of `squeeze
/// run attention-decode --set kv=…`), then a Quest step: pages chosen by the bounds of the
/// unquantized keys, which the append kept, index for index, and attention over the
/// dequantized cache.
fn appended_quest_check(gpu: &Gpu, dtype: KvDtype) -> Result<(), Failure> {
    let setup = Setup::new(
        shape(&[200, 77, 9], 8, (2, 8), 64, dtype),
        Values::Eighths,
        77,
    );
    let Some(blocks) = &setup.blocks else {
        return Err(Failure::Mismatch(format!("{dtype} is not a block format")));
    };
    let data = Uploaded::appended(
        gpu,
        setup.layout,
        &setup.table,
        HostKv::F32 {
            k: &blocks.k_raw,
            v: &blocks.v_raw,
        },
        &setup.q,
        setup.q_heads,
    )?;
    let budget = Budget {
        tokens: 64,
        sink: 8,
        window: 16,
    };
    let got = run_sparse(
        gpu,
        &data,
        setup.scale(),
        Selector::Quest,
        budget,
        DecodePath::Tiled,
    )?;
    let raw = HostCache {
        layout: setup.layout,
        k: &blocks.k_raw,
        v: &blocks.v_raw,
    };
    let meta = reference::quest_meta(&raw, &setup.table);
    let (scores, lengths) = reference::quest_scores(
        &setup.layout,
        &setup.table,
        &meta,
        &setup.q,
        setup.q_heads,
        (budget.sink, budget.window),
    );
    let k = got.k as usize;
    let want = reference::select(&scores, scores.len() / lengths.len(), k, &lengths)?;
    expect_equal("selected", &got.selected, &want)?;
    let lens = setup.lens();
    let heads = setup.layout.kv_heads as usize;
    let want_o = reference::decode(
        &setup.cache(),
        &setup.table,
        &setup.q,
        setup.q_heads,
        setup.scale(),
        &|b, h| {
            let row = &got.selected[(b * heads + h) * k..][..k];
            reference::selected_positions(row, got.unit, lens[b])
        },
    );
    expect_close("o", &got.o, &want_o, &setup.v)
}

/// The quantized formats (q8_0, q4_0, int4, int2): the GPU's quantizing append against the
/// reference quantizer byte for byte, from f32 and f16 rows, then every reader — dense decode, sinks +
/// window, prefill, Quest, TidalDecode, TokenSelect — over the same quantized bytes against
/// the references over their dequantized values.
fn quantized_cases() -> Vec<Case> {
    use squeeze::DType;
    let mut all = Vec::new();
    let formats = [
        (0u64, KvDtype::Q8_0),
        (1, KvDtype::Q4_0),
        (2, KvDtype::Int4),
        (3, KvDtype::Int2),
    ];
    for (f, dtype) in formats {
        if dtype.kivi_bits().is_some() {
            all.extend(kivi_append_cases(dtype));
        }
        for input in [DType::F32, DType::F16]
            .into_iter()
            .filter(|_| dtype.block().is_some())
        {
            all.push(Case::portable(
                "attention/append",
                leak(format!(
                    "{dtype} from {input} rows: prefill across pages and decode steps"
                )),
                move |gpu| {
                    append_check(gpu, dtype, input, &[40, 0, 17], |_, _| ())?;
                    append_check(gpu, dtype, input, &[1, 1, 1], |_, _| ())
                },
            ));
        }
        if dtype.block().is_some() {
            all.push(Case::portable(
                "attention/append",
                leak(format!(
                    "{dtype}: zero rows, rounding ties, subnormal scales, NaN and inf"
                )),
                move |gpu| append_check(gpu, dtype, DType::F32, &[40, 0, 17], edge_rows),
            ));
        }
        let seed = 300 + 10 * f;
        for path in DECODE_PATHS {
            all.push(Case::new(
                "attention/decode",
                path,
                leak(format!(
                    "{dtype}, GQA 4, d 128, odd lengths, several splits"
                )),
                move |gpu| {
                    let setup = Setup::new(
                        shape(&[1, 45, 700], 16, (2, 8), 128, dtype),
                        Values::Random,
                        seed,
                    );
                    dense_check(gpu, &setup, &full(&setup), path)
                },
            ));
            all.push(Case::new(
                "attention/decode",
                path,
                leak(format!(
                    "{dtype}, GQA 1 and 32 at d 64 and 256, page size 1"
                )),
                move |gpu| {
                    let setup = Setup::new(
                        shape(&[9, 4], 1, (2, 2), 256, dtype),
                        Values::Random,
                        seed + 1,
                    );
                    dense_check(gpu, &setup, &full(&setup), path)?;
                    let setup = Setup::new(
                        shape(&[50], 16, (1, 32), 64, dtype),
                        Values::Random,
                        seed + 2,
                    );
                    dense_check(gpu, &setup, &full(&setup), path)
                },
            ));
            all.push(Case::new(
                "attention/decode",
                path,
                leak(format!("{dtype}, sinks + window per head")),
                move |gpu| {
                    let setup = Setup::new(
                        shape(&[300, 40, 5], 16, (4, 8), 64, dtype),
                        Values::Random,
                        seed + 3,
                    );
                    let sw = |sink, window| HeadPolicy::SinkWindow { sink, window };
                    dense_check(
                        gpu,
                        &setup,
                        &[HeadPolicy::Full, sw(0, 17), sw(7, 0), sw(4, 64)],
                        path,
                    )
                },
            ));
        }
        for path in PREFILL_PATHS {
            all.push(Case::new(
                "attention/prefill",
                path,
                leak(format!(
                    "{dtype}, GQA 4, d 128, ragged new tokens after a prefix"
                )),
                move |gpu| {
                    let problem = PrefillProblem::new(
                        shape(&[45, 130, 7], 16, (2, 8), 128, dtype),
                        &[5, 130, 1],
                        Values::Random,
                        seed + 20,
                    );
                    prefill_check(gpu, &problem, path)
                },
            ));
        }
        all.push(Case::portable(
            "attention/quest",
            leak(format!(
                "{dtype} filled on the GPU: pages by the unquantized keys' bounds"
            )),
            move |gpu| appended_quest_check(gpu, dtype),
        ));
        let selectors = [
            ("attention/quest", Selector::Quest),
            ("attention/tidal", Selector::Tidal),
            ("attention/tokenselect", Selector::TokenSelect),
        ];
        for (i, (kernel, selector)) in selectors.into_iter().enumerate() {
            let seed = seed + 4 + i as u64;
            all.push(Case::portable(
                kernel,
                leak(format!(
                    "{dtype}: selection and output over the dequantized cache"
                )),
                move |gpu| {
                    let setup = Setup::new(
                        shape(&[200, 77, 9], 8, (2, 8), 64, dtype),
                        Values::Eighths,
                        seed,
                    );
                    let budget = Budget {
                        tokens: 64,
                        sink: 8,
                        window: 16,
                    };
                    selection_check(gpu, &setup, selector, budget)
                },
            ));
            for path in DECODE_PATHS {
                all.push(Case::new(
                    kernel,
                    path,
                    leak(format!("{dtype}: budget ≥ length equals dense")),
                    move |gpu| {
                        let setup = Setup::new(
                            shape(&[123, 64, 1], 16, (2, 8), 128, dtype),
                            Values::Random,
                            seed + 10,
                        );
                        covering_check(gpu, &setup, selector, path)
                    },
                ));
            }
        }
    }
    all
}

/// KIVI's append (int4 / int2): the residual across page boundaries — a page filling
/// mid-append, appends of one token and of many, a sequence of exactly one page, partial last
/// pages, a sequence with no new tokens — from f32 and f16 rows, and edge values.
fn kivi_append_cases(dtype: KvDtype) -> Vec<Case> {
    use squeeze::DType;
    let mut all = Vec::new();
    let prefill: Appends<'static> = (&[5, 16, 0, 3], &[40, 0, 17, 13]);
    let steps: Appends<'static> = (&[15, 16, 0, 31], &[1, 1, 1, 1]);
    for input in [DType::F32, DType::F16] {
        all.push(Case::portable(
            "attention/append",
            leak(format!(
                "{dtype} from {input} rows: a page filled mid-append, one exact page, residuals"
            )),
            move |gpu| kivi_append_check(gpu, dtype, input, prefill, |_, _| ()),
        ));
        all.push(Case::portable(
            "attention/append",
            leak(format!(
                "{dtype} from {input} rows: one token each, filling a page or starting one"
            )),
            move |gpu| kivi_append_check(gpu, dtype, input, steps, |_, _| ()),
        ));
    }
    all.push(Case::portable(
        "attention/append",
        leak(format!(
            "{dtype}: constant groups (scale 0), NaN, ±inf and beyond f16"
        )),
        move |gpu| kivi_append_check(gpu, dtype, DType::F32, prefill, kivi_edge_rows),
    ));
    all
}

pub fn cases() -> Vec<Case> {
    let mut all = dense_cases();
    for path in DECODE_PATHS {
        all.push(Case::new(
            "attention/decode",
            path,
            "f16 queries and output: the f32 results bit for bit, rounded",
            move |gpu| f16_seams_check(gpu, None, path),
        ));
        for (kernel, selector) in [
            ("attention/quest", Selector::Quest),
            ("attention/tidal", Selector::Tidal),
        ] {
            all.push(Case::new(
                kernel,
                path,
                "f16 queries and output: the same selection, the f32 output rounded",
                move |gpu| f16_seams_check(gpu, Some(selector), path),
            ));
        }
    }
    all.push(Case::portable(
        "attention/tidal",
        "selection reused by a later layer",
        reuse_check,
    ));
    all.extend(append_cases());
    all.extend(quantized_cases());
    all.extend(meta_cases());
    all.extend(sparse_cases());
    all.extend(prefill_cases());
    all
}

// ---- Prefill attention ----
//
// Causal prefill of each sequence's newest tokens (append, then attend) against
// `reference::prefill`, within the tolerance above: GQA 1/2/3/4, head dims 64/128/256, partial
// last pages, odd lengths, ragged batches (a sequence with no new tokens too), n = whole
// sequence, large logits; n = 1 against the decode kernel; f16 queries and outputs bit for bit.
// Every case runs on both paths (`PrefillPath`): portable = tiled, subgroup = a lane per row.

/// Both prefill kernels, as conformance paths.
const PREFILL_PATHS: [Path; 2] = [Path::Portable, Path::Subgroup];

fn prefill_path(path: Path) -> PrefillPath {
    match path {
        Path::Subgroup => PrefillPath::Subgroup,
        _ => PrefillPath::Tiled,
    }
}

/// One prefill problem: `setup`'s cache and table, and `news[b]` new tokens of sequence b,
/// their queries `[Σ news, q_heads, head_dim]` drawn like `setup`'s and multiplied by `q_scale`.
struct PrefillProblem {
    setup: Setup,
    qo_indptr: Vec<u32>,
    q: Vec<f32>,
}

impl PrefillProblem {
    fn new(shape: Shape<'_>, news: &[u32], values: Values, seed: u64) -> Self {
        let setup = Setup::new(shape, values, seed);
        let mut qo_indptr = vec![0];
        for &n in news {
            qo_indptr.push(qo_indptr[qo_indptr.len() - 1] + n);
        }
        let rows = qo_indptr[news.len()] as usize;
        let mut rng = SplitMix64::new(seed ^ 0x9e37);
        let q = (0..rows * (shape.q_heads * shape.head_dim) as usize)
            .map(|_| {
                let u = rng.next_u32();
                match values {
                    Values::Random => (u >> 8) as f32 / (1u32 << 23) as f32 - 1.0,
                    Values::Eighths => (u % 17) as f32 / 8.0 - 1.0,
                }
            })
            .collect();
        Self {
            setup,
            qo_indptr,
            q,
        }
    }

    fn reference(&self) -> Vec<f32> {
        let s = &self.setup;
        reference::prefill(
            &s.cache(),
            &s.table,
            &self.qo_indptr,
            &self.q,
            s.q_heads,
            s.scale(),
        )
    }

    /// The GPU's output for f32 queries and output.
    fn run(&self, gpu: &Gpu, path: Path) -> Result<Vec<f32>, Failure> {
        let data = self.setup.upload(gpu)?;
        let q = gpu.upload("q", &self.q)?;
        let out = gpu.storage_buffer("o", self.q.len() as u64 * 4)?;
        let prefill = Prefill::with_path(gpu, self.setup.layout.dtype, prefill_path(path))?;
        let mut encoder = gpu.encoder("attention prefill");
        prefill.encode(
            &mut encoder,
            &PrefillArgs {
                table: &data.table,
                kv: &data.kv(None),
                query: &Query {
                    q: Binding::whole(&q),
                    ..data.query(self.setup.scale())
                },
                qo_indptr: &self.qo_indptr,
                out: Binding::whole(&out).into(),
            },
        )?;
        gpu.submit_and_wait(encoder)?;
        Ok(gpu.read_back("o", &out, 0, self.q.len())?)
    }
}

fn prefill_check(gpu: &Gpu, problem: &PrefillProblem, path: Path) -> Result<(), Failure> {
    let got = problem.run(gpu, path)?;
    if let Some(i) = got.iter().position(|x| !x.is_finite()) {
        return Err(Failure::Mismatch(format!("o: output {i} is {}", got[i])));
    }
    expect_close("o", &got, &problem.reference(), &problem.setup.v)
}

/// With one new token per sequence, prefill is decode: both kernels against each other (and
/// the reference).
fn prefill_one_token_check(gpu: &Gpu, path: Path) -> Result<(), Failure> {
    let problem = PrefillProblem::new(
        shape(&[45, 130, 7], 16, (2, 8), 128, KvDtype::F16),
        &[1, 1, 1],
        Values::Random,
        91,
    );
    let got = problem.run(gpu, path)?;
    let setup = Setup {
        q: problem.q.clone(),
        ..problem.setup.clone()
    };
    let decoded = run_decode(
        gpu,
        &setup.upload(gpu)?,
        setup.scale(),
        &full(&setup),
        decode_path(path),
    )?;
    expect_close("prefill (n = 1) vs decode", &got, &decoded, &setup.v)?;
    expect_close("o", &got, &problem.reference(), &setup.v)
}

/// f16 queries holding the f32 queries exactly give the f32 output bit for bit, and an f16
/// output is the f32 output rounded to nearest even.
fn prefill_f16_seams_check(gpu: &Gpu, path: Path) -> Result<(), Failure> {
    use squeeze::DType;
    use squeeze::attention::Output;

    let problem = PrefillProblem::new(
        shape(&[70, 33], 16, (2, 8), 64, KvDtype::F16),
        &[70, 12],
        Values::Eighths,
        93,
    );
    let data = problem.setup.upload(gpu)?;
    let n = problem.q.len();
    let q32 = gpu.upload("q32", &problem.q)?;
    let q16: Vec<f16> = problem.q.iter().map(|&x| f16::from_f32(x)).collect();
    let q16 = gpu.upload("q16", &q16)?;
    let (o32, o16) = (
        gpu.storage_buffer("o32", n as u64 * 4)?,
        gpu.storage_buffer("o16", n as u64 * 2)?,
    );
    let prefill = Prefill::with_path(gpu, KvDtype::F16, prefill_path(path))?;
    let scale = problem.setup.scale();
    let mut encoder = gpu.encoder("f16 seams");
    for (q, dtype, o) in [(&q32, DType::F32, &o32), (&q16, DType::F16, &o16)] {
        prefill.encode(
            &mut encoder,
            &PrefillArgs {
                table: &data.table,
                kv: &data.kv(None),
                query: &Query {
                    q: Binding::whole(q),
                    dtype,
                    ..data.query(scale)
                },
                qo_indptr: &problem.qo_indptr,
                out: Output {
                    o: Binding::whole(o),
                    dtype,
                },
            },
        )?;
    }
    gpu.submit_and_wait(encoder)?;
    let full32: Vec<f32> = gpu.read_back("o32", &o32, 0, n)?;
    expect_close("o", &full32, &problem.reference(), &problem.setup.v)?;
    let got16: Vec<u16> = gpu
        .read_back::<f16>("o16", &o16, 0, n)?
        .iter()
        .map(|h| h.to_bits())
        .collect();
    let want16: Vec<u16> = full32.iter().map(|&v| f16::from_f32(v).to_bits()).collect();
    expect_equal("f16 output vs the f32 output rounded", &got16, &want16)
}

fn prefill_cases() -> Vec<Case> {
    use KvDtype::{F16, F32};
    type Problem = (&'static str, Shape<'static>, &'static [u32]);
    let problems: [Problem; 10] = [
        (
            "f32, GQA 1, d 64, n = whole sequence, partial last page",
            shape(&[37], 16, (2, 2), 64, F32),
            &[37],
        ),
        (
            "f16, GQA 2, d 128, three sequences of different lengths",
            shape(&[45, 130, 7], 16, (2, 4), 128, F16),
            &[5, 130, 1],
        ),
        (
            "f16, GQA 4, d 64, odd lengths",
            shape(&[33, 99], 16, (2, 8), 64, F16),
            &[33, 17],
        ),
        (
            "f32, GQA 4, d 128, pages of 32",
            shape(&[77, 3], 32, (1, 4), 128, F32),
            &[40, 3],
        ),
        (
            "f16, GQA 2, d 256",
            shape(&[66, 19], 8, (2, 4), 256, F16),
            &[66, 10],
        ),
        (
            "f16, GQA 3 (9 query heads over 3), d 64",
            shape(&[50], 16, (3, 9), 64, F16),
            &[50],
        ),
        (
            "f32, page size 1",
            shape(&[9, 4], 1, (2, 4), 64, F32),
            &[9, 2],
        ),
        (
            "f16, a sequence with no new tokens",
            shape(&[20, 30, 0], 16, (2, 4), 64, F16),
            &[0, 30, 0],
        ),
        (
            "f16, GQA 1, d 128, one long prompt (300 tokens)",
            shape(&[300], 16, (4, 4), 128, F16),
            &[300],
        ),
        (
            "f32, GQA 8, d 64, new tokens after a long prefix",
            shape(&[260], 16, (1, 8), 64, F32),
            &[31],
        ),
    ];
    let mut all = Vec::new();
    for path in PREFILL_PATHS {
        for (i, &(name, shape, news)) in problems.iter().enumerate() {
            all.push(Case::new("attention/prefill", path, name, move |gpu| {
                let problem = PrefillProblem::new(shape, news, Values::Random, 80 + i as u64);
                prefill_check(gpu, &problem, path)
            }));
        }
        all.push(Case::new(
            "attention/prefill",
            path,
            "large logits stay finite (q × 300)",
            move |gpu| {
                let mut problem = PrefillProblem::new(
                    shape(&[200, 33], 16, (2, 4), 128, KvDtype::F32),
                    &[200, 33],
                    Values::Random,
                    90,
                );
                problem.q.iter_mut().for_each(|x| *x *= 300.0);
                prefill_check(gpu, &problem, path)
            },
        ));
        all.push(Case::new(
            "attention/prefill",
            path,
            "n = 1 equals the decode kernel",
            move |gpu| prefill_one_token_check(gpu, path),
        ));
        all.push(Case::new(
            "attention/prefill",
            path,
            "f16 queries and output: the f32 results bit for bit, rounded",
            move |gpu| prefill_f16_seams_check(gpu, path),
        ));
    }
    all
}
