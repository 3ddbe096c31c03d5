//! Benchmarks of decode attention at the shapes: contexts of 4K, 32K and 128K tokens,
//! batch 1 and 8, 32 query heads over 8 KV heads, head_dim 128, a cache in pages of 16 in f16,
//! q8_0 or q4_0 (ggml's blocks: 2, 1.0625 and 0.5625 bytes per value, so 512, 272 and 144
//! bytes per token per KV head and tensor), or KIVI's int4 / int2 (K: 0.5 / 0.25 bytes per
//! value plus an f16 scale and zero per channel and page, 0.25 at pages of 16; V: 0.625 /
//! 0.375 with its scales; so 176 / 112 bytes per token per KV head for K and V together; the
//! benchmarks' sequences fill whole pages, so the f16 residual is empty). Per token and layer
//! (8 KV heads, K + V): f16 4096 B, q8_0 2176, q4_0 1152, int4 1408, int2 896. The default run
//! has int4's dense row; `--full` adds int2's and both formats' Quest rows. Every decode runs
//! the device's best path (`DecodePath::best`); where that is the subgroup kernel, `--full`
//! adds the tiled kernel's f16 dense row, labelled `(tiled)`.
//! `attention-dense` reads every K and V byte once, so
//! its bytes moved are the K + V bytes of its format (what it actually reads, scales included)
//! and its × copy the fraction of copy bandwidth; the quantized rows' time over the f16 row's
//! is the speed-up the smaller cache buys. The sparse steps (`attention-quest`, `-tidal`,
//! `-tokenselect`, budget 2K tokens with 4 sinks and a 256-token window) record score → select →
//! attend; their bytes moved are what they must read — Quest's metadata plus the kept K and V,
//! or all of K plus the kept V for the token selectors — and their speed-up over dense is the
//! ratio of the two rows' times. `attention-reuse` is the decode alone over a 2K-token selection
//! made beforehand: a TidalDecode layer after its selection layer. Shapes whose K does not fit
//! one storage binding are left out.
//!
//! `attention-prefill` is the causal prefill of a whole prompt (512 tokens by default, 2K with
//! `--full`) over the same heads and cache: its bytes moved are the least it must move — q, K,
//! V and o once each — so its × copy is a lower bound on its traffic's share of copy
//! bandwidth, and its flops (4 · d per visible (query, key) pair per head) are the figure of a
//! kernel that reads each K/V tile once per query tile.

use half::f16;
use squeeze::attention::decode::{Decode, DecodeArgs, DecodePath, HeadPolicy, Tokens};
use squeeze::attention::prefill::{Prefill, PrefillArgs, PrefillPath};
use squeeze::attention::quest_meta::{QuestMeta, all_pages, meta_bytes};
use squeeze::attention::reference;
use squeeze::attention::sparse::Sparse;
use squeeze::attention::{
    Budget, CacheLayout, DevicePageTable, KvCache, KvDtype, PageTable, Pool, Query, Selector,
};
use squeeze::{Binding, DType, Gpu, Result};

use crate::{Bench, Scope, Sizes, Workload};

const FAMILY: &str = "attention";

const Q_HEADS: u32 = 32;
const KV_HEADS: u32 = 8;
const HEAD_DIM: u32 = 128;
const PAGE_SIZE: u32 = 16;
const CONTEXTS: [u32; 3] = [4 << 10, 32 << 10, 128 << 10];
const BATCHES: [u32; 2] = [1, 8];
const BUDGET: Budget = Budget {
    tokens: 2048,
    sink: 4,
    window: 256,
};
/// The cache formats of the dense rows (and, after f16, of the extra Quest rows).
const CACHE_FORMATS: [KvDtype; 5] = [
    KvDtype::F16,
    KvDtype::Q8_0,
    KvDtype::Q4_0,
    KvDtype::Int4,
    KvDtype::Int2,
];
/// The default run's shape: 32K tokens of context, batch 1.
const REPRESENTATIVE: (u32, u32) = (32 << 10, 1);
/// The smoke test's contexts, batches and budget: every path on a few pages.
const SMOKE_CONTEXTS: [u32; 1] = [512];
const SMOKE_BATCHES: [u32; 2] = [1, 2];
const SMOKE_BUDGET: Budget = Budget {
    tokens: 128,
    sink: 4,
    window: 32,
};

/// A random cache of `batch` sequences of `context` tokens in `dtype` (f16 values, quantized
/// on the host for the block formats), its table, queries and (for Quest) metadata, on the
/// device.
struct Problem {
    table: DevicePageTable,
    k: squeeze::wgpu::Buffer,
    v: squeeze::wgpu::Buffer,
    q: squeeze::wgpu::Buffer,
    meta: Option<squeeze::wgpu::Buffer>,
}

fn random_halves(len: usize, seed: u32) -> Vec<f16> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            f16::from_f32((state >> 8) as f32 / (1u32 << 24) as f32 * 2.0 - 1.0)
        })
        .collect()
}

impl Problem {
    fn new(gpu: &Gpu, (context, batch): (u32, u32), quest: bool, dtype: KvDtype) -> Result<Self> {
        let (table, pages) = PageTable::contiguous(&vec![context; batch as usize], PAGE_SIZE);
        let layout = CacheLayout {
            pages,
            page_size: PAGE_SIZE,
            kv_heads: KV_HEADS,
            head_dim: HEAD_DIM,
            dtype,
        };
        let table = DevicePageTable::new(gpu, layout, &table)?;
        let elements = layout.elements() as usize;
        let (k, v) = match dtype.kivi_bits() {
            Some(_) => {
                let floats = |seed| -> Vec<f32> {
                    random_halves(elements, seed)
                        .iter()
                        .map(|x| x.to_f32())
                        .collect()
                };
                let host = table.table().ok_or_else(|| {
                    squeeze::Error::invalid("table", "kind", "an uploaded table", "an engine's")
                })?;
                let (kb, vb) = reference::kivi::fill(&layout, host, &floats(1), &floats(2))
                    .ok_or_else(|| squeeze::Error::invalid("kv", "format", "int4 | int2", dtype))?;
                (gpu.upload("k_pages", &kb)?, gpu.upload("v_pages", &vb)?)
            }
            None => {
                let pool = |name, seed| {
                    let values = random_halves(elements, seed);
                    let floats: Vec<f32> = values.iter().map(|x| x.to_f32()).collect();
                    match reference::quantize_row(dtype, &floats) {
                        Some(mut bytes) => {
                            bytes.resize(layout.bytes() as usize, 0);
                            gpu.upload(name, &bytes)
                        }
                        None => gpu.upload(name, &values),
                    }
                };
                (pool("k_pages", 1)?, pool("v_pages", 2)?)
            }
        };
        let q_len = (batch * Q_HEADS * HEAD_DIM) as usize;
        let q: Vec<f32> = random_halves(q_len, 3).iter().map(|x| x.to_f32()).collect();
        let q = gpu.upload("q", &q)?;
        let meta = if quest {
            let meta = gpu.storage_buffer("meta", meta_bytes(&layout))?;
            let mut encoder = gpu.encoder("quest metadata");
            QuestMeta::new(gpu, dtype)?.encode(
                &mut encoder,
                &table,
                Binding::whole(&k),
                &all_pages(&table)?,
                Binding::whole(&meta),
            )?;
            gpu.submit_and_wait(encoder)?;
            Some(meta)
        } else {
            None
        };
        Ok(Self {
            table,
            k,
            v,
            q,
            meta,
        })
    }

    fn kv(&self) -> KvCache<'_> {
        KvCache {
            k: Binding::whole(&self.k),
            v: Binding::whole(&self.v),
            meta: self.meta.as_ref().map(Binding::whole),
        }
    }

    fn query(&self) -> Query<'_> {
        Query {
            q: Binding::whole(&self.q),
            heads: Q_HEADS,
            scale: 1.0 / (HEAD_DIM as f32).sqrt(),
            dtype: DType::F32,
        }
    }
}

/// Bytes of K (or V) in `dtype` for `tokens` tokens (whole pages) of every KV head, scales
/// included.
fn kv_bytes(tokens: u64, dtype: KvDtype, pool: Pool) -> u64 {
    let layout = CacheLayout {
        pages: tokens.div_ceil(u64::from(PAGE_SIZE)) as u32,
        page_size: PAGE_SIZE,
        kv_heads: KV_HEADS,
        head_dim: HEAD_DIM,
        dtype,
    };
    layout.pool_data_bytes(pool)
}

/// Bytes of K and V together.
fn kv_pair_bytes(tokens: u64, dtype: KvDtype) -> u64 {
    kv_bytes(tokens, dtype, Pool::K) + kv_bytes(tokens, dtype, Pool::V)
}

fn dense(
    gpu: &Gpu,
    (context, batch): (u32, u32),
    dtype: KvDtype,
    path: DecodePath,
) -> Result<Workload> {
    let problem = Problem::new(gpu, (context, batch), false, dtype)?;
    let decode = Decode::with_path(gpu, dtype, path)?;
    let policy = [HeadPolicy::Full; KV_HEADS as usize];
    let scratch_bytes = decode.scratch_bytes(&problem.table, Q_HEADS, &Tokens::Policy(&policy));
    let scratch = gpu.storage_buffer("scratch", scratch_bytes)?;
    let out = gpu.storage_buffer("o", u64::from(batch * Q_HEADS * HEAD_DIM) * 4)?;
    Ok(Workload {
        bytes_moved: kv_pair_bytes(u64::from(context) * u64::from(batch), dtype),
        flops: 0,
        record: Box::new(move |encoder| {
            decode.encode(
                encoder,
                &DecodeArgs {
                    table: &problem.table,
                    kv: &problem.kv(),
                    query: &problem.query(),
                    tokens: &Tokens::Policy(&policy),
                    scratch: Binding::whole(&scratch),
                    out: Binding::whole(&out).into(),
                },
            )
        }),
    })
}

fn sparse(
    gpu: &Gpu,
    (context, batch): (u32, u32),
    (selector, budget): (Selector, Budget),
    dtype: KvDtype,
) -> Result<Workload> {
    let problem = Problem::new(gpu, (context, batch), selector == Selector::Quest, dtype)?;
    let sparse = Sparse::new(gpu, dtype)?;
    let workspace = sparse.workspace(&problem.table, Q_HEADS, selector, budget)?;
    let out = gpu.storage_buffer("o", u64::from(batch * Q_HEADS * HEAD_DIM) * 4)?;
    let kept = u64::from(budget.tokens) * u64::from(batch);
    let all = u64::from(context) * u64::from(batch);
    let bytes_moved = match selector {
        Selector::Quest => meta_bytes(problem.table.layout()) + kv_pair_bytes(kept, dtype),
        Selector::Tidal | Selector::TokenSelect => {
            kv_bytes(all, dtype, Pool::K) + kv_bytes(kept, dtype, Pool::V)
        }
    };
    Ok(Workload {
        bytes_moved,
        flops: 0,
        record: Box::new(move |encoder| {
            sparse.encode(
                encoder,
                &problem.table,
                &problem.kv(),
                &problem.query(),
                &workspace,
                Binding::whole(&out),
            )
        }),
    })
}

/// Decode over a selection of `budget` tokens made once beforehand: what a TidalDecode layer
/// after its selection layer costs (the kept K and V are its bytes moved).
fn reused(gpu: &Gpu, context: u32, batch: u32, budget: Budget) -> Result<Workload> {
    let problem = Problem::new(gpu, (context, batch), false, KvDtype::F16)?;
    let sparse = Sparse::new(gpu, KvDtype::F16)?;
    let workspace = sparse.workspace(&problem.table, Q_HEADS, Selector::Tidal, budget)?;
    let out = gpu.storage_buffer("o", u64::from(batch * Q_HEADS * HEAD_DIM) * 4)?;
    let mut encoder = gpu.encoder("selection layer");
    sparse.encode(
        &mut encoder,
        &problem.table,
        &problem.kv(),
        &problem.query(),
        &workspace,
        Binding::whole(&out),
    )?;
    gpu.submit_and_wait(encoder)?;
    let tokens = workspace.tokens();
    let scratch_bytes = sparse
        .decode()
        .scratch_bytes(&problem.table, Q_HEADS, &tokens);
    let scratch = gpu.storage_buffer("scratch", scratch_bytes)?;
    Ok(Workload {
        bytes_moved: kv_pair_bytes(u64::from(budget.tokens) * u64::from(batch), KvDtype::F16),
        flops: 0,
        record: Box::new(move |encoder| {
            sparse.decode().encode(
                encoder,
                &DecodeArgs {
                    table: &problem.table,
                    kv: &problem.kv(),
                    query: &problem.query(),
                    tokens: &workspace.tokens(),
                    scratch: Binding::whole(&scratch),
                    out: Binding::whole(&out).into(),
                },
            )
        }),
    })
}

/// Prompts `squeeze bench` prefills: (tokens, scope).
const PROMPTS: [(u32, Scope); 2] = [(512, Scope::Default), (2048, Scope::Full)];
const SMOKE_PROMPTS: [(u32, Scope); 1] = [(64, Scope::Default)];

/// The causal prefill of a whole prompt of `tokens` tokens (one sequence, its K and V
/// appended), f32 queries and output, on `path`.
fn prefill(gpu: &Gpu, tokens: u32, path: PrefillPath) -> Result<Workload> {
    let problem = Problem::new(gpu, (tokens, 1), false, KvDtype::F16)?;
    let rows = u64::from(tokens) * u64::from(Q_HEADS * HEAD_DIM);
    let q: Vec<f32> = random_halves(rows as usize, 4)
        .iter()
        .map(|x| x.to_f32())
        .collect();
    let q = gpu.upload("q", &q)?;
    let out = gpu.storage_buffer("o", rows * 4)?;
    let kernel = Prefill::with_path(gpu, KvDtype::F16, path)?;
    let qo_indptr = [0, tokens];
    let pairs = u64::from(tokens) * u64::from(tokens + 1) / 2;
    Ok(Workload {
        bytes_moved: 2 * rows * 4 + kv_pair_bytes(u64::from(tokens), KvDtype::F16),
        flops: 4 * pairs * u64::from(HEAD_DIM * Q_HEADS),
        record: Box::new(move |encoder| {
            kernel.encode(
                encoder,
                &PrefillArgs {
                    table: &problem.table,
                    kv: &problem.kv(),
                    query: &Query {
                        q: Binding::whole(&q),
                        ..problem.query()
                    },
                    qo_indptr: &qo_indptr,
                    out: Binding::whole(&out).into(),
                },
            )
        }),
    })
}

pub fn benches(gpu: &Gpu, sizes: Sizes) -> Vec<Bench> {
    let max_binding = gpu.limits().max_storage_buffer_binding_size;
    let (contexts, batches, budget): (&[u32], &[u32], Budget) = match sizes {
        Sizes::Real => (&CONTEXTS, &BATCHES, BUDGET),
        Sizes::Smoke => (&SMOKE_CONTEXTS, &SMOKE_BATCHES, SMOKE_BUDGET),
    };
    let kept = tokens(budget.tokens);
    // Dense rows on the best decode path; in the full run the tiled kernel's f16 row beside
    // them where that is not it.
    let best_decode = DecodePath::best(gpu);
    let mut all = Vec::new();
    for &context in contexts {
        for &batch in batches {
            let tokens_all = u64::from(context) * u64::from(batch);
            if kv_bytes(tokens_all, KvDtype::F16, Pool::K) > max_binding {
                continue;
            }
            let scope = if (context, batch) == REPRESENTATIVE {
                Scope::Default
            } else {
                Scope::Full
            };
            let shape = format!("ctx {} × b{batch}, 32q/8kv d128 f16", tokens(context));
            for dtype in CACHE_FORMATS {
                all.push(Bench {
                    family: FAMILY,
                    kernel: "attention-dense",
                    shape: format!("ctx {} × b{batch}, 32q/8kv d128 {dtype}", tokens(context)),
                    // int2's row only in the full run (the default run keeps one new row).
                    scope: if dtype == KvDtype::Int2 {
                        Scope::Full
                    } else {
                        scope
                    },
                    prepare: Box::new(move |gpu| dense(gpu, (context, batch), dtype, best_decode)),
                });
            }
            if best_decode == DecodePath::Subgroup {
                all.push(Bench {
                    family: FAMILY,
                    kernel: "attention-dense",
                    shape: format!("{shape} (tiled)"),
                    scope: Scope::Full,
                    prepare: Box::new(move |gpu| {
                        dense(gpu, (context, batch), KvDtype::F16, DecodePath::Tiled)
                    }),
                });
            }
            for (kernel, selector) in [
                ("attention-quest", Selector::Quest),
                ("attention-tidal", Selector::Tidal),
                ("attention-tokenselect", Selector::TokenSelect),
            ] {
                all.push(Bench {
                    family: FAMILY,
                    kernel,
                    shape: format!("{shape}, budget {kept}"),
                    scope,
                    prepare: Box::new(move |gpu| {
                        sparse(gpu, (context, batch), (selector, budget), KvDtype::F16)
                    }),
                });
            }
            // Quest over the quantized formats: what a quantized cache saves a sparse step.
            for dtype in &CACHE_FORMATS[1..] {
                let dtype = *dtype;
                all.push(Bench {
                    family: FAMILY,
                    kernel: "attention-quest",
                    shape: format!(
                        "ctx {} × b{batch}, 32q/8kv d128 {dtype}, budget {kept}",
                        tokens(context)
                    ),
                    scope: Scope::Full,
                    prepare: Box::new(move |gpu| {
                        sparse(gpu, (context, batch), (Selector::Quest, budget), dtype)
                    }),
                });
            }
            all.push(Bench {
                family: FAMILY,
                kernel: "attention-reuse",
                shape: format!("{shape}, {kept} kept tokens"),
                scope,
                prepare: Box::new(move |gpu| reused(gpu, context, batch, budget)),
            });
        }
    }
    let prompts: &[(u32, Scope)] = match sizes {
        Sizes::Real => &PROMPTS,
        Sizes::Smoke => &SMOKE_PROMPTS,
    };
    // The best prefill path, and in the full run the tiled one beside it where that is not it.
    let best_prefill = PrefillPath::best(gpu);
    let prefill_paths: &[PrefillPath] = match best_prefill {
        PrefillPath::Subgroup => &[PrefillPath::Subgroup, PrefillPath::Tiled],
        PrefillPath::Tiled => &[PrefillPath::Tiled],
    };
    for &(prompt, scope) in prompts {
        for &path in prefill_paths {
            let label = match path {
                PrefillPath::Subgroup => "subgroup",
                PrefillPath::Tiled => "tiled",
            };
            all.push(Bench {
                family: FAMILY,
                kernel: "attention-prefill",
                shape: format!("prompt {}, 32q/8kv d128 f16 ({label})", tokens(prompt)),
                scope: if path == best_prefill {
                    scope
                } else {
                    Scope::Full
                },
                prepare: Box::new(move |gpu| prefill(gpu, prompt, path)),
            });
        }
    }
    all
}

/// A token count as `32K`, or as itself below 1K.
fn tokens(n: u32) -> String {
    if n >= 1 << 10 {
        format!("{}K", n >> 10)
    } else {
        n.to_string()
    }
}
