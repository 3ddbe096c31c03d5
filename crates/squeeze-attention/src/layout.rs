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
///
/// `int4` and `int2` are KIVI's asymmetric formats (B = 4 or 2 bits, L = 2^B − 1): a group's
/// f16 scale s = (max − min) / L and zero point z = min, codes q = round((x − z) / s) in
/// 0 ..= L, x ≈ q·s + z. K is quantized **per channel** over the tokens of a page (a group is
/// one (page, KV head, channel)), V **per token** over groups of 32 channels. The K and V
/// pools hold only full pages; the tokens of a sequence's last page while it is not full (KIVI's
/// residual) stay in f16 in a residual area after the pool, one page per sequence, and are
/// quantized into their pool page by the append that fills it ([`crate::append_kivi`]). Words
/// are u32, little-endian; `kvd` = kv_heads · head_dim, channel i = h · head_dim + c:
///
/// ```text
/// K binding  [ page 0 | page 1 | .. | page P−1 | pad to 16 B | residual ]
///   K page   [ s: f16 × kvd ][ z: f16 × kvd ][ codes: page_size × kvd × B bits ]
///            scale and zero of channel i at half i; the code of (slot t, channel i) at bit
///            B·(n mod 32/B) of word n / (32/B), n = t·kvd + i (int4: 8 channels a word,
///            int2: 16), so the 8 channels a reader loads share one word (int4) or half word.
/// V binding  [ block 0 | block 1 | .. (pages × page_size × kvd / 32 blocks) | pad | residual ]
///   V block  [ s: f16 | z: f16 ][ codes: 32 × B bits ]      32 consecutive channels of a row
///            int4: 20 B (code j at bits 4·(j mod 8) of code word j / 8), int2: 12 B (code j
///            at bits 2·(j mod 16) of code word j / 16); blocks follow the rows of the pool.
/// residual   f16 [sequences, page_size, kv_heads, head_dim] (two per word, the lower first):
///            slot t of sequence b's last page while that page holds fewer than page_size
///            tokens; its pool page is not read until the page fills.
/// ```
///
/// Bytes per token per layer (K + V, all heads), page size P: int4 `kvd·(0.5 + 4/P + 0.625)`,
/// int2 `kvd·(0.25 + 4/P + 0.375)` (f16: `4·kvd`), plus the residual's `4·kvd·P` per sequence.
/// The residual slot of a sequence is its index in the page table: an engine that reorders its
/// batch moves the residual pages with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum KvDtype {
    F32,
    #[default]
    F16,
    Q8_0,
    Q4_0,
    Int4,
    Int2,
}

impl KvDtype {
    pub const ALL: [KvDtype; 6] = [
        KvDtype::F32,
        KvDtype::F16,
        KvDtype::Q8_0,
        KvDtype::Q4_0,
        KvDtype::Int4,
        KvDtype::Int2,
    ];
    /// The names of [`KvDtype::ALL`], in order.
    pub const NAMES: &'static [&'static str] = &["f32", "f16", "q8_0", "q4_0", "int4", "int2"];

    /// The name the CLI and the Python module use.
    pub fn name(self) -> &'static str {
        match self {
            KvDtype::F32 => "f32",
            KvDtype::F16 => "f16",
            KvDtype::Q8_0 => "q8_0",
            KvDtype::Q4_0 => "q4_0",
            KvDtype::Int4 => "int4",
            KvDtype::Int2 => "int2",
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
            KvDtype::Q8_0 | KvDtype::Q4_0 | KvDtype::Int4 | KvDtype::Int2 => None,
        }
    }

    /// Values per block and bytes per block of ggml's block formats (q8_0, q4_0).
    pub fn block(self) -> Option<(u32, u64)> {
        match self {
            KvDtype::F32 | KvDtype::F16 | KvDtype::Int4 | KvDtype::Int2 => None,
            KvDtype::Q8_0 => Some((32, 34)),
            KvDtype::Q4_0 => Some((32, 18)),
        }
    }

    /// Bits per code of KIVI's formats (int4, int2).
    pub fn kivi_bits(self) -> Option<u32> {
        match self {
            KvDtype::Int4 => Some(4),
            KvDtype::Int2 => Some(2),
            _ => None,
        }
    }

    /// Values a group of the format shares along head_dim (32 for the block formats and KIVI's
    /// V groups), which head_dim must be a multiple of.
    pub fn group_values(self) -> Option<u32> {
        match self {
            KvDtype::F32 | KvDtype::F16 => None,
            _ => Some(32),
        }
    }

    /// The `KV_FORMAT` override (0 f32, 1 f16, 2 q8_0, 3 q4_0, 4 int4, 5 int2).
    pub(crate) fn overrides(self) -> [(&'static str, f64); 1] {
        let code = match self {
            KvDtype::F32 => 0.0,
            KvDtype::F16 => 1.0,
            KvDtype::Q8_0 => 2.0,
            KvDtype::Q4_0 => 3.0,
            KvDtype::Int4 => 4.0,
            KvDtype::Int2 => 5.0,
        };
        [("KV_FORMAT", code)]
    }

    /// Bytes of one (token, KV head) row of `head_dim` values (a whole number of blocks for
    /// the block formats; [`CacheLayout::check`] holds head_dim to that). For int4 / int2 the
    /// row of V (its groups of 32 with their scales); K is quantized per page
    /// ([`CacheLayout::pool_data_bytes`]).
    pub fn row_bytes(self, head_dim: u32) -> u64 {
        let d = u64::from(head_dim);
        match self {
            KvDtype::F32 => 4 * d,
            KvDtype::F16 => 2 * d,
            KvDtype::Q8_0 => d / 32 * 34,
            KvDtype::Q4_0 => d / 32 * 18,
            KvDtype::Int4 => d / 32 * 20,
            KvDtype::Int2 => d / 32 * 12,
        }
    }
}

impl std::fmt::Display for KvDtype {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One of the two pools of a cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pool {
    K,
    V,
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
        if let Some(values) = self.dtype.group_values()
            && !self.head_dim.is_multiple_of(values)
        {
            return Err(Error::invalid(
                "head_dim",
                "value",
                format!("a multiple of {values} (whole {} groups)", self.dtype),
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

    /// Bytes each of K and V binds at least: the larger pool's [`CacheLayout::pool_bytes`]
    /// (K and V have the same size except in int4 / int2, whose bindings also hold the residual:
    /// allocate those with [`CacheLayout::binding_bytes`]).
    pub fn bytes(&self) -> u64 {
        self.pool_bytes(Pool::K).max(self.pool_bytes(Pool::V))
    }

    /// Bytes of the larger pool's pages, with no padding.
    pub fn data_bytes(&self) -> u64 {
        self.pool_data_bytes(Pool::K)
            .max(self.pool_data_bytes(Pool::V))
    }

    /// Bytes of one pool's pages, with no padding.
    pub fn pool_data_bytes(&self, pool: Pool) -> u64 {
        let pages = u64::from(self.pages);
        let page_size = u64::from(self.page_size);
        match (self.dtype.kivi_bits(), pool) {
            (Some(bits), Pool::K) => {
                let kvd = u64::from(self.kv_heads) * u64::from(self.head_dim);
                // Scale and zero of each channel, then page_size × kvd codes.
                pages * (4 * kvd + page_size * kvd * u64::from(bits) / 8)
            }
            _ => pages * page_size * self.token_bytes(),
        }
    }

    /// Bytes of one pool as the kernels read it: [`CacheLayout::pool_data_bytes`] rounded up
    /// to whole 16-byte words, since they read it as `array<vec4<u32>>` (only the block
    /// formats can end mid-word). An int4 / int2 residual starts there.
    pub fn pool_bytes(&self, pool: Pool) -> u64 {
        self.pool_data_bytes(pool).next_multiple_of(16)
    }

    /// Bytes of the f16 residual of int4 / int2 (one page per sequence, after each pool); 0
    /// for the other formats.
    pub fn residual_bytes(&self, sequences: u32) -> u64 {
        match self.dtype.kivi_bits() {
            Some(_) => {
                u64::from(sequences)
                    * u64::from(self.page_size)
                    * u64::from(self.kv_heads)
                    * u64::from(self.head_dim)
                    * 2
            }
            None => 0,
        }
    }

    /// Bytes a K or V binding holds for a page table of `sequences` sequences: the pool, and
    /// for int4 / int2 the residual after it.
    pub fn binding_bytes(&self, pool: Pool, sequences: u32) -> u64 {
        self.pool_bytes(pool) + self.residual_bytes(sequences)
    }

    /// Bytes of one token's K (or V) row, all KV heads (V's for int4 / int2, see
    /// [`KvDtype::row_bytes`]).
    pub fn token_bytes(&self) -> u64 {
        u64::from(self.kv_heads) * self.dtype.row_bytes(self.head_dim)
    }

    /// Bytes a token takes in the K and V pools together, all KV heads: what one layer's cache
    /// costs per token (the int4 / int2 residual, a page per sequence, not counted).
    pub fn kv_bytes_per_token(&self) -> f64 {
        let tokens = f64::from(self.pages) * f64::from(self.page_size);
        (self.pool_data_bytes(Pool::K) + self.pool_data_bytes(Pool::V)) as f64 / tokens
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

impl Output<'_> {
    /// Fails unless the dtype is f32 or f16 and `o` can be bound and holds `rows` rows of
    /// `query`'s heads, `[rows, heads, head_dim]`; returns whether it is f16.
    pub fn check(
        &self,
        gpu: &Gpu,
        layout: &CacheLayout,
        query: &Query<'_>,
        rows: u32,
    ) -> Result<bool> {
        let f16 = self.dtype.is_f16("o")?;
        gpu.check_storage_binding("o", &self.o)?;
        gpu.check_binding_holds(
            "o",
            &self.o,
            query.bytes(layout, rows, self.dtype),
            format_args!(
                "[{rows}, {}, {}] {}",
                query.heads, layout.head_dim, self.dtype
            ),
        )?;
        Ok(f16)
    }
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
    /// hold their whole pool (and, for int4 / int2, see [`KvCache::check_residual`]).
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
        for (arg, b, pool) in [("k_pages", &self.k, Pool::K), ("v_pages", &self.v, Pool::V)] {
            gpu.check_storage_binding(arg, b)?;
            gpu.check_binding_holds(arg, b, layout.pool_bytes(pool), what)?;
        }
        Ok(())
    }

    /// Fails unless an int4 / int2 cache's bindings also hold the f16 residual of `sequences`
    /// sequences after their pools, within the kernels' u32 element addressing; nothing to
    /// check for the other formats.
    pub fn check_residual(&self, gpu: &Gpu, layout: &CacheLayout, sequences: u32) -> Result<()> {
        if layout.dtype.kivi_bits().is_none() {
            return Ok(());
        }
        let rows = (u64::from(layout.pages) + u64::from(sequences)) * u64::from(layout.page_size);
        let elements = rows * u64::from(layout.kv_heads) * u64::from(layout.head_dim);
        if elements > u64::from(u32::MAX) {
            return Err(Error::invalid(
                "k_pages",
                "element count with the residual",
                "at most u32::MAX",
                elements,
            ));
        }
        let what = format_args!(
            "the {} pool and an f16 residual [{sequences}, {}, {}, {}]",
            layout.dtype, layout.page_size, layout.kv_heads, layout.head_dim
        );
        for (arg, b, pool) in [("k_pages", &self.k, Pool::K), ("v_pages", &self.v, Pool::V)] {
            gpu.check_binding_holds(arg, b, layout.binding_bytes(pool, sequences), what)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_per_token_of_each_format() {
        // 8 KV heads × d128 in pages of 16 (K + V per token and layer), and int4 / int2 K at
        // pages of 64, where a page's scales cost less per token.
        let layout = |dtype, page_size| CacheLayout {
            pages: 4,
            page_size,
            kv_heads: 8,
            head_dim: 128,
            dtype,
        };
        let per_token: Vec<f64> = KvDtype::ALL
            .iter()
            .map(|&f| layout(f, 16).kv_bytes_per_token())
            .collect();
        assert_eq!(per_token, [8192.0, 4096.0, 2176.0, 1152.0, 1408.0, 896.0]);
        assert_eq!(layout(KvDtype::Int4, 64).kv_bytes_per_token(), 1216.0);
        assert_eq!(layout(KvDtype::Int2, 64).kv_bytes_per_token(), 704.0);
        // The residual: a page of f16 per sequence, after each pool (16-byte aligned).
        let int4 = layout(KvDtype::Int4, 16);
        assert_eq!(int4.residual_bytes(3), 3 * 16 * 1024 * 2);
        assert_eq!(int4.binding_bytes(Pool::K, 1), 4 * 12 * 1024 + 32 * 1024);
        assert_eq!(layout(KvDtype::F16, 16).residual_bytes(3), 0);
    }
}
