//! The CPU definition of KIVI's int4 / int2 cache (laid out as [`KvDtype`] draws it): the
//! group quantizer and dequantizer, the append (what `append_kivi.wgsl` writes, byte for byte)
//! and the values every reader sees.
//!
//! Decisions where KIVI leaves room:
//! - **f16 first.** Values are rounded to f16 (to nearest even) before they are quantized, as
//!   the residual holds them, so a page quantizes to the same bytes whether its tokens came in
//!   one append or one at a time, from f32 or f16 rows.
//! - **Scale and zero.** Over the group's finite values: zero z = min (an f16 already), scale
//!   s = f16((max − min) / L), L = 2^bits − 1. A constant group has s = 0: every code is 0 and
//!   the group reads back as z exactly. A group with no finite value has s = z = 0.
//! - **Codes.** y = (x − z) · (1 / s) (1 / s = 0 when s = 0), rounded half up — ⌊y⌋ + 1 when
//!   y − ⌊y⌋ ≥ ½ —, clamped to 0 ..= L. The codes cannot hold a non-finite value: +inf (and an
//!   f32 beyond f16's range, which rounds to it) saturates to L, −inf and NaN to 0.
//! - **Dequantized** value: f32(q) · s + z in f32 (a GPU may fuse it into one fma: readers are
//!   compared within a tolerance, the bytes exactly).

use half::f16;

use crate::layout::{CacheLayout, KvDtype, Pool};
use crate::pages::PageTable;

/// One quantized group: its scale, zero point and codes (one per value, in order).
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub scale: f16,
    pub zero: f16,
    pub codes: Vec<u8>,
}

/// The value an f32 has once stored in f16 (round to nearest even), as the residual keeps it.
pub fn to_f16(x: f32) -> f32 {
    f16::from_f32(x).to_f32()
}

/// Quantizes `x` (already f16 values, see [`to_f16`]) to `bits`-bit codes.
pub fn quantize(bits: u32, x: &[f32]) -> Group {
    let levels = ((1u32 << bits) - 1) as f32;
    let finite = x.iter().copied().filter(|v| v.is_finite());
    let (min, max) = finite.fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    let (min, max) = if min > max { (0.0, 0.0) } else { (min, max) };
    let zero = f16::from_f32(min);
    let scale = f16::from_f32((max - min) / levels);
    let s = scale.to_f32();
    let id = if s != 0.0 { 1.0 / s } else { 0.0 };
    let z = zero.to_f32();
    let code = |v: f32| -> u8 {
        if v.is_nan() || v == f32::NEG_INFINITY {
            return 0;
        }
        if v == f32::INFINITY {
            return levels as u8;
        }
        let y = (v - z) * id;
        let t = y.floor();
        let r = if y - t >= 0.5 { t + 1.0 } else { t };
        r.clamp(0.0, levels) as u8
    };
    Group {
        scale,
        zero,
        codes: x.iter().map(|&v| code(v)).collect(),
    }
}

/// The value of code `q` of a group with `scale` and `zero`.
pub fn dequantize(scale: f16, zero: f16, q: u8) -> f32 {
    f32::from(q) * scale.to_f32() + zero.to_f32()
}

/// Byte offsets in a K or V binding of an int4 / int2 cache (the twin of `kivi.wgsl`).
#[derive(Debug, Clone, Copy)]
struct Places {
    bits: usize,
    page_size: usize,
    /// kv_heads × head_dim: the channels of a token.
    kvd: usize,
    /// Pool rows (pages × page_size).
    rows: usize,
    k_residual: usize,
    v_residual: usize,
}

impl Places {
    fn new(layout: &CacheLayout) -> Option<Self> {
        let bits = layout.dtype.kivi_bits()? as usize;
        Some(Self {
            bits,
            page_size: layout.page_size as usize,
            kvd: (layout.kv_heads * layout.head_dim) as usize,
            rows: (layout.pages * layout.page_size) as usize,
            k_residual: layout.pool_bytes(Pool::K) as usize,
            v_residual: layout.pool_bytes(Pool::V) as usize,
        })
    }

    /// Bytes of a K page.
    fn k_page(&self) -> usize {
        4 * self.kvd + self.page_size * self.kvd * self.bits / 8
    }

    /// Bytes of a V block (32 values).
    fn v_block(&self) -> usize {
        4 + 4 * self.bits
    }

    /// The residual's f16 of (sequence b, slot t, channel i), from the residual's start.
    fn residual(&self, b: usize, t: usize, i: usize) -> usize {
        ((b * self.page_size + t) * self.kvd + i) * 2
    }
}

fn read_f16(bytes: &[u8], at: usize) -> f16 {
    f16::from_le_bytes([bytes[at], bytes[at + 1]])
}

fn write_f16(bytes: &mut [u8], at: usize, x: f16) {
    bytes[at..at + 2].copy_from_slice(&x.to_le_bytes());
}

/// Code `n` of `bits` bits from bit `n · bits` of `bytes` (little-endian, as u32 words hold it).
fn read_code(bytes: &[u8], bits: usize, n: usize) -> u8 {
    let bit = n * bits;
    (bytes[bit / 8] >> (bit % 8)) & ((1u8 << bits) - 1)
}

fn write_code(bytes: &mut [u8], bits: usize, n: usize, q: u8) {
    let bit = n * bits;
    let mask = ((1u8 << bits) - 1) << (bit % 8);
    bytes[bit / 8] = (bytes[bit / 8] & !mask) | (q << (bit % 8));
}

/// Quantizes one K page from `value(t, i)` (slot t, channel i): each channel over the page's
/// tokens.
fn write_k_page(p: &Places, page: &mut [u8], value: &dyn Fn(usize, usize) -> f32) {
    let codes_at = 4 * p.kvd;
    for i in 0..p.kvd {
        let x: Vec<f32> = (0..p.page_size).map(|t| value(t, i)).collect();
        let g = quantize(p.bits as u32, &x);
        write_f16(page, 2 * i, g.scale);
        write_f16(page, 2 * (p.kvd + i), g.zero);
        for (t, &q) in g.codes.iter().enumerate() {
            write_code(&mut page[codes_at..], p.bits, t * p.kvd + i, q);
        }
    }
}

/// Quantizes one V row (a token's channels) in groups of 32.
fn write_v_row(p: &Places, row: &mut [u8], x: &[f32]) {
    for (block, values) in row.chunks_exact_mut(p.v_block()).zip(x.chunks_exact(32)) {
        let g = quantize(p.bits as u32, values);
        write_f16(block, 0, g.scale);
        write_f16(block, 2, g.zero);
        for (j, &q) in g.codes.iter().enumerate() {
            write_code(&mut block[4..], p.bits, j, q);
        }
    }
}

/// The append of int4 / int2 rows into host copies of the K and V bindings, as the GPU does
/// it (the table already counts the new tokens, FlashInfer's convention): `k_new`, `v_new`
/// `[tokens, kv_heads, head_dim]` grouped by sequence as `append_indptr` says. Each page the
/// append fills is quantized into its pool page from its earlier tokens (in the residual) and
/// its new ones; the new tokens of a page left partial are written to the sequence's residual
/// in f16. Nothing else changes. `None` for the other formats.
pub fn append(
    layout: &CacheLayout,
    table: &PageTable,
    append_indptr: &[u32],
    (k_new, v_new): (&[f32], &[f32]),
    (k, v): (&mut [u8], &mut [u8]),
) -> Option<()> {
    let p = Places::new(layout)?;
    let lens = super::seq_lens(table, layout.page_size);
    let ps = p.page_size;
    for (b, &len) in lens.iter().enumerate() {
        let len = len as usize;
        let first_new = append_indptr[b] as usize;
        let count = (append_indptr[b + 1] - append_indptr[b]) as usize;
        if count == 0 {
            continue;
        }
        let old = len - count;
        let new_row = |pos: usize| first_new + pos - old;
        for lp in old / ps..len.div_ceil(ps) {
            let page_first = lp * ps;
            let filled = len.min(page_first + ps) - page_first;
            let page = table.indices[table.indptr[b] as usize + lp] as usize;
            if page * ps >= p.rows {
                continue;
            }
            if filled < ps {
                // The partial last page: its new tokens into the residual.
                for t in old.max(page_first) - page_first..filled {
                    for i in 0..p.kvd {
                        let at = p.residual(b, t, i);
                        let src = new_row(page_first + t) * p.kvd + i;
                        write_f16(&mut k[p.k_residual..], at, f16::from_f32(k_new[src]));
                        write_f16(&mut v[p.v_residual..], at, f16::from_f32(v_new[src]));
                    }
                }
                continue;
            }
            let k_res = k[p.k_residual..].to_vec();
            let v_res = v[p.v_residual..].to_vec();
            let value = |new: &[f32], res: &[u8], t: usize, i: usize| -> f32 {
                let pos = page_first + t;
                if pos < old {
                    read_f16(res, p.residual(b, t, i)).to_f32()
                } else {
                    to_f16(new[new_row(pos) * p.kvd + i])
                }
            };
            let k_page = &mut k[page * p.k_page()..][..p.k_page()];
            write_k_page(&p, k_page, &|t, i| value(k_new, &k_res, t, i));
            let row_bytes = p.kvd / 32 * p.v_block();
            for t in 0..ps {
                let x: Vec<f32> = (0..p.kvd).map(|i| value(v_new, &v_res, t, i)).collect();
                write_v_row(&p, &mut v[(page * ps + t) * row_bytes..][..row_bytes], &x);
            }
        }
    }
    Some(())
}

/// The K and V bindings (pool and residual, [`CacheLayout::binding_bytes`] for the table's
/// sequences) of a cache whose pool rows hold `k`, `v` (`[pages, page_size, kv_heads,
/// head_dim]` f32): every pool page quantized (pages no sequence uses too), and each
/// sequence's partial last page also in its residual, in f16 — what appending every
/// sequence's tokens leaves, plus the pages it would not write. `None` for the other formats.
pub fn fill(
    layout: &CacheLayout,
    table: &PageTable,
    k: &[f32],
    v: &[f32],
) -> Option<(Vec<u8>, Vec<u8>)> {
    let p = Places::new(layout)?;
    let sequences = table.batch() as u32;
    let mut kb = vec![0u8; layout.binding_bytes(Pool::K, sequences) as usize];
    let mut vb = vec![0u8; layout.binding_bytes(Pool::V, sequences) as usize];
    let row_bytes = p.kvd / 32 * p.v_block();
    for page in 0..layout.pages as usize {
        let first = page * p.page_size * p.kvd;
        let k_page = &mut kb[page * p.k_page()..][..p.k_page()];
        write_k_page(&p, k_page, &|t, i| to_f16(k[first + t * p.kvd + i]));
    }
    for row in 0..p.rows {
        let x: Vec<f32> = v[row * p.kvd..][..p.kvd]
            .iter()
            .map(|&x| to_f16(x))
            .collect();
        write_v_row(&p, &mut vb[row * row_bytes..][..row_bytes], &x);
    }
    let ps = p.page_size;
    for (b, page, held) in partial_pages(table, layout) {
        for t in 0..held {
            for i in 0..p.kvd {
                let src = (page * ps + t) * p.kvd + i;
                let at = p.residual(b, t, i);
                write_f16(&mut kb[p.k_residual..], at, f16::from_f32(k[src]));
                write_f16(&mut vb[p.v_residual..], at, f16::from_f32(v[src]));
            }
        }
    }
    Some((kb, vb))
}

/// The values the readers see in K and V bindings of an int4 / int2 cache, as f32 pools
/// `[pages, page_size, kv_heads, head_dim]`: every pool row dequantized, except the rows of
/// each sequence's partial last page, read from its residual. `None` for the other formats.
pub fn values(
    layout: &CacheLayout,
    table: &PageTable,
    k: &[u8],
    v: &[u8],
) -> Option<(Vec<f32>, Vec<f32>)> {
    let p = Places::new(layout)?;
    let mut kf = vec![0f32; p.rows * p.kvd];
    let mut vf = vec![0f32; p.rows * p.kvd];
    let row_bytes = p.kvd / 32 * p.v_block();
    for row in 0..p.rows {
        let (page, t) = (row / p.page_size, row % p.page_size);
        let k_page = &k[page * p.k_page()..][..p.k_page()];
        for i in 0..p.kvd {
            let q = read_code(&k_page[4 * p.kvd..], p.bits, t * p.kvd + i);
            let (s, z) = (read_f16(k_page, 2 * i), read_f16(k_page, 2 * (p.kvd + i)));
            kf[row * p.kvd + i] = dequantize(s, z, q);
        }
        let v_row = &v[row * row_bytes..][..row_bytes];
        for (g, block) in v_row.chunks_exact(p.v_block()).enumerate() {
            let (s, z) = (read_f16(block, 0), read_f16(block, 2));
            for j in 0..32 {
                let q = read_code(&block[4..], p.bits, j);
                vf[row * p.kvd + 32 * g + j] = dequantize(s, z, q);
            }
        }
    }
    let ps = p.page_size;
    for (b, page, held) in partial_pages(table, layout) {
        for t in 0..held {
            for i in 0..p.kvd {
                let at = p.residual(b, t, i);
                kf[(page * ps + t) * p.kvd + i] = read_f16(&k[p.k_residual..], at).to_f32();
                vf[(page * ps + t) * p.kvd + i] = read_f16(&v[p.v_residual..], at).to_f32();
            }
        }
    }
    Some((kf, vf))
}

/// Compares two K (or V) bindings of an int4 / int2 cache, as `got` (a GPU's) against `want`
/// (the reference's): every byte equal, except codes one step apart in groups whose scale and
/// zero are equal — where a GPU's division, off from IEEE in the last place, can put (x − z) / s
/// on the other side of a rounding boundary. Returns how many codes differ; any other
/// difference (a scale, a zero, a residual value, a code off by more) is an error naming it.
pub fn code_differences(
    layout: &CacheLayout,
    pool: Pool,
    got: &[u8],
    want: &[u8],
) -> Result<usize, String> {
    let p = Places::new(layout).ok_or_else(|| format!("{} is not int4 / int2", layout.dtype))?;
    if got.len() != want.len() {
        return Err(format!("{} bytes, expected {}", got.len(), want.len()));
    }
    let (codes, groups) = match pool {
        // Per K page: the scales and zeros, then the codes.
        Pool::K => (layout.pages as usize * p.k_page(), p.k_page()),
        Pool::V => (p.rows * p.kvd / 32 * p.v_block(), p.v_block()),
    };
    let mut differing = 0;
    for (at, (&g, &w)) in got.iter().zip(want).enumerate() {
        if g == w {
            continue;
        }
        let within = at % groups;
        let is_code = at < codes
            && match pool {
                Pool::K => within >= 4 * p.kvd,
                Pool::V => within >= 4,
            };
        if !is_code {
            return Err(format!(
                "byte {at} (a scale, zero or residual value) is {g}, expected {w}"
            ));
        }
        let per_byte = 8 / p.bits;
        for j in 0..per_byte {
            let code = |b: u8| i32::from((b >> (j * p.bits)) & ((1u8 << p.bits) - 1));
            match (code(g) - code(w)).abs() {
                0 => {}
                1 => differing += 1,
                d => return Err(format!("byte {at}: a code {d} steps from the reference's")),
            }
        }
    }
    Ok(differing)
}

/// What one sequence's K and V rows (`[len, kv_heads, head_dim]` f32, appended in order) read
/// back as from an int4 / int2 cache of `page_size`-token pages: full pages quantized, the
/// partial last page in f16. The CPU forward pass's view of such a cache. `None` for the other
/// formats.
pub fn sequence(
    dtype: KvDtype,
    (page_size, kv_heads, head_dim): (u32, u32, u32),
    k: &[f32],
    v: &[f32],
) -> Option<(Vec<f32>, Vec<f32>)> {
    dtype.kivi_bits()?;
    let kvd = (kv_heads * head_dim) as usize;
    let len = (k.len() / kvd) as u32;
    let (table, pages) = PageTable::contiguous(&[len], page_size);
    let layout = CacheLayout {
        pages: pages.max(1),
        page_size,
        kv_heads,
        head_dim,
        dtype,
    };
    let pool = |x: &[f32]| {
        let mut padded = x.to_vec();
        padded.resize(layout.elements() as usize, 0.0);
        padded
    };
    let (kb, vb) = fill(&layout, &table, &pool(k), &pool(v))?;
    let (mut kf, mut vf) = values(&layout, &table, &kb, &vb)?;
    kf.truncate(k.len());
    vf.truncate(v.len());
    Some((kf, vf))
}

/// Each sequence's partial last page, whose tokens live in its residual: (sequence, pool page,
/// tokens on it), for the sequences whose length is not a whole number of pages.
fn partial_pages(table: &PageTable, layout: &CacheLayout) -> Vec<(usize, usize, usize)> {
    let ps = layout.page_size as usize;
    super::seq_lens(table, layout.page_size)
        .iter()
        .enumerate()
        .filter(|&(_, &len)| !(len as usize).is_multiple_of(ps))
        .map(|(b, &len)| {
            let len = len as usize;
            let page = table.indices[table.indptr[b] as usize + len / ps] as usize;
            (b, page, len % ps)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_round_trip_within_half_a_step() {
        let x: Vec<f32> = (0..32).map(|j| to_f16((j as f32 * 0.37).sin())).collect();
        for bits in [4, 2] {
            let g = quantize(bits, &x);
            let s = g.scale.to_f32();
            let (lo, hi) = x
                .iter()
                .fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
            assert_eq!(g.zero.to_f32(), lo);
            assert!((s - (hi - lo) / ((1 << bits) - 1) as f32).abs() <= s * 1e-3);
            for (&v, &q) in x.iter().zip(&g.codes) {
                assert!(u32::from(q) < 1 << bits);
                assert!((dequantize(g.scale, g.zero, q) - v).abs() <= 0.5 * s * 1.002 + 1e-6);
            }
        }
    }

    #[test]
    fn constant_and_non_finite_groups() {
        // A constant group: scale 0, codes 0, the value back exactly.
        let g = quantize(4, &[0.75; 32]);
        assert_eq!((g.scale.to_f32(), g.zero.to_f32()), (0.0, 0.75));
        assert!(g.codes.iter().all(|&q| q == 0));
        // Non-finite values are left out of min and max and saturate.
        let mut x = vec![1.0f32; 32];
        x[0] = -1.0;
        x[1] = f32::NAN;
        x[2] = f32::INFINITY;
        x[3] = f32::NEG_INFINITY;
        let g = quantize(2, &x);
        assert_eq!(
            (g.zero.to_f32(), g.scale.to_f32()),
            (-1.0, to_f16(2.0 / 3.0))
        );
        assert_eq!(&g.codes[..5], &[0, 0, 3, 0, 3]);
        // Nothing finite: scale and zero 0.
        let g = quantize(4, &[f32::NAN; 32]);
        assert_eq!((g.scale.to_f32(), g.zero.to_f32()), (0.0, 0.0));
        // Ties round up: y = 0.5 → 1 (values 0, 1, 3 in 2 bits: s = 1).
        let g = quantize(2, &[0.0, 0.5, 1.5, 3.0]);
        assert_eq!(g.codes, vec![0, 1, 2, 3]);
    }

    #[test]
    fn code_differences_count_codes_one_step_apart_and_refuse_the_rest() {
        let layout = CacheLayout {
            pages: 2,
            page_size: 4,
            kv_heads: 1,
            head_dim: 64,
            dtype: KvDtype::Int2,
        };
        let (table, _) = PageTable::contiguous(&[6], 4);
        let x: Vec<f32> = (0..layout.elements()).map(|i| (i % 7) as f32).collect();
        let (k, v) = fill(&layout, &table, &x, &x).unwrap();
        assert_eq!(code_differences(&layout, Pool::K, &k, &k), Ok(0));
        let mut off = k.clone();
        // The first code byte of page 0 (after 64 scales and 64 zeros): codes 0..4 of slot 0.
        let first = 4 * 64;
        off[first] ^= 0b01;
        assert_eq!(code_differences(&layout, Pool::K, &off, &k), Ok(1));
        off[0] ^= 1;
        assert!(code_differences(&layout, Pool::K, &off, &k).is_err());
        let mut off = v.clone();
        off[4] = off[4].wrapping_add(2);
        assert!(code_differences(&layout, Pool::V, &off, &v).is_err());
    }

    #[test]
    fn appending_in_pieces_equals_filling_at_once() {
        // Two sequences of 37 and 16 tokens on shuffled pages of 8, appended in pieces (a page
        // filling mid-append, single tokens, exactly one page) give the bytes of `fill` on every
        // page a sequence holds, and `values` reads back the residual for partial pages.
        let layout = CacheLayout {
            pages: 8,
            page_size: 8,
            kv_heads: 2,
            head_dim: 64,
            dtype: KvDtype::Int4,
        };
        let kvd = 128;
        let (mut table, _) = PageTable::contiguous(&[37, 16], 8);
        table.indices = vec![3, 0, 6, 1, 7, 2, 5];
        let n = layout.elements() as usize;
        let draw = |seed: usize| -> Vec<f32> {
            (0..n)
                .map(|i| (((i * 7919 + seed) % 1000) as f32 / 500.0 - 1.0) * 3.0)
                .collect()
        };
        for dtype in [KvDtype::Int4, KvDtype::Int2] {
            let layout = CacheLayout { dtype, ..layout };
            let (k, v) = (draw(1), draw(2));
            let (want_k, want_v) = fill(&layout, &table, &k, &v).unwrap();
            let mut kb = vec![0u8; want_k.len()];
            let mut vb = vec![0u8; want_v.len()];
            let lens = [37u32, 16];
            let mut done = [0u32, 0];
            for piece in [[5u32, 16], [1, 0], [9, 0], [1, 0], [21, 0]] {
                let mut indptr = vec![0u32];
                let (mut kn, mut vn) = (Vec::new(), Vec::new());
                let mut step = table.clone();
                for b in 0..2 {
                    let upto = done[b] + piece[b];
                    for pos in done[b]..upto {
                        let page = table.indices[table.indptr[b] as usize + (pos / 8) as usize];
                        let at = (page * 8 + pos % 8) as usize * kvd;
                        kn.extend_from_slice(&k[at..at + kvd]);
                        vn.extend_from_slice(&v[at..at + kvd]);
                    }
                    indptr.push(indptr[b] + piece[b]);
                    done[b] = upto;
                    let pages = upto.div_ceil(8);
                    step.indptr[b + 1] = step.indptr[b] + pages;
                    step.last_page_len[b] = upto - pages.saturating_sub(1) * 8;
                }
                step.indices = [
                    &table.indices[..done[0].div_ceil(8) as usize],
                    &table.indices[5..5 + done[1].div_ceil(8) as usize],
                ]
                .concat();
                append(&layout, &step, &indptr, (&kn, &vn), (&mut kb, &mut vb)).unwrap();
            }
            assert_eq!(done, lens);
            let (got_k, got_v) = values(&layout, &table, &kb, &vb).unwrap();
            let (fk, fv) = values(&layout, &table, &want_k, &want_v).unwrap();
            for (b, &len) in lens.iter().enumerate() {
                for pos in 0..len {
                    let page = table.indices[table.indptr[b] as usize + (pos / 8) as usize];
                    let at = (page * 8 + pos % 8) as usize * kvd;
                    assert_eq!(got_k[at..at + kvd], fk[at..at + kvd], "{dtype} k {b} {pos}");
                    assert_eq!(got_v[at..at + kvd], fv[at..at + kvd], "{dtype} v {b} {pos}");
                    if pos >= len / 8 * 8 {
                        // The residual: the values in f16.
                        assert_eq!(got_k[at], to_f16(k[at]));
                    }
                }
            }
        }
    }
}
