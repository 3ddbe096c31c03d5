//! The paged KV cache of the one sequence a model runs, owned by the engine: a K and a V pool
//! per layer (in any [`KvDtype`]; int4 / int2 with their one-page f16 residual), and the page
//! table in the engine's own buffers (squeeze's [`DevicePageTable::from_engine`]), planned for
//! the cache's capacity. Before each step the host writes the table for the new length and the
//! pool row of the new token with `queue.write_buffer`; recording a step then allocates
//! nothing.
//!
//! Pages are consecutive (page p of the sequence is pool page p), so position t lives in pool
//! row t.

use squeeze::attention::append::PlacedTokens;
use squeeze::attention::pages::EngineTable;
use squeeze::attention::quest_meta::meta_bytes;
use squeeze::attention::{CacheLayout, DevicePageTable, KvCache, KvDtype, Pool};
use squeeze::{Binding, Error, Gpu, Result, wgpu};

/// Tokens per KV page.
pub const PAGE_SIZE: u32 = 16;

/// What one token's K (or V) is in the cache.
#[derive(Debug, Clone, Copy)]
pub struct KvShape {
    pub kv_heads: u32,
    pub head_dim: u32,
    pub dtype: KvDtype,
}

/// One layer's K and V pools, `[pages, page_size, kv_heads, head_dim]`, and Quest's per-page
/// key bounds when the attention selects by them.
struct Pools {
    k: wgpu::Buffer,
    v: wgpu::Buffer,
    meta: Option<wgpu::Buffer>,
}

/// The cache of every layer and its page table.
pub struct SequenceCache {
    layout: CacheLayout,
    capacity: u32,
    pools: Vec<Pools>,
    indptr: wgpu::Buffer,
    last_page_len: wgpu::Buffer,
    seq_lens: wgpu::Buffer,
    /// u32 [1]: the pool row of the token being appended.
    row: wgpu::Buffer,
    /// u32 [1, 2]: the (sequence, logical page) the appended token lands in, whose Quest
    /// bounds the append recomputes.
    touched: wgpu::Buffer,
    table: DevicePageTable,
}

impl SequenceCache {
    /// A cache of `capacity` tokens of `kv_heads × head_dim` values of `dtype` for `layers`
    /// layers, with Quest's page bounds kept up to date by every append when `quest_meta`.
    pub fn new(
        gpu: &Gpu,
        layers: u32,
        capacity: u32,
        shape: KvShape,
        quest_meta: bool,
    ) -> Result<Self> {
        let KvShape {
            kv_heads,
            head_dim,
            dtype,
        } = shape;
        let layout = CacheLayout {
            pages: capacity.div_ceil(PAGE_SIZE).max(1),
            page_size: PAGE_SIZE,
            kv_heads,
            head_dim,
            dtype,
        };
        layout.check()?;
        let pools = (0..layers)
            .map(|_| {
                Ok(Pools {
                    // One sequence: an int4 / int2 residual of one page after each pool.
                    k: gpu.storage_buffer("k_pages", layout.binding_bytes(Pool::K, 1))?,
                    v: gpu.storage_buffer("v_pages", layout.binding_bytes(Pool::V, 1))?,
                    meta: quest_meta
                        .then(|| gpu.storage_buffer("quest_meta", meta_bytes(&layout)))
                        .transpose()?,
                })
            })
            .collect::<Result<_>>()?;
        let words = |arg, n: u32| gpu.storage_buffer(arg, u64::from(n) * 4);
        let indptr = words("page_indptr", 2)?;
        let indices: Vec<u32> = (0..layout.pages).collect();
        let indices = gpu.upload("page_indices", &indices)?;
        let last_page_len = words("last_page_len", 1)?;
        let seq_lens = words("seq_lens", 1)?;
        let table = DevicePageTable::from_engine(
            gpu,
            layout,
            &EngineTable {
                batch: 1,
                capacity,
                indptr: Binding::whole(&indptr),
                indices: Binding::whole(&indices),
                last_page_len: Binding::whole(&last_page_len),
                seq_lens: Binding::whole(&seq_lens),
            },
        )?;
        Ok(Self {
            layout,
            capacity,
            pools,
            indptr,
            last_page_len,
            seq_lens,
            row: words("append_row", 1)?,
            touched: words("touched_page", 2)?,
            table,
        })
    }

    pub fn layout(&self) -> &CacheLayout {
        &self.layout
    }

    pub fn capacity(&self) -> u32 {
        self.capacity
    }

    /// The table the kernels read (planned for the capacity).
    pub fn table(&self) -> &DevicePageTable {
        &self.table
    }

    /// Writes the table for a sequence of `len` tokens whose last token is being appended.
    pub fn grow_to(&self, queue: &wgpu::Queue, len: u32) -> Result<()> {
        if len == 0 || len > self.capacity {
            return Err(Error::invalid(
                "tokens",
                "count",
                format!("1 ..= the cache capacity {}", self.capacity),
                len,
            ));
        }
        let pages = len.div_ceil(PAGE_SIZE);
        let last = len - (pages - 1) * PAGE_SIZE;
        queue.write_buffer(&self.indptr, 0, bytemuck::cast_slice(&[0, pages]));
        queue.write_buffer(&self.last_page_len, 0, bytemuck::bytes_of(&last));
        queue.write_buffer(&self.seq_lens, 0, bytemuck::bytes_of(&len));
        // Consecutive pages: position len − 1 is pool row len − 1.
        queue.write_buffer(&self.row, 0, bytemuck::bytes_of(&(len - 1)));
        queue.write_buffer(&self.touched, 0, bytemuck::cast_slice(&[0, pages - 1]));
        Ok(())
    }

    /// Layer `layer`'s pools.
    pub fn kv(&self, layer: usize) -> Option<KvCache<'_>> {
        self.pools.get(layer).map(|p| KvCache {
            k: Binding::whole(&p.k),
            v: Binding::whole(&p.v),
            meta: p.meta.as_ref().map(Binding::whole),
        })
    }

    /// The append of one token whose K and V are in `k`, `v` (in the cache's format), at the
    /// row [`Self::grow_to`] wrote.
    pub fn placed<'a>(&'a self, k: &'a wgpu::Buffer, v: &'a wgpu::Buffer) -> PlacedTokens<'a> {
        PlacedTokens {
            tokens: 1,
            rows: Binding::whole(&self.row),
            k: Binding::whole(k),
            v: Binding::whole(v),
            touched: Some((Binding::whole(&self.touched), 1)),
        }
    }
}
