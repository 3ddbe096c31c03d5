//! Sparse attention's selection: a score per page (Quest) or per token (TidalDecode,
//! TokenSelect) for every (sequence, KV head), sinks and window forced in, then the best `k` by
//! squeeze-topk — all recorded on the device, no readback. The selection list feeds
//! [`crate::decode::Tokens::Selected`]; TidalDecode reuses one list across the layers after its
//! selection layer.

use squeeze_core::wgpu;
use squeeze_core::{Binding, DType, Error, Gpu, Result};
use squeeze_topk::{Order, ScoreBindings, TopK};

use crate::layout::{KvCache, KvDtype, Query};
use crate::pages::DevicePageTable;
use crate::params::{ScoreOutputs, ScoreRows};
use crate::quest_meta::meta_bytes;
use crate::quest_scores::QuestScores;
use crate::reference::{Vote, forced_page};
use crate::token_scores::TokenScores;
use crate::token_stats::TokenStats;
use crate::token_vote::TokenVote;

/// How tokens are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selector {
    /// Pages by Quest's bound from per-page key minima and maxima.
    Quest,
    /// Tokens by the KV group's summed logits (TidalDecode).
    Tidal,
    /// Tokens by the KV group's summed per-head softmax (TokenSelect's soft voting).
    TokenSelect,
}

/// What a sparse step may keep: `tokens` in all, the first `sink` and last `window` always.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub tokens: u32,
    pub sink: u32,
    pub window: u32,
}

/// A checked selection for one page table: top-k of `rows` rows of `n` scores, entries of
/// `unit` tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SelectPlan {
    pub selector: Selector,
    pub budget: Budget,
    pub q_heads: u32,
    /// (sequence, KV head) rows.
    pub rows: u32,
    /// Scores per row: the longest sequence in pages (Quest) or tokens.
    pub n: u32,
    /// Entries kept per row.
    pub k: u32,
    /// Tokens per entry: page_size (Quest) or 1.
    pub unit: u32,
}

/// Device buffers one [`SelectPlan`] works in; reusable across steps and layers.
pub struct SelectWorkspace {
    plan: SelectPlan,
    scores: wgpu::Buffer,
    lengths: wgpu::Buffer,
    topk: wgpu::Buffer,
    logits: wgpu::Buffer,
    stats: wgpu::Buffer,
}

/// Selection passes for a KV cache of one format.
pub struct Select {
    gpu: Gpu,
    dtype: KvDtype,
    topk: TopK,
    quest: QuestScores,
    logits: TokenScores,
    stats: TokenStats,
    vote: TokenVote,
}

impl Select {
    pub fn new(gpu: &Gpu, dtype: KvDtype) -> Result<Self> {
        Ok(Self {
            gpu: gpu.clone(),
            dtype,
            topk: TopK::new(gpu, DType::F32)?,
            quest: QuestScores::new(gpu)?,
            logits: TokenScores::new(gpu, dtype)?,
            stats: TokenStats::new(gpu)?,
            vote: TokenVote::new(gpu)?,
        })
    }

    /// Compiles the token scores for `group` query heads per KV head now (see
    /// [`crate::Decode::prepare`]).
    pub fn prepare(&self, group: u32) -> Result<()> {
        self.logits.pipeline(group, false).map(|_| ())
    }

    /// Checks `budget` against `table` and sizes the selection for the table's sequences as
    /// they are: [`Select::plan_with_capacity`] with the longest sequence as the capacity.
    pub fn plan(
        &self,
        table: &DevicePageTable,
        q_heads: u32,
        selector: Selector,
        budget: Budget,
    ) -> Result<SelectPlan> {
        self.plan_with_capacity(table, q_heads, selector, budget, table.max_len())
    }

    /// Checks `budget` against `table` and sizes the selection for sequences of up to
    /// `capacity` tokens, so one workspace serves every step while they grow to it (a table
    /// that outgrows it is a typed error at encode). The budget must hold the sink and the
    /// window; for Quest it is rounded down to whole pages, which must hold every sequence's
    /// sink and window pages, now and at the capacity.
    pub fn plan_with_capacity(
        &self,
        table: &DevicePageTable,
        q_heads: u32,
        selector: Selector,
        budget: Budget,
        capacity: u32,
    ) -> Result<SelectPlan> {
        let layout = table.layout();
        if capacity < table.max_len() {
            return Err(Error::invalid(
                "capacity",
                "tokens",
                format!("at least the table's longest sequence, {}", table.max_len()),
                capacity,
            ));
        }
        layout.check_q_heads(q_heads)?;
        let forced = u64::from(budget.sink) + u64::from(budget.window);
        if u64::from(budget.tokens) < forced {
            return Err(Error::invalid(
                "budget",
                "tokens",
                format!("at least sink + window = {forced}"),
                budget.tokens,
            ));
        }
        let rows = table.batch() * layout.kv_heads;
        let (n, k, unit) = match selector {
            Selector::Quest => {
                let page_size = layout.page_size;
                let pages = budget.tokens / page_size;
                let forced_pages = table
                    .seq_lens()
                    .unwrap_or_default()
                    .iter()
                    .chain([&capacity])
                    .map(|&len| {
                        (0..len.div_ceil(page_size))
                            .filter(|&p| forced_page(p, page_size, len, budget.sink, budget.window))
                            .count() as u32
                    })
                    .max()
                    .unwrap_or(0);
                if pages == 0 || pages < forced_pages {
                    return Err(Error::invalid(
                        "budget",
                        "whole pages",
                        format!(
                            "at least max(1, the {forced_pages} sink and window pages) of {page_size} tokens"
                        ),
                        format!("{pages} ({} tokens)", budget.tokens),
                    ));
                }
                let n = capacity.max(1).div_ceil(page_size);
                (n, pages.min(n), page_size)
            }
            Selector::Tidal | Selector::TokenSelect => {
                let n = capacity.max(1);
                (n, budget.tokens.clamp(1, n), 1)
            }
        };
        Ok(SelectPlan {
            selector,
            budget,
            q_heads,
            rows,
            n,
            k,
            unit,
        })
    }

    /// The buffers `plan` needs.
    pub fn workspace(&self, table: &DevicePageTable, plan: &SelectPlan) -> Result<SelectWorkspace> {
        let gpu = &self.gpu;
        let tokens = plan.selector != Selector::Quest;
        let heads = u64::from(table.batch()) * u64::from(plan.q_heads);
        let logits = if tokens {
            heads * u64::from(plan.n) * 4
        } else {
            4
        };
        Ok(SelectWorkspace {
            plan: *plan,
            scores: gpu.storage_buffer("scores", u64::from(plan.rows) * u64::from(plan.n) * 4)?,
            lengths: gpu.storage_buffer("lengths", u64::from(plan.rows) * 4)?,
            topk: gpu.storage_buffer(
                "topk scratch",
                self.topk.scratch_bytes(plan.rows, plan.n, plan.k),
            )?,
            logits: gpu.storage_buffer("logits", logits)?,
            stats: gpu.storage_buffer("stats", if tokens { heads * 8 } else { 4 })?,
        })
    }

    /// Records the selection of `plan` into `selected` (i32 `[batch, kv_heads, k]`, best first,
    /// −1 where a sequence has fewer than k entries). Quest reads the cache's metadata
    /// ([`crate::quest_meta`]); the token selectors read the keys.
    pub fn encode(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        table: &DevicePageTable,
        kv: &KvCache<'_>,
        query: &Query<'_>,
        workspace: &SelectWorkspace,
        selected: Binding<'_>,
    ) -> Result<()> {
        let gpu = &self.gpu;
        let plan = &workspace.plan;
        plan.check_table(table, query)?;
        kv.check(gpu, table.layout(), self.dtype)?;
        kv.check_residual(gpu, table.layout(), table.batch())?;
        query.check(gpu, table.layout(), table.batch())?;
        let rows = ScoreRows {
            table,
            q_heads: plan.q_heads,
            stride: plan.n,
            forced: (plan.budget.sink, plan.budget.window),
            q_f16: query.dtype == DType::F16,
        };
        let scores = Binding::whole(&workspace.scores);
        let lengths = Binding::whole(&workspace.lengths);
        let out = ScoreOutputs { scores, lengths };
        self.encode_scores(encoder, &rows, kv, query, workspace, out)?;
        self.topk.encode(
            encoder,
            plan.rows,
            plan.n,
            plan.k,
            Order::Largest,
            &ScoreBindings {
                x: scores,
                lengths: Some(lengths),
                scratch: Binding::whole(&workspace.topk),
                indices: selected,
                values: None,
            },
        )
    }

    /// Records the selector's scoring passes into `out`: Quest's page bounds from the cache's
    /// metadata, or the token logits (and, for TokenSelect, their softmax statistics) voted
    /// per KV group.
    fn encode_scores(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        rows: &ScoreRows<'_>,
        kv: &KvCache<'_>,
        query: &Query<'_>,
        workspace: &SelectWorkspace,
        out: ScoreOutputs<'_>,
    ) -> Result<()> {
        let selector = workspace.plan.selector;
        if selector == Selector::Quest {
            let meta = kv.meta.ok_or_else(|| {
                Error::invalid(
                    "meta",
                    "binding",
                    "Quest metadata for Quest selection",
                    "none",
                )
            })?;
            let layout = rows.table.layout();
            self.gpu.check_storage_binding("meta", &meta)?;
            self.gpu
                .check_binding_holds("meta", &meta, meta_bytes(layout), "Quest metadata")?;
            return self.quest.encode(encoder, rows, query.q, meta, out);
        }
        let logits = Binding::whole(&workspace.logits);
        let stats = Binding::whole(&workspace.stats);
        self.logits
            .encode(encoder, rows, kv.k, query.q, query.scale, logits)?;
        let vote = if selector == Selector::Tidal {
            Vote::Sum
        } else {
            self.stats.encode(encoder, rows, logits, stats)?;
            Vote::Softmax
        };
        self.vote.encode(encoder, rows, vote, logits, stats, out)
    }
}

impl SelectPlan {
    /// Fails unless `table` and `query` fit this plan: the same rows and query heads, and no
    /// sequence longer than the capacity (scores are laid out at the plan's row length, so a
    /// table that outgrew it would write past its rows).
    pub fn check_table(&self, table: &DevicePageTable, query: &Query<'_>) -> Result<()> {
        let rows = table.batch() * table.layout().kv_heads;
        if self.rows != rows {
            return Err(Error::invalid("workspace", "rows", rows, self.rows));
        }
        if query.heads != self.q_heads {
            return Err(Error::invalid(
                "query",
                "heads",
                format!("{} (the workspace's plan)", self.q_heads),
                query.heads,
            ));
        }
        let needed = match self.selector {
            Selector::Quest => table.max_pages(),
            Selector::Tidal | Selector::TokenSelect => table.max_len(),
        };
        if needed > self.n {
            return Err(Error::invalid(
                "workspace",
                "capacity (entries per row)",
                format!(
                    "at least the table's longest sequence, {needed}: plan a workspace for a longer capacity"
                ),
                self.n,
            ));
        }
        Ok(())
    }
}
