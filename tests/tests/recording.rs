//! Engine-grade recording: a decode step — a quantized GEMV, dense decode attention over a
//! paged cache and top-k over the GEMV's output — recorded again over the same buffers creates
//! no buffers and no bind groups (the bind cache reuses what the first recording built), on
//! every adapter, and computes the same result.

use squeeze::attention::host::{HostKv, Uploaded};
use squeeze::attention::{CacheLayout, Decode, DecodeArgs, HeadPolicy, KvDtype, PageTable, Tokens};
use squeeze::quant::{Format, Gemv, Problem};
use squeeze::topk::{Order, ScoreBindings, TopK};
use squeeze::{AllocationCounts, Binding, DType, Gpu, wgpu};
use squeeze_conformance::adapters::{NO_ADAPTER_HELP, open_all};

const ROWS: usize = 64;
const COLS: usize = 128;
const K: u32 = 5;

/// The kernels and buffers of one step, made once.
struct Step {
    gemv: Gemv,
    decode: Decode,
    topk: TopK,
    w: wgpu::Buffer,
    x: wgpu::Buffer,
    y: wgpu::Buffer,
    attention: Uploaded,
    scratch: wgpu::Buffer,
    o: wgpu::Buffer,
    topk_scratch: wgpu::Buffer,
    indices: wgpu::Buffer,
    values: wgpu::Buffer,
    policy: Vec<HeadPolicy>,
}

impl Step {
    fn new(gpu: &Gpu) -> squeeze::Result<Self> {
        // Q8_0 rows: an f16 scale of 1/64 and codes spread over -128..127.
        let mut blocks = Vec::new();
        for r in 0..ROWS * COLS / 32 {
            blocks.extend(half::f16::from_f32(1.0 / 64.0).to_le_bytes());
            blocks.extend((0..32).map(|i| ((r * 37 + i * 11) % 256) as u8));
        }
        let x: Vec<f32> = (0..COLS).map(|i| (i % 9) as f32 * 0.25 - 1.0).collect();
        let (table, pages) = PageTable::contiguous(&[100], 16);
        let layout = CacheLayout {
            pages,
            page_size: 16,
            kv_heads: 2,
            head_dim: 64,
            dtype: KvDtype::F32,
        };
        let kv: Vec<f32> = (0..layout.elements())
            .map(|i| (i % 13) as f32 / 13.0 - 0.5)
            .collect();
        let q: Vec<f32> = (0..8 * 64).map(|i| (i % 5) as f32 * 0.1).collect();
        let attention = Uploaded::new(gpu, layout, &table, HostKv::F32 { k: &kv, v: &kv }, &q, 8)?;
        let decode = Decode::new(gpu, KvDtype::F32)?;
        let policy = vec![HeadPolicy::Full; 2];
        let scratch = decode.scratch_bytes(&attention.table, 8, &Tokens::Policy(&policy));
        let topk = TopK::new(gpu, DType::F32)?;
        Ok(Self {
            gemv: Gemv::new(gpu, Format::Q8_0)?,
            w: gpu.upload("w", &blocks)?,
            x: gpu.upload("x", &x)?,
            y: gpu.storage_buffer("y", (ROWS * 4) as u64)?,
            scratch: gpu.storage_buffer("scratch", scratch)?,
            o: gpu.storage_buffer("o", attention.out_len() as u64 * 4)?,
            topk_scratch: gpu
                .storage_buffer("topk scratch", topk.scratch_bytes(1, ROWS as u32, K))?,
            indices: gpu.storage_buffer("indices", u64::from(K) * 4)?,
            values: gpu.storage_buffer("values", u64::from(K) * 4)?,
            attention,
            decode,
            topk,
            policy,
        })
    }

    fn record(&self, encoder: &mut wgpu::CommandEncoder) -> squeeze::Result<()> {
        let problem = Problem {
            rows: ROWS,
            cols: COLS,
            batch: 1,
            x_dtype: DType::F32,
        };
        self.gemv.encode(
            encoder,
            problem,
            Binding::whole(&self.w),
            Binding::whole(&self.x),
            Binding::whole(&self.y),
        )?;
        let a = &self.attention;
        self.decode.encode(
            encoder,
            &DecodeArgs {
                table: &a.table,
                kv: &a.kv(None),
                query: &a.query(0.125),
                tokens: &Tokens::Policy(&self.policy),
                scratch: Binding::whole(&self.scratch),
                out: Binding::whole(&self.o).into(),
            },
        )?;
        self.topk.encode(
            encoder,
            1,
            ROWS as u32,
            K,
            Order::Largest,
            &ScoreBindings {
                x: Binding::whole(&self.y),
                lengths: None,
                scratch: Binding::whole(&self.topk_scratch),
                indices: Binding::whole(&self.indices),
                values: Some(Binding::whole(&self.values)),
            },
        )
    }

    /// Records, submits and reads back (indices, o).
    fn run(&self, gpu: &Gpu) -> squeeze::Result<(AllocationCounts, Vec<i32>, Vec<f32>)> {
        let before = gpu.allocations();
        let mut encoder = gpu.encoder("step");
        self.record(&mut encoder)?;
        let recorded = gpu.allocations() - before;
        gpu.submit_and_wait(encoder)?;
        let indices = gpu.read_back("indices", &self.indices, 0, K as usize)?;
        let o = gpu.read_back("o", &self.o, 0, self.attention.out_len())?;
        Ok((recorded, indices, o))
    }
}

#[test]
fn a_steady_state_step_creates_no_buffers_and_no_bind_groups() {
    let adapters = open_all(None);
    assert!(!adapters.is_empty(), "{NO_ADAPTER_HELP}");
    for (entry, gpu) in adapters {
        let gpu = gpu.unwrap_or_else(|e| panic!("{}: {e}", entry.label()));
        let step = Step::new(&gpu).unwrap();
        let (first, indices, o) = step.run(&gpu).unwrap();
        assert!(
            first.bind_groups > 0,
            "{}: the first recording builds the bind groups",
            entry.label()
        );
        for again in 0..3 {
            let (recorded, indices_again, o_again) = step.run(&gpu).unwrap();
            assert_eq!(
                recorded,
                AllocationCounts {
                    dispatches: first.dispatches,
                    ..AllocationCounts::default()
                },
                "{}: recording {again} again allocated",
                entry.label()
            );
            assert_eq!(indices_again, indices, "{}", entry.label());
            assert_eq!(o_again, o, "{}", entry.label());
        }
        // With the cache emptied, the same step builds exactly its bind groups again.
        gpu.clear_bind_cache();
        let (rebuilt, ..) = step.run(&gpu).unwrap();
        assert_eq!(rebuilt.bind_groups, first.bind_groups, "{}", entry.label());
    }
}
