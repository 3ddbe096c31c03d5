//! The host cost of recording one decode step of a 7B-shaped model, what `squeeze bench
//! record` reports: per layer (32) the q, k, v, o, gate, up and down GEMVs in q4_k, an append
//! of the new token and dense decode attention over a 4K-token paged f16 cache (32 query and
//! 8 KV heads of 128), then top-k (k = 50) over a 128K-entry vocabulary row. Nothing is
//! submitted: each step is recorded into its own encoder and finished, as an engine would
//! before its submit.
//!
//! What is shared to fit a CPU adapter's memory, and why the figure still holds: every layer
//! binds the same weight and KV buffers (7 weight matrices, one cache), while its activations
//! (x, q, o, y) are its own, so each layer's dispatches are distinct to the bind cache as in a
//! real model. The glue between kernels (RMSNorm, RoPE, SwiGLU, residual adds) is not a squeeze
//! kernel yet and is left out.
//!
//! The step runs as an engine would: the page table lives in the engine's buffers
//! ([`DevicePageTable::from_engine`], planned for a capacity) and the new token's pool row is
//! placed by the engine ([`Append::encode_placed`]), so a steady-state step allocates nothing;
//! the JSON row reports what it does allocate, so a regression shows.

use std::time::Instant;

use serde::Serialize;
use squeeze::attention::append::placement;
use squeeze::attention::host::{HostKv, Uploaded};
use squeeze::attention::{
    Append, CacheLayout, Decode, DecodeArgs, DevicePageTable, EngineTable, HeadPolicy, KvCache,
    KvDtype, PageTable, PlacedTokens, Tokens,
};
use squeeze::quant::{Format, Gemv, Problem};
use squeeze::topk::{Order, ScoreBindings, TopK};
use squeeze::{AllocationCounts, Binding, DType, Gpu, Result, wgpu};

const LAYERS: usize = 32;
const HIDDEN: usize = 4096;
const FFN: usize = 14336;
const KV_ROWS: usize = 1024;
const CONTEXT: u32 = 4096;
const VOCAB: u32 = 131_072;
const TOP_K: u32 = 50;
const Q_HEADS: u32 = 32;
const KV_HEADS: u32 = 8;
const HEAD_DIM: u32 = 128;

/// What `squeeze bench record` writes as its one row.
#[derive(Debug, Clone, Serialize)]
pub struct RecordRow {
    pub kernel: &'static str,
    pub shape: String,
    /// Host seconds per recorded dispatch, steady state.
    pub seconds: f64,
    /// Dispatches per step.
    pub dispatches: u64,
    /// Buffers squeeze created per steady-state step.
    pub buffers_created: u64,
    /// Bind groups squeeze created per steady-state step.
    pub bind_groups_created: u64,
    /// Host seconds per dispatch with the bind cache emptied before each step: what every
    /// step cost before the cache (a uniform buffer and a bind group per dispatch).
    pub seconds_uncached: f64,
}

/// One layer's own activations.
struct Layer {
    x: wgpu::Buffer,
    q: wgpu::Buffer,
    o: wgpu::Buffer,
    y: wgpu::Buffer,
}

/// The step's kernels and buffers, made once.
struct Step {
    gemv: Gemv,
    append: Append,
    decode: Decode,
    topk: TopK,
    /// (rows, cols, weights) of q, k, v, o, gate, up, down.
    weights: Vec<(usize, usize, wgpu::Buffer)>,
    k: wgpu::Buffer,
    v: wgpu::Buffer,
    /// The engine-owned page table over the buffers in `_engine`.
    table: DevicePageTable,
    /// The new token's pool row, placed by the engine.
    rows: wgpu::Buffer,
    _engine: ([wgpu::Buffer; 3], wgpu::Buffer),
    new_k: wgpu::Buffer,
    new_v: wgpu::Buffer,
    scratch: wgpu::Buffer,
    layers: Vec<Layer>,
    logits: wgpu::Buffer,
    topk_scratch: wgpu::Buffer,
    indices: wgpu::Buffer,
    policy: Vec<HeadPolicy>,
}

impl Step {
    fn new(gpu: &Gpu) -> Result<Self> {
        let format = Format::Q4K;
        let matrix = |rows: usize, cols: usize| -> Result<(usize, usize, wgpu::Buffer)> {
            let bytes = rows * format.row_bytes(cols)?;
            Ok((rows, cols, gpu.storage_buffer("weights", bytes as u64)?))
        };
        let weights = vec![
            matrix(HIDDEN, HIDDEN)?,
            matrix(KV_ROWS, HIDDEN)?,
            matrix(KV_ROWS, HIDDEN)?,
            matrix(HIDDEN, HIDDEN)?,
            matrix(FFN, HIDDEN)?,
            matrix(FFN, HIDDEN)?,
            matrix(HIDDEN, FFN)?,
        ];
        let (table, pages) = PageTable::contiguous(&[CONTEXT], 16);
        let layout = CacheLayout {
            pages,
            page_size: 16,
            kv_heads: KV_HEADS,
            head_dim: HEAD_DIM,
            dtype: KvDtype::F16,
        };
        let zeros = vec![half::f16::ZERO; layout.elements() as usize];
        let q = vec![0.0f32; (Q_HEADS * HEAD_DIM) as usize];
        let kv = HostKv::F16 {
            k: &zeros,
            v: &zeros,
        };
        let uploaded = Uploaded::new(gpu, layout, &table, kv, &q, Q_HEADS)?;
        let seq_lens = gpu.upload("seq_lens", &[CONTEXT])?;
        let words = |data: &[u32]| gpu.upload("page table", data);
        let engine = [
            words(&table.indptr)?,
            words(&table.indices)?,
            words(&table.last_page_len)?,
        ];
        let (placed, _) = placement(&table, layout.page_size, &[0, 1])?;
        let rows = gpu.upload("rows", &placed)?;
        let engine_table = DevicePageTable::from_engine(
            gpu,
            layout,
            &EngineTable {
                batch: 1,
                capacity: CONTEXT,
                indptr: Binding::whole(&engine[0]),
                indices: Binding::whole(&engine[1]),
                last_page_len: Binding::whole(&engine[2]),
                seq_lens: Binding::whole(&seq_lens),
            },
        )?;
        let decode = Decode::new(gpu, KvDtype::F16)?;
        decode.prepare(Q_HEADS / KV_HEADS, HEAD_DIM)?;
        let policy = vec![HeadPolicy::Full; KV_HEADS as usize];
        let scratch = decode.scratch_bytes(&engine_table, Q_HEADS, &Tokens::Policy(&policy));
        let activation = |label, elements: usize| gpu.storage_buffer(label, elements as u64 * 4);
        let layers = (0..LAYERS)
            .map(|_| {
                Ok(Layer {
                    x: activation("x", FFN)?,
                    q: activation("q", (Q_HEADS * HEAD_DIM) as usize)?,
                    o: activation("o", (Q_HEADS * HEAD_DIM) as usize)?,
                    y: activation("y", FFN)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let topk = TopK::new(gpu, DType::F32)?;
        let row = (KV_HEADS * HEAD_DIM) as u64 * 2;
        Ok(Self {
            gemv: Gemv::new(gpu, format)?,
            append: Append::new(gpu, KvDtype::F16)?,
            decode,
            weights,
            new_k: gpu.storage_buffer("new k", row)?,
            new_v: gpu.storage_buffer("new v", row)?,
            scratch: gpu.storage_buffer("decode scratch", scratch)?,
            k: uploaded.k,
            v: uploaded.v,
            table: engine_table,
            rows,
            _engine: (engine, seq_lens),
            layers,
            logits: activation("logits", VOCAB as usize)?,
            topk_scratch: gpu
                .storage_buffer("topk scratch", topk.scratch_bytes(1, VOCAB, TOP_K))?,
            indices: gpu.storage_buffer("indices", u64::from(TOP_K) * 4)?,
            topk,
            policy,
        })
    }

    fn record(&self, encoder: &mut wgpu::CommandEncoder) -> Result<()> {
        let whole = Binding::whole;
        let kv = KvCache {
            k: whole(&self.k),
            v: whole(&self.v),
            meta: None,
        };
        for layer in &self.layers {
            for (i, (rows, cols, w)) in self.weights.iter().enumerate() {
                let problem = Problem {
                    rows: *rows,
                    cols: *cols,
                    batch: 1,
                    x_dtype: DType::F32,
                };
                // Each projection reads a prefix of the layer's input and writes a prefix of
                // its output (q and o for attention's seams).
                let (x, y) = match i {
                    0 => (&layer.x, &layer.q),
                    3 => (&layer.o, &layer.y),
                    _ => (&layer.x, &layer.y),
                };
                let x = Binding::new(x, 0, *cols as u64 * 4);
                let y = Binding::new(y, 0, *rows as u64 * 4);
                self.gemv.encode(encoder, problem, whole(w), x, y)?;
            }
            let new = PlacedTokens {
                tokens: 1,
                rows: whole(&self.rows),
                k: whole(&self.new_k),
                v: whole(&self.new_v),
                touched: None,
            };
            self.append.encode_placed(encoder, &self.table, &new, &kv)?;
            let query = squeeze::attention::Query {
                q: whole(&layer.q),
                heads: Q_HEADS,
                scale: 1.0 / (HEAD_DIM as f32).sqrt(),
                dtype: DType::F32,
            };
            self.decode.encode(
                encoder,
                &DecodeArgs {
                    table: &self.table,
                    kv: &kv,
                    query: &query,
                    tokens: &Tokens::Policy(&self.policy),
                    scratch: whole(&self.scratch),
                    out: whole(&layer.o).into(),
                },
            )?;
        }
        self.topk.encode(
            encoder,
            1,
            VOCAB,
            TOP_K,
            Order::Largest,
            &ScoreBindings {
                x: whole(&self.logits),
                lengths: None,
                scratch: whole(&self.topk_scratch),
                indices: whole(&self.indices),
                values: None,
            },
        )
    }

    /// Records `steps` steps, each into its own finished encoder; returns the wall seconds
    /// and what they allocated. `uncached` empties the bind cache before each step.
    fn time(&self, gpu: &Gpu, steps: u32, uncached: bool) -> Result<(f64, AllocationCounts)> {
        let before = gpu.allocations();
        let started = Instant::now();
        for _ in 0..steps {
            if uncached {
                gpu.clear_bind_cache();
            }
            let mut encoder = gpu.encoder("decode step");
            self.record(&mut encoder)?;
            drop(encoder.finish());
        }
        Ok((started.elapsed().as_secs_f64(), gpu.allocations() - before))
    }
}

/// Measures the recording cost: one warm-up step, then `steps` steady-state steps and `steps`
/// steps with the bind cache emptied before each.
pub fn measure(gpu: &Gpu, steps: u32) -> Result<RecordRow> {
    let step = Step::new(gpu)?;
    let steps = steps.max(1);
    step.time(gpu, 1, false)?;
    let (seconds, steady) = step.time(gpu, steps, false)?;
    let (uncached, _) = step.time(gpu, steps, true)?;
    let per_step = |n: u64| n / u64::from(steps);
    let dispatches = per_step(steady.dispatches);
    let total = steady.dispatches.max(1) as f64;
    Ok(RecordRow {
        kernel: "record",
        shape: format!(
            "7B step: {LAYERS} layers q4_k, {CONTEXT}-token f16 cache, top-{TOP_K} of {VOCAB}"
        ),
        seconds: seconds / total,
        dispatches,
        buffers_created: per_step(steady.buffers),
        bind_groups_created: per_step(steady.bind_groups),
        seconds_uncached: uncached / total,
    })
}
