//! Token top-k selection: exact top-k of each row of `[rows, n]` scores (f32, f16, bf16),
//! largest or smallest first, values and i32 indices sorted best first, for sampling, token
//! pruning and sparse attention.
//!
//! Ranking ([`keys`]): NaN above +inf when largest first, as torch.topk ranks it (so last when
//! smallest first); -0.0 equals +0.0; equal scores go to the lower index. Rows may have their
//! own valid lengths; a row shorter than k is padded with index -1 and the order's worst
//! infinity. [`reference`](mod@reference) is the CPU definition; [`TopK`] the GPU kernel: rows
//! that fit workgroup memory in one dispatch ([`small`]), longer ones by a radix select over
//! order-preserving keys ([`select`], [`cooperative`]), then a bitonic sort of the k winners
//! ([`sort`]); the radix rounds scan with subgroup operations where the device has them
//! ([`Scan`]).

pub mod cooperative;
pub mod gather;
pub mod keys;
pub mod params;
pub mod reference;
pub mod select;
pub mod small;
pub mod sort;
pub mod topk;

pub use params::Scan;
pub use sort::Argsort;
pub use topk::{ScoreBindings, Strategy, TopK, auto_groups_per_row};

/// Which end of the order top-k keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    /// Largest first (NaN ranks above +inf).
    #[default]
    Largest,
    /// Smallest first (NaN ranks last).
    Smallest,
}
