//! Conveniences for tests, benchmarks and the CLI: upload host tensors, run one kernel or step
//! in one submit, read the results back.

use half::f16;
use squeeze_core::{Binding, DType, Error, Gpu, Result};

use crate::append::{Append, NewTokens};
use crate::decode::{Decode, DecodeArgs, DecodePath, HeadPolicy, Tokens};
use crate::layout::{CacheLayout, KvCache, KvDtype, Pool, Query};
use crate::pages::{DevicePageTable, PageTable};
use crate::quest_meta::{QuestMeta, all_pages, meta_bytes};
use crate::select::{Budget, Selector};
use crate::sparse::{Sparse, SparseWorkspace};

/// K and V pools on the host, `[pages, page_size, kv_heads, head_dim]` each: f32 or f16
/// values, or the bytes of a quantized format as [`KvDtype`] lays them out (q8_0 / q4_0: the
/// pool's blocks; int4 / int2: the whole binding, pool and residual, as
/// [`crate::reference::kivi::fill`] makes it).
#[derive(Debug, Clone, Copy)]
pub enum HostKv<'a> {
    F32 {
        k: &'a [f32],
        v: &'a [f32],
    },
    F16 {
        k: &'a [f16],
        v: &'a [f16],
    },
    Blocks {
        dtype: KvDtype,
        k: &'a [u8],
        v: &'a [u8],
    },
}

impl HostKv<'_> {
    pub fn dtype(&self) -> KvDtype {
        match self {
            HostKv::F32 { .. } => KvDtype::F32,
            HostKv::F16 { .. } => KvDtype::F16,
            HostKv::Blocks { dtype, .. } => *dtype,
        }
    }

    /// Bytes of K and of V.
    fn bytes(&self) -> (u64, u64) {
        let bytes = |n: usize, size: usize| (n * size) as u64;
        match self {
            HostKv::F32 { k, v } => (bytes(k.len(), 4), bytes(v.len(), 4)),
            HostKv::F16 { k, v } => (bytes(k.len(), 2), bytes(v.len(), 2)),
            HostKv::Blocks { k, v, .. } => (bytes(k.len(), 1), bytes(v.len(), 1)),
        }
    }
}

/// A KV pool, a page table and queries on the device.
pub struct Uploaded {
    pub table: DevicePageTable,
    pub k: squeeze_core::wgpu::Buffer,
    pub v: squeeze_core::wgpu::Buffer,
    pub q: squeeze_core::wgpu::Buffer,
    pub q_heads: u32,
    /// Quest metadata kept by the append that filled the cache ([`Uploaded::appended`]); else
    /// [`run_sparse`] builds it from the cache.
    pub meta: Option<squeeze_core::wgpu::Buffer>,
}

/// Every sequence's tokens of a `[pages, page_size, row]` pool, in order: the rows an append
/// of the whole sequences takes.
fn gather<T: Copy>(pool: &[T], table: &PageTable, page_size: u32, row: usize) -> Vec<T> {
    let lens = crate::reference::seq_lens(table, page_size);
    let mut rows = Vec::with_capacity(lens.iter().sum::<u32>() as usize * row);
    for (b, &len) in lens.iter().enumerate() {
        for pos in 0..len {
            let page = table.indices[table.indptr[b] as usize + (pos / page_size) as usize];
            let at = (page * page_size + pos % page_size) as usize * row;
            rows.extend_from_slice(&pool[at..at + row]);
        }
    }
    rows
}

impl Uploaded {
    /// Checks every host tensor against `layout` and `table` and uploads them.
    pub fn new(
        gpu: &Gpu,
        layout: CacheLayout,
        table: &PageTable,
        kv: HostKv<'_>,
        q: &[f32],
        q_heads: u32,
    ) -> Result<Self> {
        if kv.dtype() != layout.dtype {
            return Err(Error::invalid("k_pages", "dtype", layout.dtype, kv.dtype()));
        }
        let table = DevicePageTable::new(gpu, layout, table)?;
        layout.check_q_heads(q_heads)?;
        let sequences = table.batch();
        // A block format's pages; an int4 / int2 binding's pool and residual.
        let want = |pool| match layout.dtype.kivi_bits() {
            Some(_) => layout.binding_bytes(pool, sequences),
            None => layout.data_bytes(),
        };
        let given = kv.bytes();
        for (arg, len, pool) in [("k_pages", given.0, Pool::K), ("v_pages", given.1, Pool::V)] {
            if len != want(pool) {
                return Err(Error::invalid(
                    arg,
                    "bytes",
                    format!("the {} pool's {}", layout.dtype, want(pool)),
                    len,
                ));
            }
        }
        let q_len = table.batch() as usize * q_heads as usize * layout.head_dim as usize;
        if q.len() != q_len {
            return Err(Error::invalid(
                "q",
                "elements",
                format!("batch × q_heads × head_dim = {q_len}"),
                q.len(),
            ));
        }
        let (k, v) = match kv {
            HostKv::F32 { k, v } => (gpu.upload("k_pages", k)?, gpu.upload("v_pages", v)?),
            HostKv::F16 { k, v } => (gpu.upload("k_pages", k)?, gpu.upload("v_pages", v)?),
            HostKv::Blocks { k, v, .. } => {
                // Padded to the whole 16-byte words the kernels bind.
                let pad = |x: &[u8], pool| {
                    let mut padded = x.to_vec();
                    padded.resize(layout.binding_bytes(pool, sequences) as usize, 0);
                    padded
                };
                (
                    gpu.upload("k_pages", &pad(k, Pool::K))?,
                    gpu.upload("v_pages", &pad(v, Pool::V))?,
                )
            }
        };
        Ok(Self {
            table,
            k,
            v,
            q: gpu.upload("q", q)?,
            q_heads,
            meta: None,
        })
    }

    /// Fills a cache of `layout` (any format) on the GPU from f32 or f16 pools `kv` laid out
    /// as `layout` with `kv`'s dtype: every sequence's tokens appended in order, converted or
    /// quantized by [`Append`], which also keeps Quest's metadata (of the unquantized keys, for
    /// the block formats). Pool rows no sequence holds stay zero.
    pub fn appended(
        gpu: &Gpu,
        layout: CacheLayout,
        table: &PageTable,
        kv: HostKv<'_>,
        q: &[f32],
        q_heads: u32,
    ) -> Result<Self> {
        let input = match kv.dtype().plain() {
            Some(dtype) => dtype,
            None => {
                return Err(Error::invalid(
                    "k_pages",
                    "dtype",
                    "f32 | f16 (values to store)",
                    kv.dtype(),
                ));
            }
        };
        let source = CacheLayout {
            dtype: kv.dtype(),
            ..layout
        };
        let staged = Self::new(gpu, source, table, kv, q, q_heads)?;
        layout.check()?;
        let row = (layout.kv_heads * layout.head_dim) as usize;
        let (k_rows, v_rows) = match kv {
            HostKv::F32 { k, v } => (
                bytemuck::cast_slice::<_, u8>(&gather(k, table, layout.page_size, row)).to_vec(),
                bytemuck::cast_slice::<_, u8>(&gather(v, table, layout.page_size, row)).to_vec(),
            ),
            HostKv::F16 { k, v } => (
                bytemuck::cast_slice::<_, u8>(&gather(k, table, layout.page_size, row)).to_vec(),
                bytemuck::cast_slice::<_, u8>(&gather(v, table, layout.page_size, row)).to_vec(),
            ),
            HostKv::Blocks { .. } => (Vec::<u8>::new(), Vec::new()),
        };
        let device_table = DevicePageTable::new(gpu, layout, table)?;
        let sequences = device_table.batch();
        let k = gpu.storage_buffer("k_pages", layout.binding_bytes(Pool::K, sequences))?;
        let v = gpu.storage_buffer("v_pages", layout.binding_bytes(Pool::V, sequences))?;
        let meta = gpu.storage_buffer("meta", meta_bytes(&layout))?;
        let mut indptr = vec![0u32];
        for len in crate::reference::seq_lens(table, layout.page_size) {
            indptr.push(indptr[indptr.len() - 1] + len);
        }
        if !k_rows.is_empty() {
            let (k_new, v_new) = (gpu.upload("k_new", &k_rows)?, gpu.upload("v_new", &v_rows)?);
            let bytes = k_rows.len() as u64;
            let mut encoder = gpu.encoder("fill the cache");
            Append::with_input(gpu, layout.dtype, input)?.encode(
                &mut encoder,
                &device_table,
                &NewTokens {
                    append_indptr: &indptr,
                    k: Binding::new(&k_new, 0, bytes),
                    v: Binding::new(&v_new, 0, bytes),
                },
                &KvCache {
                    k: Binding::whole(&k),
                    v: Binding::whole(&v),
                    meta: Some(Binding::whole(&meta)),
                },
            )?;
            gpu.submit_and_wait(encoder)?;
        }
        Ok(Self {
            table: device_table,
            k,
            v,
            meta: Some(meta),
            ..staged
        })
    }

    /// K and V, with `meta` as the cache's Quest metadata.
    pub fn kv<'a>(&'a self, meta: Option<&'a squeeze_core::wgpu::Buffer>) -> KvCache<'a> {
        KvCache {
            k: Binding::whole(&self.k),
            v: Binding::whole(&self.v),
            meta: meta.map(Binding::whole),
        }
    }

    pub fn query(&self, scale: f32) -> Query<'_> {
        Query {
            q: Binding::whole(&self.q),
            heads: self.q_heads,
            scale,
            dtype: DType::F32,
        }
    }

    /// Elements of the attention output (and of `q`): `batch × q_heads × head_dim`.
    pub fn out_len(&self) -> usize {
        self.table.batch() as usize * self.q_heads as usize * self.table.layout().head_dim as usize
    }
}

/// Decode on `path` with one policy per KV head; returns `o` `[batch, q_heads, head_dim]`.
pub fn run_decode(
    gpu: &Gpu,
    data: &Uploaded,
    scale: f32,
    policy: &[HeadPolicy],
    path: DecodePath,
) -> Result<Vec<f32>> {
    let decode = Decode::with_path(gpu, data.table.layout().dtype, path)?;
    let tokens = Tokens::Policy(policy);
    let scratch = gpu.storage_buffer(
        "scratch",
        decode.scratch_bytes(&data.table, data.q_heads, &tokens),
    )?;
    let out = gpu.storage_buffer("o", data.out_len() as u64 * 4)?;
    let mut encoder = gpu.encoder("attention decode");
    decode.encode(
        &mut encoder,
        &DecodeArgs {
            table: &data.table,
            kv: &data.kv(None),
            query: &data.query(scale),
            tokens: &tokens,
            scratch: Binding::whole(&scratch),
            out: Binding::whole(&out).into(),
        },
    )?;
    gpu.submit_and_wait(encoder)?;
    gpu.read_back("o", &out, 0, data.out_len())
}

/// What a sparse run gives back.
#[derive(Debug, Clone, PartialEq)]
pub struct SparseResult {
    /// `[batch, q_heads, head_dim]`.
    pub o: Vec<f32>,
    /// `[batch, kv_heads, k]` page or token indices, best first, −1 for none.
    pub selected: Vec<i32>,
    /// Entries per row.
    pub k: u32,
    /// Tokens per entry.
    pub unit: u32,
}

/// A whole sparse step (Quest metadata built first from every page, for Quest) in one submit,
/// its decode on `path`.
pub fn run_sparse(
    gpu: &Gpu,
    data: &Uploaded,
    scale: f32,
    selector: Selector,
    budget: Budget,
    path: DecodePath,
) -> Result<SparseResult> {
    let sparse = Sparse::with_path(gpu, data.table.layout().dtype, path)?;
    let workspace = sparse.workspace(&data.table, data.q_heads, selector, budget)?;
    run_sparse_in(gpu, data, scale, &sparse, &workspace)
}

/// [`run_sparse`] with a kernel and workspace the caller keeps across steps.
pub fn run_sparse_in(
    gpu: &Gpu,
    data: &Uploaded,
    scale: f32,
    sparse: &Sparse,
    workspace: &SparseWorkspace,
) -> Result<SparseResult> {
    let layout = *data.table.layout();
    let mut encoder = gpu.encoder("sparse step");
    let built;
    let meta = match (workspace.plan().selector, &data.meta) {
        (Selector::Quest, Some(kept)) => Some(kept),
        (Selector::Quest, None) => {
            let meta = gpu.storage_buffer("meta", meta_bytes(&layout))?;
            QuestMeta::new(gpu, layout.dtype)?.encode(
                &mut encoder,
                &data.table,
                Binding::whole(&data.k),
                &all_pages(&data.table)?,
                Binding::whole(&meta),
            )?;
            built = meta;
            Some(&built)
        }
        _ => None,
    };
    let out = gpu.storage_buffer("o", data.out_len() as u64 * 4)?;
    sparse.encode(
        &mut encoder,
        &data.table,
        &data.kv(meta),
        &data.query(scale),
        workspace,
        Binding::whole(&out),
    )?;
    gpu.submit_and_wait(encoder)?;
    let plan = workspace.plan();
    Ok(SparseResult {
        o: gpu.read_back("o", &out, 0, data.out_len())?,
        selected: gpu.read_back(
            "selected",
            workspace.selected().buffer,
            0,
            (plan.rows * plan.k) as usize,
        )?,
        k: plan.k,
        unit: plan.unit,
    })
}
