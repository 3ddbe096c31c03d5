//! An engine's decode steps on squeeze kernels, the way an engine records them: its own wgpu
//! device, its own buffers (weights, KV pool, page table, placements, activations), each step
//! recorded into one encoder with no readback, the page table growing in the engine's buffers
//! by `queue.write_buffer`, and the results checked against the CPU references at the end.
//!
//! One step: a quantized GEMV (q8_0, the "logits" of a token), the append of the token's K and
//! V rows at the pool rows the engine placed, dense decode attention over the whole sequence
//! through the engine's page table, and top-k of the logits. After the first step nothing is
//! allocated: the same dispatches over the same buffers reuse their bind groups.
//!
//! Run with `cargo run -p squeeze --example engine_step`; `cargo test` runs it too.

use squeeze::attention::append::{PlacedTokens, placement};
use squeeze::attention::pages::EngineTable;
use squeeze::attention::reference::{self as attention_reference, HostCache};
use squeeze::attention::{
    Append, CacheLayout, Decode, DecodeArgs, DevicePageTable, HeadPolicy, KvCache, KvDtype,
    PageTable, Query, Tokens,
};
use squeeze::quant::{Format, Gemv, Problem, reference as quant_reference};
use squeeze::topk::{Order, ScoreBindings, TopK, reference as topk_reference};
use squeeze::{AllocationCounts, Binding, DType, Gpu, Result, wgpu};

const ROWS: usize = 96;
const COLS: usize = 64;
const K: u32 = 4;
const PAGE: u32 = 8;
const KV_HEADS: u32 = 2;
const Q_HEADS: u32 = 4;
const HEAD_DIM: u32 = 64;
/// The prompt already in the cache, and the steps decoded after it.
const PROMPT: u32 = 13;
const STEPS: u32 = 3;
const CAPACITY: u32 = 32;

/// The engine's own device, made with wgpu directly and handed to squeeze.
fn engine_device() -> Result<Gpu> {
    let entry = squeeze::enumerate_adapters()
        .into_iter()
        .next()
        .ok_or_else(|| squeeze::Error::NoAdapter {
            backends: "any".into(),
        })?;
    let (device, queue) =
        pollster::block_on(entry.adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("engine"),
            required_features: entry.adapter.features() & squeeze::core::gpu::wanted_features(),
            required_limits: entry.adapter.limits(),
            ..Default::default()
        }))
        .map_err(|source| squeeze::Error::RequestDevice {
            adapter: entry.info.name.clone(),
            source,
        })?;
    Ok(Gpu::from_wgpu(entry.info, device, queue))
}

/// Deterministic values in [-1, 1).
fn values(n: usize, seed: u32) -> Vec<f32> {
    (0..n as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) ^ seed) % 1000)
        .map(|v| v as f32 / 500.0 - 1.0)
        .collect()
}

/// The engine's host copy of the state it mirrors to its buffers.
struct Host {
    table: PageTable,
    k: Vec<f32>,
    v: Vec<f32>,
}

/// Elements of one token's K (or V) row: every KV head.
const TOKEN: usize = (KV_HEADS * HEAD_DIM) as usize;

/// Bytes of `n` 32-bit words.
fn words(n: u32) -> u64 {
    u64::from(n) * 4
}

/// What the engine makes at load time: its device, buffers, page table and the squeeze kernels
/// with their scratch, and the host state it mirrors.
struct Engine {
    gpu: Gpu,
    layout: CacheLayout,
    host: Host,
    // The GEMV's quantized weights and activations (host and device) and its result.
    w: Vec<u8>,
    x: Vec<f32>,
    w_buf: wgpu::Buffer,
    x_buf: wgpu::Buffer,
    logits: wgpu::Buffer,
    // The KV pool and the engine's page table, its own buffers, rewritten each step.
    k_pool: wgpu::Buffer,
    v_pool: wgpu::Buffer,
    indptr: wgpu::Buffer,
    last_page_len: wgpu::Buffer,
    seq_lens: wgpu::Buffer,
    table: DevicePageTable,
    // The step's token: its pool row and its K and V rows.
    rows: wgpu::Buffer,
    new_k: wgpu::Buffer,
    new_v: wgpu::Buffer,
    // The kernels, with their query, scratch and outputs.
    gemv: Gemv,
    append: Append,
    decode: Decode,
    topk: TopK,
    policy: [HeadPolicy; KV_HEADS as usize],
    q: Vec<f32>,
    q_buf: wgpu::Buffer,
    scratch: wgpu::Buffer,
    o: wgpu::Buffer,
    topk_scratch: wgpu::Buffer,
    top: wgpu::Buffer,
}

impl Engine {
    /// Loads the state: weights, the KV pool with the prompt in it, the engine's page table
    /// (sequence 0 on pool pages in reverse order, so logical and pool pages differ), and the
    /// kernels, compiled here rather than in a step.
    fn load() -> Result<Self> {
        let gpu = engine_device()?;
        let layout = CacheLayout {
            pages: CAPACITY / PAGE,
            page_size: PAGE,
            kv_heads: KV_HEADS,
            head_dim: HEAD_DIM,
            dtype: KvDtype::F32,
        };
        let w = quant_reference::quantize(Format::Q8_0, &values(ROWS * COLS, 1))
            .map_err(|e| squeeze::Error::invalid("w", "weights", "quantizable", e))?;
        let x = values(COLS, 2);
        let host = Host {
            table: PageTable {
                indptr: vec![0, 0],
                indices: (0..layout.pages).rev().collect(),
                last_page_len: vec![0],
            },
            k: values(layout.elements() as usize, 3),
            v: values(layout.elements() as usize, 4),
        };
        let indptr = gpu.storage_buffer("indptr", words(2))?;
        let indices = gpu.upload("indices", &host.table.indices)?;
        let last_page_len = gpu.storage_buffer("last_page_len", words(1))?;
        let seq_lens = gpu.storage_buffer("seq_lens", words(1))?;
        let table = DevicePageTable::from_engine(
            &gpu,
            layout,
            &EngineTable {
                batch: 1,
                capacity: CAPACITY,
                indptr: Binding::whole(&indptr),
                indices: Binding::whole(&indices),
                last_page_len: Binding::whole(&last_page_len),
                seq_lens: Binding::whole(&seq_lens),
            },
        )?;
        let decode = Decode::new(&gpu, KvDtype::F32)?;
        decode.prepare(Q_HEADS / KV_HEADS, HEAD_DIM)?;
        let policy = [HeadPolicy::Full; KV_HEADS as usize];
        let scratch = decode.scratch_bytes(&table, Q_HEADS, &Tokens::Policy(&policy));
        let topk = TopK::new(&gpu, DType::F32)?;
        let topk_scratch = topk.scratch_bytes(1, ROWS as u32, K);
        let q = values((Q_HEADS * HEAD_DIM) as usize, 5);
        Ok(Self {
            w_buf: gpu.upload("w", &w)?,
            x_buf: gpu.upload("x", &x)?,
            logits: gpu.storage_buffer("logits", (ROWS * 4) as u64)?,
            k_pool: gpu.upload("k pool", &host.k)?,
            v_pool: gpu.upload("v pool", &host.v)?,
            rows: gpu.storage_buffer("rows", words(1))?,
            new_k: gpu.storage_buffer("new k", TOKEN as u64 * 4)?,
            new_v: gpu.storage_buffer("new v", TOKEN as u64 * 4)?,
            gemv: Gemv::new(&gpu, Format::Q8_0)?,
            append: Append::new(&gpu, KvDtype::F32)?,
            q_buf: gpu.upload("q", &q)?,
            scratch: gpu.storage_buffer("scratch", scratch)?,
            o: gpu.storage_buffer("o", (q.len() * 4) as u64)?,
            topk_scratch: gpu.storage_buffer("topk scratch", topk_scratch)?,
            top: gpu.storage_buffer("top", words(K))?,
            gpu,
            layout,
            host,
            w,
            x,
            indptr,
            last_page_len,
            seq_lens,
            table,
            decode,
            topk,
            policy,
            q,
        })
    }

    /// The host side of step `step`: the engine grows its table by one token, places it, and
    /// writes the table, the placement and the token's K and V rows to its own buffers.
    fn place_token(&mut self, step: u32) -> Result<()> {
        let host = &mut self.host;
        let len = PROMPT + step + 1;
        let pages = len.div_ceil(PAGE);
        host.table.indptr[1] = pages;
        host.table.last_page_len[0] = len - (pages - 1) * PAGE;
        let (placed, _) = placement(&host.table, PAGE, &[0, 1])?;
        let (k_row, v_row) = (values(TOKEN, 10 + step), values(TOKEN, 20 + step));
        for (pool, row) in [(&mut host.k, &k_row), (&mut host.v, &v_row)] {
            let at = placed[0] as usize * TOKEN;
            pool[at..at + TOKEN].copy_from_slice(row);
        }
        let queue = self.gpu.queue();
        let table = &host.table;
        queue.write_buffer(&self.indptr, 0, bytemuck::cast_slice(&table.indptr));
        queue.write_buffer(
            &self.last_page_len,
            0,
            bytemuck::cast_slice(&table.last_page_len),
        );
        queue.write_buffer(&self.seq_lens, 0, bytemuck::cast_slice(&[len]));
        queue.write_buffer(&self.rows, 0, bytemuck::cast_slice(&placed));
        queue.write_buffer(&self.new_k, 0, bytemuck::cast_slice(&k_row));
        queue.write_buffer(&self.new_v, 0, bytemuck::cast_slice(&v_row));
        Ok(())
    }

    /// Records one step into one encoder and submits it: GEMV, placed append, dense decode
    /// attention, top-k. Nothing is read back. Returns what recording the step created.
    fn record_step(&self) -> Result<AllocationCounts> {
        let gpu = &self.gpu;
        let before = gpu.allocations();
        let mut encoder = gpu.encoder("decode step");
        let problem = Problem {
            rows: ROWS,
            cols: COLS,
            batch: 1,
            x_dtype: DType::F32,
        };
        self.gemv.encode(
            &mut encoder,
            problem,
            Binding::whole(&self.w_buf),
            Binding::whole(&self.x_buf),
            Binding::whole(&self.logits),
        )?;
        let kv = KvCache {
            k: Binding::whole(&self.k_pool),
            v: Binding::whole(&self.v_pool),
            meta: None,
        };
        let new = PlacedTokens {
            tokens: 1,
            rows: Binding::whole(&self.rows),
            k: Binding::whole(&self.new_k),
            v: Binding::whole(&self.new_v),
            touched: None,
        };
        self.append
            .encode_placed(&mut encoder, &self.table, &new, &kv)?;
        let query = Query {
            q: Binding::whole(&self.q_buf),
            heads: Q_HEADS,
            scale: 0.125,
            dtype: DType::F32,
        };
        self.decode.encode(
            &mut encoder,
            &DecodeArgs {
                table: &self.table,
                kv: &kv,
                query: &query,
                tokens: &Tokens::Policy(&self.policy),
                scratch: Binding::whole(&self.scratch),
                out: Binding::whole(&self.o).into(),
            },
        )?;
        self.topk.encode(
            &mut encoder,
            1,
            ROWS as u32,
            K,
            Order::Largest,
            &ScoreBindings {
                x: Binding::whole(&self.logits),
                lengths: None,
                scratch: Binding::whole(&self.topk_scratch),
                indices: Binding::whole(&self.top),
                values: None,
            },
        )?;
        let created = gpu.allocations() - before;
        gpu.queue().submit([encoder.finish()]);
        Ok(created)
    }

    /// Reads the last step's attention output and top-k back and checks them against the CPU
    /// references, and `recorded` (each step's allocations) for nothing created after the
    /// first step.
    fn check(&self, recorded: &[AllocationCounts]) -> Result<()> {
        let gpu = &self.gpu;
        let got_o: Vec<f32> = gpu.read_back("o", &self.o, 0, self.q.len())?;
        let got_top: Vec<i32> = gpu.read_back("top", &self.top, 0, K as usize)?;
        let cache = HostCache {
            layout: self.layout,
            k: &self.host.k,
            v: &self.host.v,
        };
        let len = PROMPT + STEPS;
        let positions = |_, _| attention_reference::policy_positions(HeadPolicy::Full, len);
        let want_o = attention_reference::decode(
            &cache,
            &self.host.table,
            &self.q,
            Q_HEADS,
            0.125,
            &positions,
        );
        let worst = got_o
            .iter()
            .zip(&want_o)
            .map(|(g, w)| (g - w).abs())
            .fold(0f32, f32::max);
        let dequantized = quant_reference::dequantize(Format::Q8_0, &self.w, COLS)
            .map_err(|e| squeeze::Error::invalid("w", "weights", "dequantizable", e))?;
        let (want_logits, _) = quant_reference::matmul(&dequantized, COLS, &self.x);
        let want_logits: Vec<f32> = want_logits.iter().map(|&v| v as f32).collect();
        let (_, want_top) =
            topk_reference::top_k(&want_logits, ROWS, K as usize, Order::Largest, None)?;
        println!("attention over {len} tokens: max |gpu - reference| = {worst:e}");
        println!("top-{K} logits: gpu {got_top:?}, reference {want_top:?}");
        for (step, counts) in recorded.iter().enumerate() {
            println!(
                "step {step}: {} dispatches, {} buffers and {} bind groups created",
                counts.dispatches, counts.buffers, counts.bind_groups
            );
        }
        let steady = recorded[1..].iter().all(|c| {
            *c == AllocationCounts {
                dispatches: c.dispatches,
                ..AllocationCounts::default()
            }
        });
        // Attention outputs are f32 sums of at most 16 terms of |v| ≤ 1: 1e-5 is generous.
        if worst > 1e-5 || got_top != want_top || !steady {
            return Err(squeeze::Error::invalid(
                "engine step",
                "result",
                "the CPU references' and no allocation after the first step",
                format!("max error {worst:e}, top {got_top:?} vs {want_top:?}, {recorded:?}"),
            ));
        }
        Ok(())
    }
}

fn main() -> Result<()> {
    let mut engine = Engine::load()?;
    let mut recorded = Vec::new();
    for step in 0..STEPS {
        engine.place_token(step)?;
        recorded.push(engine.record_step()?);
    }
    // Only now read back, and check against the CPU references.
    engine.check(&recorded)
}

#[test]
fn engine_step_matches_the_references_without_steady_state_allocations() {
    main().unwrap_or_else(|e| panic!("{e}"));
}
