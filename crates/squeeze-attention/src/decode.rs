//! Decode attention (`shaders/attention/decode.wgsl` + `merge.wgsl`): one query token per
//! sequence against its paged K and V, every query head of a KV group in one workgroup, the
//! tokens split across workgroups (flash-decoding) and merged with their softmax statistics.
//! What each (sequence, KV head) attends to is a [`Tokens`]: all tokens, sinks + window per
//! head (StreamingLLM, MoA/RazorAttention-style per-head policies), or a selection list on the
//! device (Quest pages, TidalDecode / TokenSelect tokens). Two kernels ([`DecodePath`]):
//! workgroup tiles for GPUs, and a subgroup kernel for CPU adapters, where a lane owns a stream
//! of keys and the queries and outputs stay in registers.

use squeeze_core::pipeline::PipelineOptions;
use squeeze_core::wgpu;
use squeeze_core::{Binding, DType, Error, Gpu, Result};
use squeeze_shaders::attention::{DECODE, DECODE_SUBGROUP, MERGE};

use crate::layout::{HEAD_DIMS, KvCache, KvDtype, Output, Query};
use crate::pages::DevicePageTable;
use crate::params::TableShape;

/// Virtual tokens one decode workgroup scores at a time (`TILE` in decode.wgsl).
pub const TILE: u32 = 64;
/// Fewest tokens worth a split of their own.
const MIN_CHUNK: u32 = 256;
/// Workgroups a decode aims for, across sequences, KV heads and splits.
const TARGET_WORKGROUPS: u32 = 256;

/// Query heads one workgroup of the subgroup kernel serves, a lane each (`LANES` in
/// decode_subgroup.wgsl).
const SUBGROUP_HEADS: u32 = 8;

/// Which decode kernel records; both write the same split partials for the same merge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodePath {
    /// Core WGSL: a workgroup of 64 scores a tile of 64 tokens for every head of the group,
    /// probabilities through workgroup memory. Runs everywhere; the shape for GPUs.
    Tiled,
    /// A workgroup of eight lanes, a lane per query head of the group (blocks of eight heads
    /// for larger groups), its query and output in registers; keys and values handed out by
    /// `subgroupBroadcast` from eight lanes. Needs the SUBGROUP feature and subgroups of at
    /// least 8 lanes. The shape for CPU adapters (lavapipe), where a lane-varying load is a
    /// loop over the lanes: each key costs only its own K and V loads.
    Subgroup,
}

impl DecodePath {
    /// The path for `gpu`: [`DecodePath::Subgroup`] where the device prefers broadcast
    /// kernels (CPU adapters that can run it, [`Gpu::prefers_broadcast_subgroups`]), else
    /// [`DecodePath::Tiled`].
    pub fn best(gpu: &Gpu) -> Self {
        if gpu.prefers_broadcast_subgroups() {
            DecodePath::Subgroup
        } else {
            DecodePath::Tiled
        }
    }

    /// Whether `gpu` can run this path.
    pub fn runs_on(self, gpu: &Gpu) -> bool {
        match self {
            DecodePath::Tiled => true,
            DecodePath::Subgroup => gpu.has_broadcast_subgroups(),
        }
    }

    /// Workgroups per (sequence, KV head) for GQA groups of `group` query heads: the tiled
    /// kernel serves a whole group, the subgroup one eight heads.
    fn blocks(self, group: u32) -> u32 {
        match self {
            DecodePath::Tiled => 1,
            DecodePath::Subgroup => group.div_ceil(SUBGROUP_HEADS).max(1),
        }
    }
}

/// What one KV head attends to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HeadPolicy {
    /// Every token.
    #[default]
    Full,
    /// The first `sink` tokens and the last `window` (StreamingLLM); all of a sequence no
    /// longer than both.
    SinkWindow { sink: u32, window: u32 },
}

impl HeadPolicy {
    /// The (sink, window) pair the shader reads: a full head is an endless sink.
    fn spec(self) -> [u32; 2] {
        match self {
            HeadPolicy::Full => [u32::MAX, 0],
            HeadPolicy::SinkWindow { sink, window } => [sink, window],
        }
    }

    /// Tokens attended in a sequence of `len`.
    pub fn count(self, len: u32) -> u32 {
        let [sink, window] = self.spec();
        let sink = sink.min(len);
        sink + window.min(len - sink)
    }
}

/// The tokens each (sequence, KV head) attends to.
#[derive(Debug, Clone, Copy)]
pub enum Tokens<'a> {
    /// One policy per KV head.
    Policy(&'a [HeadPolicy]),
    /// A selection on the device: i32 `[batch, kv_heads, entries_per_row]`, each entry a run of
    /// `tokens_per_entry` tokens (entry e covers positions e·tokens_per_entry ..
    /// (e+1)·tokens_per_entry: a page for Quest, a token for the token selectors), −1 or past
    /// the end for none.
    Selected {
        list: Binding<'a>,
        entries_per_row: u32,
        tokens_per_entry: u32,
    },
}

/// Twin of the WGSL `DecodeParams` (decode.wgsl).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct DecodeParams {
    pub table: TableShape,
    /// Virtual tokens per split (a multiple of [`TILE`]).
    pub chunk: u32,
    /// Splits per (sequence, KV head).
    pub splits: u32,
    /// A selection's entries per (sequence, KV head) row, and tokens per entry (0 and 0 for a
    /// policy).
    pub entries_per_row: u32,
    pub tokens_per_entry: u32,
    /// The factor on q·k.
    pub scale: f32,
    pub _pad: [u32; 3],
}

/// Twin of the WGSL `MergeParams` (merge.wgsl).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct MergeParams {
    pub table: TableShape,
    /// Splits per (sequence, KV head) the decode wrote.
    pub splits: u32,
    pub _pad: [u32; 3],
}

/// Split-KV decode attention for one KV cache format.
pub struct Decode {
    gpu: Gpu,
    dtype: KvDtype,
    path: DecodePath,
    /// The merge writing f32 and f16 outputs.
    merge: [wgpu::ComputePipeline; 2],
}

/// Splits and virtual tokens per split for `tokens` virtual tokens in `rows` (sequence, KV head)
/// rows: enough workgroups to fill a GPU, splits of at least 256 tokens, chunks whole
/// tiles.
pub fn plan_splits(rows: u32, tokens: u32) -> (u32, u32) {
    // In u64: rounding a chunk near 2^32 up to whole tiles must not wrap to 0.
    let tokens = u64::from(tokens.max(1));
    let wanted = u64::from(TARGET_WORKGROUPS.div_ceil(rows.max(1)));
    let splits = wanted.min(tokens / u64::from(MIN_CHUNK)).max(1);
    let largest = u64::from(u32::MAX / TILE * TILE);
    let chunk = tokens
        .div_ceil(splits)
        .next_multiple_of(u64::from(TILE))
        .min(largest);
    (tokens.div_ceil(chunk) as u32, chunk as u32)
}

impl Decode {
    /// The best path for the device ([`DecodePath::best`]) with the merge compiled; the tiled
    /// path also compiles its decode for GQA groups of 1 and 8 and f32 queries (everything
    /// else compiles on first use, or ahead of it with [`Decode::prepare`]).
    pub fn new(gpu: &Gpu, dtype: KvDtype) -> Result<Self> {
        Self::with_path(gpu, dtype, DecodePath::best(gpu))
    }

    /// `path` explicitly: [`DecodePath::Subgroup`] without the SUBGROUP feature is a
    /// `MissingFeature` error, with subgroups under 8 lanes an invalid "decode path".
    pub fn with_path(gpu: &Gpu, dtype: KvDtype, path: DecodePath) -> Result<Self> {
        let decode = Self {
            gpu: gpu.clone(),
            dtype,
            path,
            merge: [
                gpu.pipeline(&MERGE, "merge", &[("O_F16", 0.0)])?,
                gpu.pipeline(&MERGE, "merge", &[("O_F16", 1.0)])?,
            ],
        };
        match path {
            DecodePath::Tiled => {
                for group in [1, 8] {
                    decode.prepare(group, 64)?;
                }
            }
            DecodePath::Subgroup => {
                gpu.check_broadcast_subgroups(&DECODE_SUBGROUP, "decode path")?
            }
        }
        Ok(decode)
    }

    pub fn path(&self) -> DecodePath {
        self.path
    }

    /// Compiles the decode for `group` query heads per KV head of `head_dim` (64, 128 or 256;
    /// only the subgroup path compiles one kernel per head dimension) and f32 queries now
    /// (over a policy and over a selection), so that an engine pays every compile at load time
    /// instead of inside its first recorded step; [`Decode::prepare_for`] for f16 queries.
    pub fn prepare(&self, group: u32, head_dim: u32) -> Result<()> {
        self.prepare_for(group, head_dim, DType::F32)
    }

    /// [`Decode::prepare`] for queries of `q_dtype` (f32 or f16).
    pub fn prepare_for(&self, group: u32, head_dim: u32, q_dtype: DType) -> Result<()> {
        if !HEAD_DIMS.contains(&head_dim) {
            return Err(Error::invalid(
                "head_dim",
                "value",
                format!("one of {HEAD_DIMS:?}"),
                head_dim,
            ));
        }
        let q_f16 = q_dtype.is_f16("q")?;
        self.pipeline(group, head_dim, false, q_f16)?;
        self.pipeline(group, head_dim, true, q_f16)?;
        Ok(())
    }

    /// The decode pipeline for `group` query heads per KV head of `head_dim`, over a policy or
    /// a selection, for f32 or f16 queries.
    fn pipeline(
        &self,
        group: u32,
        head_dim: u32,
        selected: bool,
        q_f16: bool,
    ) -> Result<wgpu::ComputePipeline> {
        // decode.wgsl writes every workgroup word it reads (the subgroup kernel has none).
        let options = PipelineOptions {
            zero_initialize_workgroup_memory: false,
        };
        let [kv] = self.dtype.overrides();
        let q = ("Q_F16", f64::from(u8::from(q_f16)));
        let selected = ("SELECTED", f64::from(u8::from(selected)));
        match self.path {
            DecodePath::Tiled => self.gpu.pipeline_with_options(
                &DECODE,
                "decode",
                &[
                    q,
                    kv,
                    selected,
                    ("GROUP", f64::from(group.next_power_of_two())),
                ],
                options,
            ),
            DecodePath::Subgroup => self.gpu.pipeline_with_options(
                &DECODE_SUBGROUP,
                "decode",
                &[("HEAD_DIM", f64::from(head_dim)), q, kv, selected],
                options,
            ),
        }
    }

    pub fn dtype(&self) -> KvDtype {
        self.dtype
    }

    /// Most virtual tokens a row of `tokens` has in `table`'s sequences.
    fn virtual_tokens(table: &DevicePageTable, tokens: &Tokens<'_>) -> u32 {
        match tokens {
            // An engine's table plans for its capacity: the same grid every step.
            Tokens::Policy(heads) => table
                .seq_lens()
                .unwrap_or(&[table.max_len()])
                .iter()
                .flat_map(|&len| heads.iter().map(move |h| h.count(len)))
                .max()
                .unwrap_or(0),
            Tokens::Selected {
                entries_per_row,
                tokens_per_entry,
                ..
            } => entries_per_row.saturating_mul(*tokens_per_entry),
        }
    }

    /// Workgroups per (sequence, KV head): the blocks of query heads the group splits into.
    fn blocks(&self, table: &DevicePageTable, q_heads: u32) -> u32 {
        self.path.blocks(q_heads / table.layout().kv_heads.max(1))
    }

    fn splits(&self, table: &DevicePageTable, q_heads: u32, tokens: &Tokens<'_>) -> (u32, u32) {
        let rows = table.batch() * table.layout().kv_heads * self.blocks(table, q_heads);
        plan_splits(rows, Self::virtual_tokens(table, tokens))
    }

    /// Bytes of scratch a decode of `q_heads` query heads over `tokens` needs: the splits'
    /// partial outputs and softmax statistics.
    pub fn scratch_bytes(&self, table: &DevicePageTable, q_heads: u32, tokens: &Tokens<'_>) -> u64 {
        let (splits, _) = self.splits(table, q_heads, tokens);
        let rows = u64::from(table.batch()) * u64::from(q_heads) * u64::from(splits);
        let partials = rows * u64::from(table.layout().head_dim) * 4;
        partials.next_multiple_of(256) + rows * 8
    }

    /// The device copy of a per-head policy (checked), or nothing for a selection list, whose
    /// shape is checked instead.
    fn policy_buffer(
        &self,
        table: &DevicePageTable,
        tokens: &Tokens<'_>,
    ) -> Result<Option<wgpu::Buffer>> {
        let layout = table.layout();
        match *tokens {
            Tokens::Policy(heads) => {
                if heads.len() != layout.kv_heads as usize {
                    return Err(Error::invalid(
                        "policy",
                        "length",
                        format!("kv_heads = {}", layout.kv_heads),
                        heads.len(),
                    ));
                }
                let words: Vec<u32> = heads.iter().flat_map(|h| h.spec()).collect();
                // Policies repeat every step: the device copy is made once per distinct policy.
                Ok(Some(self.gpu.constant("policy", &words)?))
            }
            Tokens::Selected {
                list,
                entries_per_row,
                tokens_per_entry,
            } => {
                if entries_per_row == 0 || tokens_per_entry == 0 {
                    return Err(Error::invalid(
                        "selected",
                        "entries_per_row × tokens_per_entry",
                        "both ≥ 1",
                        format!("{entries_per_row} × {tokens_per_entry}"),
                    ));
                }
                let entries = u64::from(table.batch())
                    * u64::from(layout.kv_heads)
                    * u64::from(entries_per_row);
                self.gpu.check_storage_binding("selected", &list)?;
                self.gpu.check_binding_holds(
                    "selected",
                    &list,
                    entries * 4,
                    format_args!(
                        "[{}, {}, {entries_per_row}] i32",
                        table.batch(),
                        layout.kv_heads
                    ),
                )?;
                Ok(None)
            }
        }
    }

    /// Checks every argument of [`Decode::encode`] without recording anything, so a caller that
    /// records other work first (a sparse step's selection) fails before any of it.
    pub fn check(&self, args: &DecodeArgs<'_>) -> Result<()> {
        self.checked(args).map(|_| ())
    }

    /// The checks of [`Decode::check`], and what recording then needs.
    fn checked(&self, args: &DecodeArgs<'_>) -> Result<Prepared> {
        let DecodeArgs {
            table,
            kv,
            query,
            tokens,
            scratch,
            out,
        } = *args;
        let gpu = &self.gpu;
        let layout = table.layout();
        kv.check(gpu, layout, self.dtype)?;
        kv.check_residual(gpu, layout, table.batch())?;
        let batch = table.batch();
        query.check(gpu, layout, batch)?;
        let o_f16 = out.check(gpu, layout, query, batch)?;
        let policy = self.policy_buffer(table, tokens)?;
        let group = query.heads / layout.kv_heads;
        let selected = matches!(tokens, Tokens::Selected { .. });
        let pipeline =
            self.pipeline(group, layout.head_dim, selected, query.dtype == DType::F16)?;
        let (splits, chunk) = self.splits(table, query.heads, tokens);
        let blocks = self.blocks(table, query.heads);
        let scratch_bytes = self.scratch_bytes(table, query.heads, tokens);
        gpu.check_binding_holds("scratch", &scratch, scratch_bytes, "the decode partials")?;
        let rows = u64::from(batch) * u64::from(query.heads) * u64::from(splits);
        let partial_bytes = (rows * u64::from(layout.head_dim) * 4).next_multiple_of(256);
        let part_o = Binding::new(scratch.buffer, scratch.offset, partial_bytes);
        let part_ml = Binding::new(scratch.buffer, scratch.offset + partial_bytes, rows * 8);
        gpu.check_storage_binding("scratch", &part_o)?;
        gpu.check_storage_binding("scratch", &part_ml)?;
        Ok(Prepared {
            policy,
            pipeline,
            o_f16,
            splits,
            chunk,
            blocks,
            partial_bytes,
            ml_bytes: rows * 8,
        })
    }

    /// Records `out = softmax(scale · q·Kᵀ) · V` over `tokens` for each sequence of `table`
    /// (see [`DecodeArgs`]). Every argument is checked before anything is recorded.
    pub fn encode(&self, encoder: &mut wgpu::CommandEncoder, args: &DecodeArgs<'_>) -> Result<()> {
        let DecodeArgs {
            table,
            kv,
            query,
            tokens,
            scratch,
            out,
        } = *args;
        let prepared = self.checked(args)?;
        let (spec, entries_per_row, tokens_per_entry) = match (*tokens, &prepared.policy) {
            (
                Tokens::Selected {
                    list,
                    entries_per_row,
                    tokens_per_entry,
                },
                _,
            ) => (list, entries_per_row, tokens_per_entry),
            (Tokens::Policy(_), policy) => {
                let buffer = policy.as_ref().ok_or_else(|| {
                    Error::invalid("policy", "device copy", "made for a policy", "none")
                })?;
                (Binding::whole(buffer), 0, 0)
            }
        };
        let part_o = Binding::new(scratch.buffer, scratch.offset, prepared.partial_bytes);
        let part_ml = Binding::new(
            scratch.buffer,
            scratch.offset + prepared.partial_bytes,
            prepared.ml_bytes,
        );
        let shape = TableShape::new(table, query.heads);
        let params = DecodeParams {
            table: shape,
            chunk: prepared.chunk,
            splits: prepared.splits,
            entries_per_row,
            tokens_per_entry,
            scale: query.scale,
            _pad: [0; 3],
        };
        let [indptr, indices, last] = table.bindings();
        let gpu = &self.gpu;
        gpu.dispatch_groups(
            encoder,
            "attention decode",
            &prepared.pipeline,
            &params,
            &[
                indptr, indices, last, kv.k, kv.v, query.q, spec, part_o, part_ml,
            ],
            [
                prepared.splits,
                table.layout().kv_heads * prepared.blocks,
                table.batch(),
            ],
        )?;
        gpu.dispatch_groups(
            encoder,
            "attention merge",
            &self.merge[usize::from(prepared.o_f16)],
            &MergeParams {
                table: shape,
                splits: prepared.splits,
                _pad: [0; 3],
            },
            &[part_o, part_ml, out.o],
            [query.heads, table.batch(), 1],
        )
    }
}

/// One decode's operands.
#[derive(Clone, Copy)]
pub struct DecodeArgs<'a> {
    /// The sequences' pages.
    pub table: &'a DevicePageTable,
    pub kv: &'a KvCache<'a>,
    pub query: &'a Query<'a>,
    /// What each (sequence, KV head) attends to.
    pub tokens: &'a Tokens<'a>,
    /// The splits' partial outputs and softmax statistics: [`Decode::scratch_bytes`].
    pub scratch: Binding<'a>,
    /// `[batch, q_heads, head_dim]`, f32 or f16 (a [`Binding`] converts to f32).
    pub out: Output<'a>,
}

/// What [`Decode::checked`] found: the policy's device copy, the pipeline and the split plan.
struct Prepared {
    policy: Option<wgpu::Buffer>,
    pipeline: wgpu::ComputePipeline,
    /// The output is f16.
    o_f16: bool,
    splits: u32,
    chunk: u32,
    /// Workgroups per (sequence, KV head) along the query heads.
    blocks: u32,
    /// Bytes of the partial outputs at the start of scratch (256-aligned), then of the
    /// softmax statistics after them.
    partial_bytes: u64,
    ml_bytes: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_cover_every_token_in_whole_tiles() {
        for rows in [1, 7, 8, 64, 1000] {
            for tokens in [
                0,
                1,
                63,
                64,
                65,
                255,
                256,
                257,
                4096,
                131_072,
                1 << 24,
                u32::MAX - 63,
                u32::MAX,
            ] {
                let (splits, chunk) = plan_splits(rows, tokens);
                assert!(splits >= 1 && chunk.is_multiple_of(TILE), "{rows} {tokens}");
                assert!(u64::from(splits) * u64::from(chunk) >= u64::from(tokens));
                assert!((splits - 1) * chunk < tokens.max(1), "no empty split");
                assert!(splits == 1 || chunk >= MIN_CHUNK);
            }
        }
        assert_eq!(
            plan_splits(8, 32768).0,
            32,
            "8 rows × 32 splits fill 256 workgroups"
        );
    }

    #[test]
    fn policies_count_sink_and_window_within_the_sequence() {
        let sw = |sink, window| HeadPolicy::SinkWindow { sink, window };
        assert_eq!(HeadPolicy::Full.count(0), 0);
        assert_eq!(HeadPolicy::Full.count(77), 77);
        assert_eq!(sw(4, 16).count(100), 20);
        assert_eq!(sw(4, 16).count(10), 10);
        assert_eq!(sw(40, 0).count(10), 10);
        assert_eq!(sw(0, 0).count(10), 0);
    }
}
