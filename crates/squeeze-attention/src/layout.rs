//! The shapes attention works on: the paged KV cache's layout and the query heads.

use squeeze_core::{Binding, DType, Error, Gpu, Result};

/// Head dimensions the kernels are built for.
pub const HEAD_DIMS: [u32; 3] = [64, 128, 256];
/// Most query heads per KV head (GQA group) one decode workgroup serves.
pub const MAX_GROUP: u32 = 32;
/// Most query heads × head dimensions one decode workgroup accumulates (8 KiB of f32).
pub const MAX_GROUP_DIM: u32 = 2048;

/// The format of K and V in the cache, per (token, KV head) row of `head_dim` values:
///
/// ```text
/// f32    4 B / value   [x0: f32][x1: f32] ..                  little-endian
/// f16    2 B / value   [x0: f16][x1: f16] ..                  (two per u32 word, x0 low)
/// q8_0  34 B / 32 v    [d: f16][q0 .. q31: i8]                x = d·q
/// q4_0  18 B / 32 v    [d: f16][b0 .. b15: u8]                x = d·(q − 8)
///        4-bit q: value j < 16 is the low nibble of b_j, value j + 16 its high nibble.
/// ```
///
/// q8_0 and q4_0 are ggml's `block_q8_0` / `block_q4_0` byte for byte (`ggml-common.h`), in
/// blocks of 32 consecutive values along head_dim, so a row is `head_dim / 32` blocks and the
/// pool `[pages, page_size, kv_heads, head_dim / 32]` blocks with no padding (block b starts at
/// byte 34·b or 18·b: blocks are 2-byte aligned, not 4). Appends quantize as ggml's
/// `quantize_row_q8_0_ref` / `quantize_row_q4_0_ref` do ([`crate::reference::quantize_row`]);
/// the kernels dequantize in registers as they read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum KvDtype {
    F32,
    #[default]
    F16,
    Q8_0,
    Q4_0,
}

impl KvDtype {
    pub const ALL: [KvDtype; 4] = [KvDtype::F32, KvDtype::F16, KvDtype::Q8_0, KvDtype::Q4_0];
    /// The names of [`KvDtype::ALL`], in order.
    pub const NAMES: &'static [&'static str] = &["f32", "f16", "q8_0", "q4_0"];

    /// The name the CLI and the Python module use.
    pub fn name(self) -> &'static str {
        match self {
            KvDtype::F32 => "f32",
            KvDtype::F16 => "f16",
            KvDtype::Q8_0 => "q8_0",
            KvDtype::Q4_0 => "q4_0",
        }
    }

    /// The format of a name from [`KvDtype::name`].
    pub fn parse(name: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|f| f.name() == name)
            .ok_or_else(|| Error::invalid("kv", "cache format", Self::NAMES.join(" | "), name))
    }

    /// The element type of an unquantized cache (f32 or f16); `None` for the block formats.
    pub fn plain(self) -> Option<DType> {
        match self {
            KvDtype::F32 => Some(DType::F32),
            KvDtype::F16 => Some(DType::F16),
            KvDtype::Q8_0 | KvDtype::Q4_0 => None,
        }
    }

    /// Values per block and bytes per block of the block formats.
    pub fn block(self) -> Option<(u32, u64)> {
        match self {
            KvDtype::F32 | KvDtype::F16 => None,
            KvDtype::Q8_0 => Some((32, 34)),
            KvDtype::Q4_0 => Some((32, 18)),
        }
    }

    /// The `KV_FORMAT` override (0 f32, 1 f16, 2 q8_0, 3 q4_0).
    pub(crate) fn overrides(self) -> [(&'static str, f64); 1] {
        let code = match self {
            KvDtype::F32 => 0.0,
            KvDtype::F16 => 1.0,
            KvDtype::Q8_0 => 2.0,
            KvDtype::Q4_0 => 3.0,
        };
        [("KV_FORMAT", code)]
    }

    /// Bytes of one (token, KV head) row of `head_dim` values (a whole number of blocks for
    /// the block formats; [`CacheLayout::check`] holds head_dim to that).
    pub fn row_bytes(self, head_dim: u32) -> u64 {
        let d = u64::from(head_dim);
        match self {
            KvDtype::F32 => 4 * d,
            KvDtype::F16 => 2 * d,
            KvDtype::Q8_0 => d / 32 * 34,
            KvDtype::Q4_0 => d / 32 * 18,
        }
    }
}

impl std::fmt::Display for KvDtype {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
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
        if let Some((values, _)) = self.dtype.block()
            && !self.head_dim.is_multiple_of(values)
        {
            return Err(Error::invalid(
                "head_dim",
                "value",
                format!("a multiple of {values} (whole {} blocks)", self.dtype),
                self.head_dim,
            ));
        }
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

    /// Bytes of K (or V) the kernels bind: [`CacheLayout::data_bytes`] rounded up to whole
    /// 16-byte words, since they read the pool as `array<vec4<u32>>` (only the block formats
    /// can end mid-word).
    pub fn bytes(&self) -> u64 {
        self.data_bytes().next_multiple_of(16)
    }

    /// Bytes of K (or V)'s rows, with no padding.
    pub fn data_bytes(&self) -> u64 {
        u64::from(self.pages) * u64::from(self.page_size) * self.token_bytes()
    }

    /// Bytes of one token's K (or V) row, all KV heads.
    pub fn token_bytes(&self) -> u64 {
        u64::from(self.kv_heads) * self.dtype.row_bytes(self.head_dim)
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
                format!("{kernel} (the kernel's)"),
                layout.dtype,
            ));
        }
        let what = format_args!(
            "[{}, {}, {}, {}] {}",
            layout.pages, layout.page_size, layout.kv_heads, layout.head_dim, layout.dtype
        );
        for (arg, b) in [("k_pages", &self.k), ("v_pages", &self.v)] {
            gpu.check_storage_binding(arg, b)?;
            gpu.check_binding_holds(arg, b, layout.bytes(), what)?;
        }
        Ok(())
    }
}
