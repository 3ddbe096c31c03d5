//! The shapes attention works on: the paged KV cache's layout and the query heads.

use squeeze_core::{Binding, DType, Error, Gpu, Result};

/// Head dimensions the kernels are built for.
pub const HEAD_DIMS: [u32; 3] = [64, 128, 256];
/// Most query heads per KV head (GQA group) one decode workgroup serves.
pub const MAX_GROUP: u32 = 32;
/// Most query heads × head dimensions one decode workgroup accumulates (8 KiB of f32).
pub const MAX_GROUP_DIM: u32 = 2048;

/// Element type of K and V in the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KvDtype {
    F32,
    #[default]
    F16,
}

impl KvDtype {
    pub fn dtype(self) -> DType {
        match self {
            KvDtype::F32 => DType::F32,
            KvDtype::F16 => DType::F16,
        }
    }

    /// The `KV_F16` override.
    pub(crate) fn overrides(self) -> [(&'static str, f64); 1] {
        [("KV_F16", f64::from(u8::from(self == KvDtype::F16)))]
    }

    /// Bytes per element.
    pub fn size(self) -> u64 {
        self.dtype().size() as u64
    }
}

/// K and V, each `[pages, page_size, kv_heads, head_dim]` of `dtype`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheLayout {
    pub pages: u32,
    pub page_size: u32,
    pub kv_heads: u32,
    pub head_dim: u32,
    pub dtype: KvDtype,
}

impl CacheLayout {
    /// Fails unless the head dimension is one the kernels are built for and every count is
    /// positive, with the pool's element count within u32 (the kernels' addressing).
    pub fn check(&self) -> Result<()> {
        if !HEAD_DIMS.contains(&self.head_dim) {
            return Err(Error::invalid(
                "head_dim",
                "value",
                "64, 128 or 256",
                self.head_dim,
            ));
        }
        if self.page_size == 0 {
            return Err(Error::invalid("page_size", "value", "≥ 1", 0));
        }
        if self.kv_heads == 0 {
            return Err(Error::invalid("kv_heads", "value", "≥ 1", 0));
        }
        let elements = self.elements();
        if elements > u64::from(u32::MAX) {
            return Err(Error::invalid(
                "k_pages",
                "element count",
                "at most u32::MAX",
                elements,
            ));
        }
        Ok(())
    }

    /// Elements of K (or V).
    pub fn elements(&self) -> u64 {
        u64::from(self.pages)
            * u64::from(self.page_size)
            * u64::from(self.kv_heads)
            * u64::from(self.head_dim)
    }

    /// Bytes of K (or V).
    pub fn bytes(&self) -> u64 {
        self.elements() * self.dtype.size()
    }

    /// Bytes of one token's K (or V) row, all KV heads.
    pub fn token_bytes(&self) -> u64 {
        u64::from(self.kv_heads) * u64::from(self.head_dim) * self.dtype.size()
    }

    /// Fails unless `q_heads` is a whole positive number of KV groups the decode kernel serves.
    pub fn check_q_heads(&self, q_heads: u32) -> Result<u32> {
        if q_heads == 0 || !q_heads.is_multiple_of(self.kv_heads) {
            return Err(Error::invalid(
                "q_heads",
                "value",
                format!("a positive multiple of kv_heads = {}", self.kv_heads),
                q_heads,
            ));
        }
        let group = q_heads / self.kv_heads;
        let limit = MAX_GROUP.min(MAX_GROUP_DIM / self.head_dim);
        if group > limit {
            return Err(Error::invalid(
                "q_heads",
                "query heads per KV head",
                format!("at most {limit} at head_dim {}", self.head_dim),
                group,
            ));
        }
        Ok(group)
    }
}

/// The query tokens of a decode step: `[batch, heads, head_dim]` in `dtype` (f32, or f16 two
/// per word), and the softmax scale (usually 1/√head_dim).
#[derive(Debug, Clone, Copy)]
pub struct Query<'a> {
    pub q: Binding<'a>,
    pub heads: u32,
    pub scale: f32,
    pub dtype: DType,
}

/// Where a decode writes its output `[batch, q_heads, head_dim]`: f32, or f16 two per word
/// (rounded to nearest even). A plain [`Binding`] is f32.
#[derive(Debug, Clone, Copy)]
pub struct Output<'a> {
    pub o: Binding<'a>,
    pub dtype: DType,
}

impl<'a> From<Binding<'a>> for Output<'a> {
    fn from(o: Binding<'a>) -> Self {
        Self {
            o,
            dtype: DType::F32,
        }
    }
}

impl Query<'_> {
    /// Fails unless the heads suit `layout` (see [`CacheLayout::check_q_heads`]), `q` holds
    /// `batch` rows and the scale is finite.
    pub fn check(&self, gpu: &Gpu, layout: &CacheLayout, batch: u32) -> Result<()> {
        layout.check_q_heads(self.heads)?;
        self.dtype.is_f16("q")?;
        gpu.check_storage_binding("q", &self.q)?;
        gpu.check_binding_holds(
            "q",
            &self.q,
            self.bytes(layout, batch, self.dtype),
            format_args!(
                "[{batch}, {}, {}] {}",
                self.heads, layout.head_dim, self.dtype
            ),
        )?;
        if !self.scale.is_finite() {
            return Err(Error::invalid("scale", "value", "finite", self.scale));
        }
        Ok(())
    }

    /// Bytes of a `[batch, heads, head_dim]` tensor of `dtype`: `q`, or the decode output.
    pub fn bytes(&self, layout: &CacheLayout, batch: u32, dtype: DType) -> u64 {
        u64::from(batch) * u64::from(self.heads) * u64::from(layout.head_dim) * dtype.size() as u64
    }
}

/// The device's K and V of a [`CacheLayout`], and Quest's page metadata where the engine keeps
/// it ([`crate::quest_meta`]; appends update it, Quest selection reads it).
#[derive(Debug, Clone, Copy)]
pub struct KvCache<'a> {
    pub k: Binding<'a>,
    pub v: Binding<'a>,
    pub meta: Option<Binding<'a>>,
}

impl KvCache<'_> {
    /// Fails unless the cache is in the `kernel`'s format and both bindings can be bound and
    /// hold the whole pool.
    pub fn check(&self, gpu: &Gpu, layout: &CacheLayout, kernel: KvDtype) -> Result<()> {
        if layout.dtype != kernel {
            return Err(Error::invalid(
                "k_pages",
                "dtype",
                format!("{} (the kernel's)", kernel.dtype()),
                layout.dtype.dtype(),
            ));
        }
        let what = format_args!(
            "[{}, {}, {}, {}] {}",
            layout.pages,
            layout.page_size,
            layout.kv_heads,
            layout.head_dim,
            layout.dtype.dtype()
        );
        for (arg, b) in [("k_pages", &self.k), ("v_pages", &self.v)] {
            gpu.check_storage_binding(arg, b)?;
            gpu.check_binding_holds(arg, b, layout.bytes(), what)?;
        }
        Ok(())
    }
}
