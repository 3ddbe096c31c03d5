//! Decode attention over a paged KV cache, dense and sparse, as portable GPU kernels.
//!
//! - [`pages`]: the page table (FlashInfer's CSR layout), checked on the host and uploaded.
//! - [`append`]: new tokens' K and V into the pool, keeping [`quest_meta`] current.
//! - [`decode`]: split-KV decode for any GQA group, over all tokens, sinks + window per KV
//!   head, or a selection list, then the merge of the splits.
//! - [`select`]: Quest page selection ([`quest_scores`]) and token-level selection
//!   ([`token_scores`], [`token_stats`], [`token_vote`]: TidalDecode and TokenSelect), each
//!   followed by squeeze-topk.
//! - [`sparse`]: a whole sparse step (score → select → attend) in one command encoder.
//! - [`reference`]: the CPU definition of every kernel and policy.

pub mod append;
pub mod decode;
pub mod host;
pub mod layout;
pub mod pages;
pub mod params;
pub mod quest_meta;
pub mod quest_scores;
pub mod reference;
pub mod select;
pub mod sparse;
pub mod token_scores;
pub mod token_stats;
pub mod token_vote;

pub use append::{Append, NewTokens};
pub use decode::{Decode, HeadPolicy, Tokens};
pub use layout::{CacheLayout, KvCache, KvDtype, Query};
pub use pages::{DevicePageTable, PageTable};
pub use quest_meta::QuestMeta;
pub use select::{Budget, Select, SelectPlan, Selector};
pub use sparse::Sparse;
