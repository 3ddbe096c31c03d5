//! `shaders/topk/`: exact row-wise top-k — radix selection of the winners, a bitonic sort of
//! them, and the gather of their values. `FORMAT` is the score format: 0 = f32, 1 = f16,
//! 2 = bf16 (16-bit formats two per u32 word).

use crate::core::HALVES;
use crate::{Module, Overrides, Part, Requirements, part};

/// Flags and constants shared by every top-k module.
pub const CONSTANTS: Part = part!("topk/constants.wgsl");
/// The `params` uniform (`TopkParams`: shape and flags) of the select, small and gather modules;
/// the sort and cooperative modules declare their own.
pub const PARAMS: Part = part!("topk/params.wgsl");
/// Order-preserving u32 keys of f32 bit patterns.
pub const KEYS: Part = part!("topk/keys.wgsl");
/// The scores and per-row lengths, read as rank keys.
pub const INPUT: Part = part!("topk/input.wgsl");
/// The composite (key, index key), its digit prefix, and the workgroup digit pick.
pub const RADIX: Part = part!("topk/radix.wgsl");
/// The workgroup histogram and the candidates narrowed in workgroup memory.
pub const CANDIDATES: Part = part!("topk/candidates.wgsl");
/// The doubling workgroup scan in workgroup memory (core WGSL; the subgroup scan's fallback).
pub const SCAN: Part = part!("topk/scan.wgsl");
/// `inclusive_scan` of the portable modules.
pub const SCAN_WORKGROUP: Part = part!("topk/scan_workgroup.wgsl");
/// `inclusive_scan` on subgroup operations (doubling-scan fallback inside).
pub const SCAN_SUBGROUP: Part = part!("topk/scan_subgroup.wgsl");
/// The bitonic network over pairs in workgroup memory.
pub const BITONIC: Part = part!("topk/bitonic.wgsl");

/// The parts of a radix-selection module: the shared ones with the scan `$scan`, then the
/// kernel's (with its `params` uniform).
macro_rules! selection_parts {
    ($scan:expr, $($kernel:expr),+) => {
        &[CONSTANTS, HALVES, KEYS, INPUT, RADIX, SCAN, $scan, CANDIDATES, $($kernel),+]
    };
}

const FORMATS: [Overrides; 3] = [&[("FORMAT", 0.0)], &[("FORMAT", 1.0)], &[("FORMAT", 2.0)]];

/// Each format with the candidate capacity (`CANDIDATE_CAPACITY`).
const FORMATS_CANDIDATES: [Overrides; 3] = [
    &[("FORMAT", 0.0), ("CANDIDATE_CAPACITY", 1536.0)],
    &[("FORMAT", 1.0), ("CANDIDATE_CAPACITY", 1536.0)],
    &[("FORMAT", 2.0), ("CANDIDATE_CAPACITY", 1536.0)],
];

/// Radix selection of each row's k winners, one workgroup per row; entry `select_rows`.
pub static SELECT: Module = Module {
    name: "topk/select",
    parts: selection_parts!(SCAN_WORKGROUP, PARAMS, part!("topk/select.wgsl")),
    requires: Requirements::PORTABLE,
    entry_points: &["select_rows"],
    override_sets: &FORMATS_CANDIDATES,
};

/// [`SELECT`] with the scan of each radix round on subgroup operations.
pub static SELECT_SUBGROUP: Module = Module {
    name: "topk/select_subgroup",
    parts: selection_parts!(SCAN_SUBGROUP, PARAMS, part!("topk/select.wgsl")),
    requires: Requirements::SUBGROUPS,
    entry_points: &["select_rows"],
    override_sets: &FORMATS_CANDIDATES,
};

/// Each format with each `SMALL_CAPACITY` (32 KiB and 16 KiB of workgroup storage).
const FORMATS_SMALL: [Overrides; 6] = [
    &[("FORMAT", 0.0), ("SMALL_CAPACITY", 3072.0)],
    &[("FORMAT", 1.0), ("SMALL_CAPACITY", 3072.0)],
    &[("FORMAT", 2.0), ("SMALL_CAPACITY", 3072.0)],
    &[("FORMAT", 0.0), ("SMALL_CAPACITY", 1536.0)],
    &[("FORMAT", 1.0), ("SMALL_CAPACITY", 1536.0)],
    &[("FORMAT", 2.0), ("SMALL_CAPACITY", 1536.0)],
];

/// Top-k of rows that fit workgroup memory in one dispatch (select, sort and write in place);
/// entries `small_topk` (indices and values) and `small_indices`.
pub static SMALL: Module = Module {
    name: "topk/small",
    parts: selection_parts!(SCAN_WORKGROUP, PARAMS, BITONIC, part!("topk/small.wgsl")),
    requires: Requirements::PORTABLE,
    entry_points: &["small_topk", "small_indices"],
    override_sets: &FORMATS_SMALL,
};

/// [`SMALL`] with the scan of each radix round on subgroup operations.
pub static SMALL_SUBGROUP: Module = Module {
    name: "topk/small_subgroup",
    parts: selection_parts!(SCAN_SUBGROUP, PARAMS, BITONIC, part!("topk/small.wgsl")),
    requires: Requirements::SUBGROUPS,
    entry_points: &["small_topk", "small_indices"],
    override_sets: &FORMATS_SMALL,
};

/// Radix selection of a few huge rows by many workgroups each, through global histograms;
/// entries `coop_init`, `coop_histogram`, `coop_pick`, `coop_gather` (one round is a histogram, a
/// pick and a gather), `coop_compact` and `coop_finish`.
pub static COOPERATIVE: Module = Module {
    name: "topk/cooperative",
    parts: selection_parts!(SCAN_WORKGROUP, part!("topk/cooperative.wgsl")),
    requires: Requirements::PORTABLE,
    entry_points: &[
        "coop_init",
        "coop_histogram",
        "coop_pick",
        "coop_gather",
        "coop_compact",
        "coop_finish",
    ],
    override_sets: &FORMATS_CANDIDATES,
};

/// Bitonic sort of (key, index) pairs per row; entries `bitonic_local`, `bitonic_global` and
/// `sort_init` (the pairs of a full sort, straight from the scores).
pub static SORT: Module = Module {
    name: "topk/sort",
    parts: &[
        CONSTANTS,
        HALVES,
        KEYS,
        INPUT,
        BITONIC,
        part!("topk/sort.wgsl"),
    ],
    requires: Requirements::PORTABLE,
    entry_points: &["bitonic_local", "bitonic_global", "sort_init"],
    override_sets: &[
        &[("FORMAT", 0.0), ("SORT_CAPACITY", 2048.0)],
        &[("FORMAT", 1.0), ("SORT_CAPACITY", 2048.0)],
        &[("FORMAT", 2.0), ("SORT_CAPACITY", 2048.0)],
    ],
};

/// The values at the selected indices, in the input's format; entry `gather_values`.
pub static GATHER: Module = Module {
    name: "topk/gather",
    parts: &[
        CONSTANTS,
        PARAMS,
        HALVES,
        KEYS,
        INPUT,
        part!("topk/gather.wgsl"),
    ],
    requires: Requirements::PORTABLE,
    entry_points: &["gather_values"],
    override_sets: &FORMATS,
};
