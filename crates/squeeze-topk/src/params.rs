//! The `params` uniform of the select, small and gather modules (`shaders/topk/params.wgsl`;
//! the sort and cooperative modules extend it: [`crate::sort::SortParams`],
//! [`crate::cooperative::CooperativeParams`]), and the recording of one top-k dispatch, whose bindings sit at fixed slots (the shaders share slot numbers
//! across entry points, so an entry point may skip a slot).

use squeeze_core::pipeline::PipelineOptions;
use squeeze_core::{Gpu, Result, wgpu};
use squeeze_shaders::Module;

use crate::Order;

/// Invocations per workgroup of every top-k kernel (`WORKGROUP_SIZE` in constants.wgsl): one radix
/// bin per invocation.
pub const WORKGROUP_SIZE: u32 = 256;

/// `flags` bit: a `lengths` buffer gives each row's valid length.
pub const FLAG_LENGTHS: u32 = 1;
/// `flags` bit: smallest first.
pub const FLAG_SMALLEST: u32 = 2;
/// `flags` bit: the sort pass writes i32 indices instead of pairs.
pub const FLAG_WRITE_INDICES: u32 = 4;

/// How the radix rounds scan their 256-bin histograms to pick a digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scan {
    /// Doubling steps in workgroup memory, core WGSL (`shaders/topk/scan_workgroup.wgsl`).
    Workgroup,
    /// Subgroup sums and two barriers (`shaders/topk/scan_subgroup.wgsl`); needs `SUBGROUP`.
    Subgroup,
}

impl Scan {
    /// The subgroup scan where the device has subgroups, else the workgroup one.
    pub fn for_gpu(gpu: &Gpu) -> Self {
        if gpu.has_subgroups() {
            Self::Subgroup
        } else {
            Self::Workgroup
        }
    }
}

/// Workgroup-memory capacities of the top-k pipelines on one device (overrides
/// `SORT_CAPACITY`, `CANDIDATE_CAPACITY` and `SMALL_CAPACITY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capacities {
    /// Pairs one workgroup sorts in workgroup memory.
    pub sort: u32,
    /// Candidates one workgroup narrows in workgroup memory.
    pub candidates: u32,
    /// Longest row the small-row kernel holds in workgroup memory: 3072 pairs (24 KiB) where the
    /// device gives 32 KiB of workgroup storage, else 1536 (12 KiB of the portable 16 KiB), with
    /// room left for the histogram and the scans.
    pub small: u32,
}

impl Capacities {
    /// Sort 2048 and candidates 1536 pairs (each module within the portable 16 KiB of workgroup
    /// memory); the small-row capacity from the device's workgroup storage.
    pub fn for_gpu(gpu: &Gpu) -> Self {
        let storage = gpu.limits().max_compute_workgroup_storage_size;
        Self {
            sort: 2048,
            candidates: 1536,
            small: if storage >= 32 << 10 { 3072 } else { 1536 },
        }
    }
}

/// The compute pipeline of a top-k entry point, without zero-initialised workgroup memory: every
/// top-k kernel writes each workgroup word before reading it, and on GL the zeroing WGSL asks for
/// (one array constructor per array) is what Mesa's compiler is slow on. Measured on llvmpipe GL,
/// the 13 pipelines of one [`crate::TopK`] at these capacities: 727 s with the zeroing, 0.45 s
/// without (so GL no longer needs smaller capacities).
pub fn pipeline(
    gpu: &Gpu,
    module: &'static Module,
    entry: &str,
    overrides: &[(&str, f64)],
) -> Result<wgpu::ComputePipeline> {
    let options = PipelineOptions {
        zero_initialize_workgroup_memory: false,
    };
    gpu.pipeline_with_options(module, entry, overrides, options)
}

/// Rust twin of `TopkParams` (`shaders/topk/params.wgsl`): the shape and flags, the whole
/// uniform of the select, small and gather kernels and the first four words of the sort's and
/// the cooperative selection's.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct TopkParams {
    /// Rows of scores.
    pub rows: u32,
    /// Scores per row.
    pub n: u32,
    /// Winners kept per row.
    pub k: u32,
    /// `FLAG_*` bits.
    pub flags: u32,
}

impl TopkParams {
    pub fn new(rows: u32, n: u32, k: u32, order: Order, lengths: bool) -> Self {
        let mut flags = 0;
        if lengths {
            flags |= FLAG_LENGTHS;
        }
        if order == Order::Smallest {
            flags |= FLAG_SMALLEST;
        }
        Self { rows, n, k, flags }
    }
}

/// Workgroups for a kernel that walks `items` with a workgroup stride (one item per workgroup).
pub fn per_item_workgroups(gpu: &Gpu, items: u32) -> u32 {
    items.clamp(1, gpu.limits().max_compute_workgroups_per_dimension)
}

/// Workgroups for a grid-stride kernel over `items` (one item per invocation).
pub fn grid_workgroups(gpu: &Gpu, items: u64) -> u32 {
    gpu.grid_workgroups(items, WORKGROUP_SIZE)
}
