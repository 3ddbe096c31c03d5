//! Decode attention over a paged KV cache, dense and sparse, as portable GPU kernels.
//!
//! - [`pages`]: the page table (FlashInfer's CSR layout), checked on the host and uploaded.
//! - [`append`]: new tokens' K and V into the pool, keeping [`quest_meta`] current.
//! - [`decode`]: split-KV decode for any GQA group, over all tokens, sinks + window per KV
//!   head, or a selection list, then the merge of the splits.
//! - [`prefill`]: causal prefill attention of a batch's new tokens (ragged per sequence, GQA,
//!   FlashAttention-style tiles with an online softmax).
//! - [`select`]: Quest page selection ([`quest_scores`]) and token-level selection
//!   ([`token_scores`], [`token_stats`], [`token_vote`]: TidalDecode and TokenSelect), each
//!   followed by squeeze-topk.
//! - [`sparse`]: a whole sparse step (score → select → attend) in one command encoder.
//! - [`mod@reference`]: the CPU definition of every kernel and policy.
//! - [`host`]: upload-run-readback conveniences for tests, benchmarks and the CLI.
//!
//! Decisions where the papers and the issue leave room:
//! - **Page table**: FlashInfer's convention. Sequence b owns `indices[indptr[b]..indptr[b+1]]`;
//!   its last page holds `last_page_len[b]` tokens (1..=page_size, 0 for no pages). Appends
//!   happen at the tail, and the table already counts the new tokens. Pages may be shared
//!   between sequences for reading. The table is checked on the host when it is uploaded
//!   ([`DevicePageTable::new`]). The kernels still treat an entry outside the pool as an empty
//!   slot.
//! - **Layouts**: queries and outputs are f32 `[batch, q_heads, head_dim]`. K and V are f32,
//!   f16, or ggml's q8_0 / q4_0 blocks of 32 along head_dim ([`KvDtype`] has the diagrams).
//!   f16 is widened branch-free, so f16 subnormals may flush to zero on GPUs that flush f32
//!   subnormals; block scales are widened exactly.
//! - **Quantized caches**: [`Append`] quantizes f32 or f16 rows on the GPU as ggml's
//!   `quantize_row_q8_0_ref` / `q4_0_ref` do, byte for byte (where C leaves it undefined, as
//!   x86 does: a NaN code is 0). Every reader dequantizes in registers through the shared
//!   loaders (`kv.wgsl`, `values.wgsl`); there is no dequantized copy. K and V share a format.
//! - **KIVI caches** (int4 / int2, [`KvDtype`] has the diagrams, [`reference::kivi`] the
//!   rounding, constant-group and NaN/inf decisions): K per channel over a page's tokens (group
//!   = page size), V per token over 32 channels, f16 scale and zero. Pool pages hold only the
//!   quantized form; each sequence's last page, while not full, stays in an f16 residual after
//!   each pool (one page per sequence, at the sequence's index in the table), and the append
//!   that fills the page quantizes it into its pool page ([`append_kivi`]). Readers find a
//!   token's row with `kv_row`, which sends those tokens to the residual. An engine allocates
//!   K and V with [`CacheLayout::binding_bytes`] and passes the touched-page list to every
//!   append.
//! - **Quest metadata** is f32 `[pages, kv_heads, 2, head_dim]`: the minimum, then the
//!   maximum. For f32 / f16 caches an append recomputes it for the touched pages from the
//!   cache; for the block formats it is widened at append time by the new, unquantized keys
//!   (a page's first token starts it afresh), so Quest bounds what the model computed, not the
//!   quantization error. [`QuestMeta::encode`] over a block cache bounds the dequantized keys.
//! - **Per-head policies** are per KV head: all query heads of a GQA group read the same K and
//!   V.
//! - **Selections are per (sequence, KV head).**
//!   - Quest sums its page bound over the group's query heads.
//!   - TidalDecode's selection sums the group's logits.
//!   - TokenSelect sums each query head's softmax over the sequence (soft voting within the
//!     group).
//!   - Sink and window pages or tokens score +inf, so top-k keeps them, lowest index first on
//!     ties.
//!   - The budget counts tokens, sinks and window included. Quest rounds it down to whole pages,
//!     which must hold every sequence's sink and window pages (else a typed error).
//!   - Lists are best first, padded with −1 for short sequences. `squeeze run` sorts them
//!     ascending.
//! - **Prefill** ([`Prefill`]): the batch's new tokens are query rows grouped by sequence as
//!   FlashInfer's `qo_indptr` says (`[batch + 1]`, from 0, non-decreasing; a sequence may bring
//!   none). They are already appended (append, then attend): query i of n new tokens in a
//!   sequence of L sits at position L − n + i and sees positions 0 ..= L − n + i. q and the
//!   output are `[rows, q_heads, head_dim]`, each f32 or f16; K/V in any cache format, read
//!   through the same loaders as decode. Host checks: the indptr's shape and order, at least one
//!   query, and n ≤ L where the table's lengths are known on the host; with an engine's table
//!   a query that would sit before position 0 sees nothing and outputs zeros. A workgroup holds
//!   1024 / head_dim (token, query head) rows of one KV group and streams 2048 / head_dim keys at
//!   a time through 14 KiB of workgroup memory (under WebGPU's 16 KiB default), with an online
//!   softmax in f32; q is multiplied by the scale as it is loaded. One dispatch per prefill, no
//!   splits: a row's keys are visited in order by one workgroup.
//! - **Decode splits**: enough (sequence, KV head, split) workgroups to fill a GPU, with splits
//!   of at least 256 tokens. The softmax is online, in f32. A merge pass combines the splits
//!   with their (maximum, sum), so large logits stay finite.

pub mod append;
pub mod append_kivi;
pub mod decode;
pub mod host;
pub mod layout;
pub mod pages;
pub mod params;
pub mod prefill;
pub mod quest_meta;
pub mod quest_scores;
pub mod reference;
pub mod select;
pub mod sparse;
pub mod token_scores;
pub mod token_stats;
pub mod token_vote;

pub use append::{Append, NewTokens, PlacedTokens};
pub use decode::{Decode, DecodeArgs, DecodePath, HeadPolicy, Tokens};
pub use layout::{CacheLayout, KvCache, KvDtype, Output, Pool, Query};
pub use pages::{DevicePageTable, EngineTable, PageTable};
pub use prefill::{Prefill, PrefillArgs, PrefillPath};
pub use quest_meta::QuestMeta;
pub use select::{Budget, Select, SelectPlan, Selector};
pub use sparse::Sparse;
