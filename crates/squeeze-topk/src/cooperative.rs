//! Cooperative radix selection (`shaders/topk/cooperative.wgsl`): the winners of a few huge rows,
//! each shared by many workgroups, as unsorted (rank key, index) pairs like [`crate::select`].
//! One round is a histogram, a pick and a gather dispatch; every round is recorded (a row that
//! finished or moved its candidates to workgroup memory skips the rest on the device), so the
//! host never reads back.

use squeeze_core::{Binding, Gpu, Result, wgpu};
use squeeze_shaders::{Module, topk::COOPERATIVE};

use crate::ScoreBindings;
use crate::params::{Capacities, TopkParams, grid_workgroups, per_item_workgroups, pipeline};

/// u32 words of one row's state (prefix, counters and a 256-bin histogram).
pub const STATE_WORDS: u32 = 272;
/// Bytes of the state of `rows` rows.
pub fn state_bytes(rows: u32) -> u64 {
    u64::from(rows) * u64::from(STATE_WORDS) * 4
}

/// Bytes of the spilled candidates of `rows` rows: `capacities.candidates` pairs each.
pub fn spill_bytes(rows: u32, capacities: Capacities) -> u64 {
    u64::from(rows) * u64::from(capacities.candidates) * 8
}

/// Rounds a selection over rows of `n` runs at most: four key digits and enough index digits
/// for `n - 1`.
pub fn rounds(n: u32) -> u32 {
    let index_bits = 32 - n.saturating_sub(1).max(1).leading_zeros();
    4 + index_bits.div_ceil(8)
}

/// Rust twin of `CooperativeParams` (`shaders/topk/cooperative.wgsl`): [`TopkParams`], the
/// workgroups sharing each row and the radix round a dispatch runs.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct CooperativeParams {
    pub rows: u32,
    pub n: u32,
    pub k: u32,
    pub flags: u32,
    /// The radix round of a histogram, pick or gather dispatch (0 for the others).
    pub round: u32,
    /// Workgroups sharing each row.
    pub groups_per_row: u32,
    pub _pad: [u32; 2],
}

/// The cooperative selection passes for one score format on one device.
pub(crate) struct Cooperative {
    gpu: Gpu,
    init: wgpu::ComputePipeline,
    histogram: wgpu::ComputePipeline,
    pick: wgpu::ComputePipeline,
    gather: wgpu::ComputePipeline,
    compact: wgpu::ComputePipeline,
    finish: wgpu::ComputePipeline,
}

impl Cooperative {
    pub const SHADER: &'static Module = &COOPERATIVE;

    pub fn new(gpu: &Gpu, format: f64, capacities: Capacities) -> Result<Self> {
        let overrides = [
            ("FORMAT", format),
            ("CANDIDATE_CAPACITY", f64::from(capacities.candidates)),
        ];
        let build = |entry| pipeline(gpu, Self::SHADER, entry, &overrides);
        Ok(Self {
            gpu: gpu.clone(),
            init: build("coop_init")?,
            histogram: build("coop_histogram")?,
            pick: build("coop_pick")?,
            gather: build("coop_gather")?,
            compact: build("coop_compact")?,
            finish: build("coop_finish")?,
        })
    }

    /// Records the selection with `groups_per_row` workgroups on each row; bindings are checked
    /// by the caller (`pairs` holds the rows' k pairs, `state` [`state_bytes`], `spill`
    /// [`spill_bytes`]).
    pub fn encode(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        params: &TopkParams,
        groups_per_row: u32,
        b: &ScoreBindings<'_>,
        [pairs, state, spill]: [Binding<'_>; 3],
    ) -> Result<()> {
        let gpu = &self.gpu;
        let (x, lengths) = (b.x, b.lengths.unwrap_or(b.x));
        let TopkParams { rows, n, k, flags } = *params;
        let p = CooperativeParams {
            rows,
            n,
            k,
            flags,
            groups_per_row,
            ..CooperativeParams::default()
        };
        let words = u64::from(params.rows) * u64::from(STATE_WORDS);
        gpu.dispatch_slots(
            encoder,
            "topk coop init",
            &self.init,
            &p,
            &[(2, lengths), (4, state)],
            grid_workgroups(gpu, words),
        )?;
        let spread = per_item_workgroups(gpu, params.rows.saturating_mul(groups_per_row));
        for round in 0..rounds(params.n) {
            let p = CooperativeParams { round, ..p };
            gpu.dispatch_slots(
                encoder,
                "topk coop histogram",
                &self.histogram,
                &p,
                &[(1, x), (2, lengths), (4, state)],
                spread,
            )?;
            gpu.dispatch_slots(
                encoder,
                "topk coop pick",
                &self.pick,
                &p,
                &[(2, lengths), (4, state)],
                per_item_workgroups(gpu, params.rows),
            )?;
            gpu.dispatch_slots(
                encoder,
                "topk coop gather",
                &self.gather,
                &p,
                &[(1, x), (2, lengths), (3, pairs), (4, state), (5, spill)],
                spread,
            )?;
        }
        gpu.dispatch_slots(
            encoder,
            "topk coop compact",
            &self.compact,
            &p,
            &[(1, x), (2, lengths), (3, pairs), (4, state), (5, spill)],
            spread,
        )?;
        gpu.dispatch_slots(
            encoder,
            "topk coop finish",
            &self.finish,
            &p,
            &[(2, lengths), (3, pairs), (4, state), (5, spill)],
            per_item_workgroups(gpu, params.rows),
        )
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn rounds_cover_every_index_digit() {
        assert_eq!(super::rounds(1), 5);
        assert_eq!(super::rounds(256), 5);
        assert_eq!(super::rounds(257), 6);
        assert_eq!(super::rounds(1 << 20), 7);
        assert_eq!(super::rounds((1 << 24) + 1), 8);
    }
}
