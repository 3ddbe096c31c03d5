//! `shaders/attention/`: decode attention over a paged KV cache — split-KV decode with sinks,
//! windows and selection lists, the merge of its splits, appends, Quest page metadata and
//! scores, and the token-level selection passes. `KV_FORMAT` is the cache format (0 = f32, 1 = f16
//! two per u32 word, 2 = q8_0, 3 = q4_0: ggml's blocks; 4 = int4, 5 = int2: KIVI's, with an f16
//! residual; all read through kv.wgsl and values.wgsl); `SELECTED` switches decode from
//! per-head sink + window to a selection list.

use crate::core::HALVES;
use crate::{Module, Overrides, Part, Requirements, part};

/// `TableShape`, the header of every attention kernel's params struct, and the infinities.
pub const PARAMS: Part = part!("attention/params.wgsl");
/// The page table and the pool row of a sequence's token.
pub const PAGES: Part = part!("attention/pages.wgsl");
/// Keys in every cache format, eight head dimensions at a time, dequantized in registers.
pub const KV: Part = part!("attention/kv.wgsl");
/// Values, after [`KV`].
pub const VALUES: Part = part!("attention/values.wgsl");
/// Where KIVI's int4 / int2 caches keep scales, zeros, codes and the residual (read by [`KV`]
/// and [`VALUES`], written by [`APPEND_KIVI`]).
pub const KIVI: Part = part!("attention/kivi.wgsl");

/// Each cache format: the override sets of a module whose only override is `KV_FORMAT`.
pub const KV_FORMATS: [Overrides; 6] = [
    &[("KV_FORMAT", 0.0)],
    &[("KV_FORMAT", 1.0)],
    &[("KV_FORMAT", 2.0)],
    &[("KV_FORMAT", 3.0)],
    &[("KV_FORMAT", 4.0)],
    &[("KV_FORMAT", 5.0)],
];

/// What both prefill kernels share: params, queries and outputs, the causal limit, stores.
const PREFILL_ROWS: Part = part!("attention/prefill_rows.wgsl");

/// What both subgroup kernels share: a lane per query row, keys in blocks of eight by broadcast,
/// the masked online softmax of a block (after `HEAD_DIM` and [`KV`]).
const KEY_BLOCKS: Part = part!("attention/key_blocks.wgsl");

/// What both decode kernels share: params, the token sources (sink + window or a selection),
/// queries and the split outputs.
const DECODE_ROWS: Part = part!("attention/decode_rows.wgsl");

/// The query reader of the kernels that read q (`Q_F16`); first in their modules.
pub const QUERY: Part = part!("attention/query.wgsl");

/// Every decode override set after each list of kernel overrides (`GROUP` for the tiled kernel,
/// `HEAD_DIM` for the subgroup one): each cache format with each token source and f32/f16 queries.
macro_rules! decode_sets {
    ($([$($kernel:expr),*]),*) => {
        [$(
            &[$($kernel,)* ("Q_F16", 0.0), ("KV_FORMAT", 0.0), ("SELECTED", 0.0)],
            &[$($kernel,)* ("Q_F16", 0.0), ("KV_FORMAT", 1.0), ("SELECTED", 0.0)],
            &[$($kernel,)* ("Q_F16", 0.0), ("KV_FORMAT", 2.0), ("SELECTED", 0.0)],
            &[$($kernel,)* ("Q_F16", 0.0), ("KV_FORMAT", 3.0), ("SELECTED", 0.0)],
            &[$($kernel,)* ("Q_F16", 0.0), ("KV_FORMAT", 4.0), ("SELECTED", 0.0)],
            &[$($kernel,)* ("Q_F16", 0.0), ("KV_FORMAT", 5.0), ("SELECTED", 0.0)],
            &[$($kernel,)* ("Q_F16", 0.0), ("KV_FORMAT", 0.0), ("SELECTED", 1.0)],
            &[$($kernel,)* ("Q_F16", 0.0), ("KV_FORMAT", 1.0), ("SELECTED", 1.0)],
            &[$($kernel,)* ("Q_F16", 0.0), ("KV_FORMAT", 2.0), ("SELECTED", 1.0)],
            &[$($kernel,)* ("Q_F16", 0.0), ("KV_FORMAT", 3.0), ("SELECTED", 1.0)],
            &[$($kernel,)* ("Q_F16", 0.0), ("KV_FORMAT", 4.0), ("SELECTED", 1.0)],
            &[$($kernel,)* ("Q_F16", 0.0), ("KV_FORMAT", 5.0), ("SELECTED", 1.0)],
            &[$($kernel,)* ("Q_F16", 1.0), ("KV_FORMAT", 0.0), ("SELECTED", 0.0)],
            &[$($kernel,)* ("Q_F16", 1.0), ("KV_FORMAT", 1.0), ("SELECTED", 0.0)],
            &[$($kernel,)* ("Q_F16", 1.0), ("KV_FORMAT", 2.0), ("SELECTED", 0.0)],
            &[$($kernel,)* ("Q_F16", 1.0), ("KV_FORMAT", 3.0), ("SELECTED", 0.0)],
            &[$($kernel,)* ("Q_F16", 1.0), ("KV_FORMAT", 4.0), ("SELECTED", 0.0)],
            &[$($kernel,)* ("Q_F16", 1.0), ("KV_FORMAT", 5.0), ("SELECTED", 0.0)],
            &[$($kernel,)* ("Q_F16", 1.0), ("KV_FORMAT", 0.0), ("SELECTED", 1.0)],
            &[$($kernel,)* ("Q_F16", 1.0), ("KV_FORMAT", 1.0), ("SELECTED", 1.0)],
            &[$($kernel,)* ("Q_F16", 1.0), ("KV_FORMAT", 2.0), ("SELECTED", 1.0)],
            &[$($kernel,)* ("Q_F16", 1.0), ("KV_FORMAT", 3.0), ("SELECTED", 1.0)],
            &[$($kernel,)* ("Q_F16", 1.0), ("KV_FORMAT", 4.0), ("SELECTED", 1.0)],
            &[$($kernel,)* ("Q_F16", 1.0), ("KV_FORMAT", 5.0), ("SELECTED", 1.0)],
        )*]
    };
}

/// Each `GROUP` with each cache format.
macro_rules! group_sets {
    ($($group:literal),*) => {
        [$(
            &[("Q_F16", 0.0), ("KV_FORMAT", 0.0), ("GROUP", $group)],
            &[("Q_F16", 0.0), ("KV_FORMAT", 1.0), ("GROUP", $group)],
            &[("Q_F16", 0.0), ("KV_FORMAT", 2.0), ("GROUP", $group)],
            &[("Q_F16", 0.0), ("KV_FORMAT", 3.0), ("GROUP", $group)],
            &[("Q_F16", 0.0), ("KV_FORMAT", 4.0), ("GROUP", $group)],
            &[("Q_F16", 0.0), ("KV_FORMAT", 5.0), ("GROUP", $group)],
            &[("Q_F16", 1.0), ("KV_FORMAT", 0.0), ("GROUP", $group)],
            &[("Q_F16", 1.0), ("KV_FORMAT", 1.0), ("GROUP", $group)],
            &[("Q_F16", 1.0), ("KV_FORMAT", 2.0), ("GROUP", $group)],
            &[("Q_F16", 1.0), ("KV_FORMAT", 3.0), ("GROUP", $group)],
            &[("Q_F16", 1.0), ("KV_FORMAT", 4.0), ("GROUP", $group)],
            &[("Q_F16", 1.0), ("KV_FORMAT", 5.0), ("GROUP", $group)],
        )*]
    };
}

/// Every prefill override set after each list of kernel overrides: each cache format
/// (`KV_FORMAT`) with f32/f16 queries and f32/f16 outputs.
macro_rules! prefill_sets {
    ($([$($kernel:expr),*]),*) => {
        [$(
            &[$($kernel,)* ("Q_F16", 0.0), ("KV_FORMAT", 0.0), ("O_F16", 0.0)],
            &[$($kernel,)* ("Q_F16", 0.0), ("KV_FORMAT", 0.0), ("O_F16", 1.0)],
            &[$($kernel,)* ("Q_F16", 1.0), ("KV_FORMAT", 0.0), ("O_F16", 0.0)],
            &[$($kernel,)* ("Q_F16", 1.0), ("KV_FORMAT", 0.0), ("O_F16", 1.0)],
            &[$($kernel,)* ("Q_F16", 0.0), ("KV_FORMAT", 1.0), ("O_F16", 0.0)],
            &[$($kernel,)* ("Q_F16", 0.0), ("KV_FORMAT", 1.0), ("O_F16", 1.0)],
            &[$($kernel,)* ("Q_F16", 1.0), ("KV_FORMAT", 1.0), ("O_F16", 0.0)],
            &[$($kernel,)* ("Q_F16", 1.0), ("KV_FORMAT", 1.0), ("O_F16", 1.0)],
            &[$($kernel,)* ("Q_F16", 0.0), ("KV_FORMAT", 2.0), ("O_F16", 0.0)],
            &[$($kernel,)* ("Q_F16", 0.0), ("KV_FORMAT", 2.0), ("O_F16", 1.0)],
            &[$($kernel,)* ("Q_F16", 1.0), ("KV_FORMAT", 2.0), ("O_F16", 0.0)],
            &[$($kernel,)* ("Q_F16", 1.0), ("KV_FORMAT", 2.0), ("O_F16", 1.0)],
            &[$($kernel,)* ("Q_F16", 0.0), ("KV_FORMAT", 3.0), ("O_F16", 0.0)],
            &[$($kernel,)* ("Q_F16", 0.0), ("KV_FORMAT", 3.0), ("O_F16", 1.0)],
            &[$($kernel,)* ("Q_F16", 1.0), ("KV_FORMAT", 3.0), ("O_F16", 0.0)],
            &[$($kernel,)* ("Q_F16", 1.0), ("KV_FORMAT", 3.0), ("O_F16", 1.0)],
            &[$($kernel,)* ("Q_F16", 0.0), ("KV_FORMAT", 4.0), ("O_F16", 0.0)],
            &[$($kernel,)* ("Q_F16", 0.0), ("KV_FORMAT", 4.0), ("O_F16", 1.0)],
            &[$($kernel,)* ("Q_F16", 1.0), ("KV_FORMAT", 4.0), ("O_F16", 0.0)],
            &[$($kernel,)* ("Q_F16", 1.0), ("KV_FORMAT", 4.0), ("O_F16", 1.0)],
            &[$($kernel,)* ("Q_F16", 0.0), ("KV_FORMAT", 5.0), ("O_F16", 0.0)],
            &[$($kernel,)* ("Q_F16", 0.0), ("KV_FORMAT", 5.0), ("O_F16", 1.0)],
            &[$($kernel,)* ("Q_F16", 1.0), ("KV_FORMAT", 5.0), ("O_F16", 0.0)],
            &[$($kernel,)* ("Q_F16", 1.0), ("KV_FORMAT", 5.0), ("O_F16", 1.0)],
        )*]
    };
}

/// Split-KV decode attention; entry `decode`.
pub static DECODE: Module = Module {
    name: "attention/decode",
    parts: &[
        QUERY,
        PARAMS,
        HALVES,
        PAGES,
        KV,
        KIVI,
        VALUES,
        DECODE_ROWS,
        part!("attention/decode.wgsl"),
    ],
    requires: Requirements::PORTABLE,
    entry_points: &["decode"],
    override_sets: &decode_sets!(
        [("GROUP", 1.0)],
        [("GROUP", 2.0)],
        [("GROUP", 4.0)],
        [("GROUP", 8.0)],
        [("GROUP", 16.0)],
        [("GROUP", 32.0)]
    ),
};

/// Decode attention for adapters whose subgroups are SIMD vectors (a lane per query head of the
/// group, keys by broadcast); entry `decode`, same bindings as [`DECODE`].
pub static DECODE_SUBGROUP: Module = Module {
    name: "attention/decode_subgroup",
    parts: &[
        part!("attention/head_dim.wgsl"),
        QUERY,
        PARAMS,
        HALVES,
        PAGES,
        KV,
        KIVI,
        VALUES,
        KEY_BLOCKS,
        DECODE_ROWS,
        part!("attention/decode_subgroup.wgsl"),
    ],
    requires: Requirements::SUBGROUPS,
    entry_points: &["decode"],
    override_sets: &decode_sets!(
        [("HEAD_DIM", 64.0)],
        [("HEAD_DIM", 128.0)],
        [("HEAD_DIM", 256.0)]
    ),
};

/// Causal prefill attention (query tiles × streamed K/V tiles, online softmax); entry `prefill`.
pub static PREFILL: Module = Module {
    name: "attention/prefill",
    parts: &[
        QUERY,
        PARAMS,
        HALVES,
        PAGES,
        KV,
        KIVI,
        VALUES,
        PREFILL_ROWS,
        part!("attention/prefill.wgsl"),
    ],
    requires: Requirements::PORTABLE,
    entry_points: &["prefill"],
    override_sets: &prefill_sets!([]),
};

/// Causal prefill attention for adapters whose subgroups are SIMD vectors (a lane per query
/// row, keys by broadcast); entry `prefill`, same bindings as [`PREFILL`].
pub static PREFILL_SUBGROUP: Module = Module {
    name: "attention/prefill_subgroup",
    parts: &[
        part!("attention/head_dim.wgsl"),
        QUERY,
        PARAMS,
        HALVES,
        PAGES,
        KV,
        KIVI,
        VALUES,
        KEY_BLOCKS,
        PREFILL_ROWS,
        part!("attention/prefill_subgroup.wgsl"),
    ],
    requires: Requirements::SUBGROUPS,
    entry_points: &["prefill"],
    override_sets: &prefill_sets!(
        [("HEAD_DIM", 64.0)],
        [("HEAD_DIM", 128.0)],
        [("HEAD_DIM", 256.0)]
    ),
};

/// The merge of decode splits; entry `merge`.
pub static MERGE: Module = Module {
    name: "attention/merge",
    parts: &[PARAMS, HALVES, part!("attention/merge.wgsl")],
    requires: Requirements::PORTABLE,
    entry_points: &["merge"],
    override_sets: &[&[("O_F16", 0.0)], &[("O_F16", 1.0)]],
};

/// New tokens' K and V (f32 or f16, `IN_F16`) written into the pool in its format, quantized
/// there for q8_0 / q4_0; entries `append_kv` and `append_meta` (Quest metadata of the block
/// formats, from the unquantized keys).
pub static APPEND: Module = Module {
    name: "attention/append",
    parts: &[PARAMS, HALVES, part!("attention/append.wgsl")],
    requires: Requirements::PORTABLE,
    entry_points: &["append_kv", "append_meta"],
    override_sets: &[
        &[("KV_FORMAT", 0.0), ("IN_F16", 0.0)],
        &[("KV_FORMAT", 1.0), ("IN_F16", 0.0)],
        &[("KV_FORMAT", 2.0), ("IN_F16", 0.0)],
        &[("KV_FORMAT", 3.0), ("IN_F16", 0.0)],
        &[("KV_FORMAT", 0.0), ("IN_F16", 1.0)],
        &[("KV_FORMAT", 1.0), ("IN_F16", 1.0)],
        &[("KV_FORMAT", 2.0), ("IN_F16", 1.0)],
        &[("KV_FORMAT", 3.0), ("IN_F16", 1.0)],
    ],
};

/// New tokens' K and V (f32 or f16, `IN_F16`) into a KIVI int4 / int2 cache (`KV_FORMAT` 4 /
/// 5): entries `kivi_pages` (the pages an append fills, quantized) and `kivi_residual` (the
/// new tokens of a partial page, into the f16 residual), recorded in that order. Its overrides
/// are declared in its first part.
pub static APPEND_KIVI: Module = Module {
    name: "attention/append_kivi",
    parts: &[
        part!("attention/append_kivi.wgsl"),
        PARAMS,
        HALVES,
        PAGES,
        KIVI,
    ],
    requires: Requirements::PORTABLE,
    entry_points: &["kivi_pages", "kivi_residual"],
    override_sets: &[
        &[("KV_FORMAT", 4.0), ("IN_F16", 0.0)],
        &[("KV_FORMAT", 5.0), ("IN_F16", 0.0)],
        &[("KV_FORMAT", 4.0), ("IN_F16", 1.0)],
        &[("KV_FORMAT", 5.0), ("IN_F16", 1.0)],
    ],
};

/// Quest's per-page key minimum and maximum; entry `quest_meta`.
pub static QUEST_META: Module = Module {
    name: "attention/quest_meta",
    parts: &[
        PARAMS,
        HALVES,
        PAGES,
        KV,
        KIVI,
        part!("attention/quest_meta.wgsl"),
    ],
    requires: Requirements::PORTABLE,
    entry_points: &["quest_meta"],
    override_sets: &KV_FORMATS,
};

/// The score rows of the selection passes: one per (sequence, KV head), an entry per page or
/// token, walked by a grid-stride loop; and where each query head's logit lies.
pub const SCORE_ROWS: Part = part!("attention/score_rows.wgsl");
/// What a selection pass leaves top-k: each row's length, and the entries past its end (-inf)
/// or forced by sink and window (+inf). After [`SCORE_ROWS`].
pub const SCORE_OUTPUTS: Part = part!("attention/score_outputs.wgsl");

/// Quest's page scores; entry `quest_scores`.
pub static QUEST_SCORES: Module = Module {
    name: "attention/quest_scores",
    parts: &[
        QUERY,
        PARAMS,
        HALVES,
        PAGES,
        SCORE_ROWS,
        SCORE_OUTPUTS,
        part!("attention/quest_scores.wgsl"),
    ],
    requires: Requirements::PORTABLE,
    entry_points: &["quest_scores"],
    override_sets: &[&[("Q_F16", 0.0)], &[("Q_F16", 1.0)]],
};

/// Every query head's logits over its sequence; entry `token_scores`.
pub static TOKEN_SCORES: Module = Module {
    name: "attention/token_scores",
    parts: &[
        QUERY,
        PARAMS,
        HALVES,
        PAGES,
        KV,
        KIVI,
        SCORE_ROWS,
        part!("attention/token_scores.wgsl"),
    ],
    requires: Requirements::PORTABLE,
    entry_points: &["token_scores"],
    override_sets: &group_sets!(1.0, 2.0, 4.0, 8.0, 16.0, 32.0),
};

/// Per-head softmax statistics of the logits; entry `token_stats`.
pub static TOKEN_STATS: Module = Module {
    name: "attention/token_stats",
    parts: &[PARAMS, part!("attention/token_stats.wgsl")],
    requires: Requirements::PORTABLE,
    entry_points: &["token_stats"],
    override_sets: &[&[]],
};

/// The KV group's vote per token; entries `vote_sum` (TidalDecode) and `vote_softmax`
/// (TokenSelect).
pub static TOKEN_VOTE: Module = Module {
    name: "attention/token_vote",
    parts: &[
        PARAMS,
        SCORE_ROWS,
        SCORE_OUTPUTS,
        part!("attention/token_vote.wgsl"),
    ],
    requires: Requirements::PORTABLE,
    entry_points: &["vote_sum", "vote_softmax"],
    override_sets: &[&[]],
};
