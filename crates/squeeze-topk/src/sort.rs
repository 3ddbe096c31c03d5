//! Bitonic sorting of (rank key, index) pairs, each row on its own (`shaders/topk/sort.wgsl`):
//! the final ordering of top-k's winners, and [`Argsort`], a full sort of every row used as the
//! baseline top-k is measured against (and an exact argsort in its own right).
//!
//! A row of k pairs sorts as if padded to `span`, the next power of two. Up to C pairs (the
//! sort capacity, [`Capacities`]) that is one pass in workgroup memory; beyond it, one pass sorts
//! each chunk of C, then every larger merge runs its strides of at least C as one grid-wide pass
//! each and finishes the smaller strides in workgroup memory: log2(span / C) · (log2(span / C) +
//! 3) / 2 + 1 passes in all.

use squeeze_core::{Binding, DType, Gpu, Result, wgpu};
use squeeze_shaders::{Module, topk::SORT};

use crate::Order;
use crate::params::{
    Capacities, FLAG_WRITE_INDICES, TopkParams, grid_workgroups, per_item_workgroups, pipeline,
};
use crate::topk::{ScoreBindings, check_scores, format_constant};

/// Rust twin of `SortParams` (`shaders/topk/sort.wgsl`): [`TopkParams`] and the bitonic stage
/// a dispatch runs.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct SortParams {
    pub rows: u32,
    pub n: u32,
    pub k: u32,
    pub flags: u32,
    /// Bitonic merge size of this stage; 0 sorts each chunk fully (`bitonic_local` only).
    pub merge_size: u32,
    /// Comparator distance of this stage (`bitonic_global` only).
    pub distance: u32,
    /// Power of two at least k: the length each row sorts as.
    pub span: u32,
    pub _pad: u32,
}

impl SortParams {
    /// The params of `params`' sort before any stage is set (merge size and distance 0).
    pub fn new(params: &TopkParams) -> Self {
        let TopkParams { rows, n, k, flags } = *params;
        Self {
            rows,
            n,
            k,
            flags,
            span: k.next_power_of_two(),
            ..Self::default()
        }
    }
}

/// The sorting passes on one device.
pub(crate) struct Sort {
    gpu: Gpu,
    capacity: u32,
    local: wgpu::ComputePipeline,
    global: wgpu::ComputePipeline,
    init: wgpu::ComputePipeline,
}

impl Sort {
    pub const SHADER: &'static Module = &SORT;

    pub fn new(gpu: &Gpu, format: f64, capacities: Capacities) -> Result<Self> {
        let capacity = capacities.sort;
        let overrides = [("FORMAT", format), ("SORT_CAPACITY", f64::from(capacity))];
        Ok(Self {
            gpu: gpu.clone(),
            capacity,
            local: pipeline(gpu, Self::SHADER, "bitonic_local", &overrides)?,
            global: pipeline(gpu, Self::SHADER, "bitonic_global", &overrides)?,
            init: pipeline(gpu, Self::SHADER, "sort_init", &overrides)?,
        })
    }

    /// Records `pairs[r, j] = (key, index)` of every valid element, the sentinel past a row's
    /// length (a full sort's input, `params.k == params.n`).
    pub fn encode_init(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        params: &TopkParams,
        x: Binding<'_>,
        lengths: Binding<'_>,
        pairs: Binding<'_>,
    ) -> Result<()> {
        let items = u64::from(params.rows) * u64::from(params.n);
        self.gpu.dispatch_slots(
            encoder,
            "topk sort init",
            &self.init,
            &SortParams::new(params),
            &[(1, x), (2, lengths), (3, pairs)],
            grid_workgroups(&self.gpu, items),
        )
    }

    /// Records the sort of each row's `params.k` pairs, best first, ending with the indices
    /// written to `indices`. Bindings are checked by the caller.
    pub fn encode(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        params: &TopkParams,
        pairs: Binding<'_>,
        indices: Binding<'_>,
    ) -> Result<()> {
        let sort = SortParams::new(params);
        let span = sort.span;
        let capacity = self.capacity;
        let chunks = params.rows * span.div_ceil(capacity);
        let local = |encoder: &mut wgpu::CommandEncoder, merge_size: u32, last: bool| {
            let mut p = SortParams { merge_size, ..sort };
            if last {
                p.flags |= FLAG_WRITE_INDICES;
            }
            self.gpu.dispatch_slots(
                encoder,
                "topk sort local",
                &self.local,
                &p,
                &[(3, pairs), (4, indices)],
                per_item_workgroups(&self.gpu, chunks),
            )
        };
        local(encoder, 0, span <= capacity)?;
        let comparators = u64::from(params.rows) * u64::from(span / 2);
        let mut merge_size = capacity * 2;
        while merge_size <= span {
            let mut distance = merge_size / 2;
            while distance >= capacity {
                let p = SortParams {
                    merge_size,
                    distance,
                    ..sort
                };
                self.gpu.dispatch_slots(
                    encoder,
                    "topk sort global",
                    &self.global,
                    &p,
                    &[(3, pairs)],
                    grid_workgroups(&self.gpu, comparators),
                )?;
                distance /= 2;
            }
            local(encoder, merge_size, merge_size == span)?;
            merge_size *= 2;
        }
        Ok(())
    }
}

/// Bytes of the pair scratch a sort of `rows × k` needs.
pub fn pair_bytes(rows: u32, k: u32) -> u64 {
    u64::from(rows) * u64::from(k) * 8
}

/// A full exact sort of every row (indices best first, the top-k order with k = n), by a plain
/// bitonic network: the baseline top-k is measured against.
pub struct Argsort {
    gpu: Gpu,
    dtype: DType,
    sort: Sort,
}

impl Argsort {
    pub fn new(gpu: &Gpu, dtype: DType) -> Result<Self> {
        let sort = Sort::new(gpu, format_constant(dtype)?, Capacities::for_gpu(gpu))?;
        Ok(Self {
            gpu: gpu.clone(),
            dtype,
            sort,
        })
    }

    /// Bytes of the scratch [`Argsort::encode`] needs for `rows × n`.
    pub fn scratch_bytes(rows: u32, n: u32) -> u64 {
        pair_bytes(rows, n)
    }

    /// Records the sorted indices of each of `rows` rows of `n` scores into `indices`
    /// (`[rows, n]` i32; -1 past a row's length), using `scratch` for the pairs.
    pub fn encode(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        rows: u32,
        n: u32,
        order: Order,
        b: &ScoreBindings<'_>,
    ) -> Result<()> {
        let scratch = Self::scratch_bytes(rows, n);
        let params = check_scores(&self.gpu, self.dtype, (rows, n, n), order, b, scratch)?;
        if rows == 0 {
            return Ok(());
        }
        let lengths = b.lengths.unwrap_or(b.x);
        self.sort
            .encode_init(encoder, &params, b.x, lengths, b.scratch)?;
        self.sort.encode(encoder, &params, b.scratch, b.indices)
    }
}
