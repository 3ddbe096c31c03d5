//! CPU references for every attention kernel and selection policy, written plainly. Decode and
//! token logits accumulate in f64; Quest's page scores and the votes follow the GPU's f32
//! operation order, so that selections made from them can be compared index for index.

use squeeze_core::Result;
use squeeze_topk::Order;
use squeeze_topk::reference::top_k;

use crate::decode::HeadPolicy;
use half::f16;

use crate::layout::{CacheLayout, KvDtype};
use crate::pages::PageTable;

pub mod kivi;

/// A KV pool on the host, as f32 values (an f16 cache widened exactly).
#[derive(Debug, Clone, Copy)]
pub struct HostCache<'a> {
    pub layout: CacheLayout,
    pub k: &'a [f32],
    pub v: &'a [f32],
}

/// ggml's `quantize_row_q8_0_ref` / `quantize_row_q4_0_ref` on `x` (a whole number of 32-value
/// blocks), for a q8_0 or q4_0 cache (`None` for f32 / f16): the bytes append.wgsl writes.
/// Where C leaves it undefined, as x86 does: a NaN code is 0, codes are clamped to i8 (q8_0) or
/// 0..=15 (q4_0). ggml's `MAX(amax, |x|)` lets a NaN win only as a block's last value; q4_0's
/// `amax < |x|` never takes one.
pub fn quantize_row(dtype: KvDtype, x: &[f32]) -> Option<Vec<u8>> {
    let (_, bytes) = dtype.block()?;
    let mut out = Vec::with_capacity(x.len() / 32 * bytes as usize);
    let inverse = |d: f32| if d != 0.0 { 1.0 / d } else { 0.0 };
    for block in x.chunks_exact(32) {
        if dtype == KvDtype::Q8_0 {
            let amax = block
                .iter()
                .fold(0f32, |m, v| if m > v.abs() { m } else { v.abs() });
            let d = amax / 127.0;
            let id = inverse(d);
            out.extend_from_slice(&f16::from_f32(d).to_le_bytes());
            // `as i8` saturates and sends NaN to 0.
            out.extend(block.iter().map(|v| (v * id).round() as i8 as u8));
        } else {
            let (mut amax, mut max) = (0f32, 0f32);
            for &v in block {
                if amax < v.abs() {
                    amax = v.abs();
                    max = v;
                }
            }
            let d = max / -8.0;
            let id = inverse(d);
            out.extend_from_slice(&f16::from_f32(d).to_le_bytes());
            let code = |v: f32| ((v * id + 8.5) as i8).clamp(0, 15) as u8;
            out.extend((0..16).map(|j| code(block[j]) | (code(block[j + 16]) << 4)));
        }
    }
    Some(out)
}

/// The values of q8_0 / q4_0 blocks (`None` for f32 / f16): f32(q) · d, as ggml's
/// `dequantize_row_q8_0` / `q4_0` and the kernels compute them.
pub fn dequantize_row(dtype: KvDtype, bytes: &[u8]) -> Option<Vec<f32>> {
    let (_, size) = dtype.block()?;
    let mut out = Vec::with_capacity(bytes.len() / size as usize * 32);
    for block in bytes.chunks_exact(size as usize) {
        let d = f16::from_le_bytes([block[0], block[1]]).to_f32();
        let codes = &block[2..];
        if dtype == KvDtype::Q8_0 {
            out.extend(codes.iter().map(|&q| f32::from(q as i8) * d));
        } else {
            out.extend(codes.iter().map(|&b| f32::from(i16::from(b & 15) - 8) * d));
            out.extend(codes.iter().map(|&b| f32::from(i16::from(b >> 4) - 8) * d));
        }
    }
    Some(out)
}

/// Query heads per KV head.
fn group(layout: &CacheLayout, q_heads: u32) -> usize {
    (q_heads / layout.kv_heads) as usize
}

/// Each sequence's length in tokens (the table is assumed valid).
pub fn seq_lens(table: &PageTable, page_size: u32) -> Vec<u32> {
    (0..table.batch())
        .map(|b| {
            let pages = table.indptr[b + 1] - table.indptr[b];
            pages.saturating_sub(1) * page_size + table.last_page_len[b]
        })
        .collect()
}

/// First element of KV head `h` of token `pos` of sequence `b` in the pool.
pub fn element(layout: &CacheLayout, table: &PageTable, b: usize, pos: u32, h: usize) -> usize {
    let page = table.indices[table.indptr[b] as usize + (pos / layout.page_size) as usize];
    let row = page as usize * layout.page_size as usize + (pos % layout.page_size) as usize;
    (row * layout.kv_heads as usize + h) * layout.head_dim as usize
}

/// The positions a head with `policy` attends to in a sequence of `len` tokens, ascending.
pub fn policy_positions(policy: HeadPolicy, len: u32) -> Vec<u32> {
    match policy {
        HeadPolicy::Full => (0..len).collect(),
        HeadPolicy::SinkWindow { sink, window } => {
            let sink = sink.min(len);
            let window = window.min(len - sink);
            (0..sink).chain(len - window..len).collect()
        }
    }
}

/// The positions a selection row (`unit` tokens per entry, −1 for none) covers in a sequence of
/// `len` tokens, ascending.
pub fn selected_positions(row: &[i32], unit: u32, len: u32) -> Vec<u32> {
    let mut positions: Vec<u32> = row
        .iter()
        .filter(|&&e| e >= 0)
        .flat_map(|&e| (0..unit).map(move |s| e as u64 * u64::from(unit) + u64::from(s)))
        .filter(|&p| p < u64::from(len))
        .map(|p| p as u32)
        .collect();
    positions.sort_unstable();
    positions.dedup();
    positions
}

/// Decode attention: for each sequence and query head, softmax(scale · q·k) · v over the
/// positions `attended(b, kv_head)` gives (f64 throughout). `q` is `[batch, q_heads, d]`; the
/// result too. A head that attends to nothing outputs zeros.
pub fn decode(
    cache: &HostCache<'_>,
    table: &PageTable,
    q: &[f32],
    q_heads: u32,
    scale: f32,
    attended: &dyn Fn(usize, usize) -> Vec<u32>,
) -> Vec<f32> {
    let layout = &cache.layout;
    let d = layout.head_dim as usize;
    let g = group(layout, q_heads);
    let mut out = vec![0f32; table.batch() * q_heads as usize * d];
    for b in 0..table.batch() {
        for qh in 0..q_heads as usize {
            let h = qh / g;
            let positions = attended(b, h);
            let q_row = &q[(b * q_heads as usize + qh) * d..][..d];
            let logits: Vec<f64> = positions
                .iter()
                .map(|&pos| {
                    let k = &cache.k[element(layout, table, b, pos, h)..][..d];
                    let dot: f64 = q_row
                        .iter()
                        .zip(k)
                        .map(|(&a, &b)| f64::from(a) * f64::from(b))
                        .sum();
                    dot * f64::from(scale)
                })
                .collect();
            let top = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let weights: Vec<f64> = logits.iter().map(|&l| (l - top).exp()).collect();
            let total: f64 = weights.iter().sum();
            let o = &mut out[(b * q_heads as usize + qh) * d..][..d];
            for (&pos, &w) in positions.iter().zip(&weights) {
                let v = &cache.v[element(layout, table, b, pos, h)..][..d];
                for (o, &v) in o.iter_mut().zip(v) {
                    *o += (w / total * f64::from(v)) as f32;
                }
            }
        }
    }
    out
}

/// Quest metadata `[pages, kv_heads, 2, d]`: per page of every sequence and KV head, the
/// element-wise minimum then maximum of its valid keys; pages no sequence uses stay zero.
pub fn quest_meta(cache: &HostCache<'_>, table: &PageTable) -> Vec<f32> {
    let layout = &cache.layout;
    let d = layout.head_dim as usize;
    let heads = layout.kv_heads as usize;
    let mut meta = vec![0f32; layout.pages as usize * heads * 2 * d];
    for (b, &len) in seq_lens(table, layout.page_size).iter().enumerate() {
        for page in 0..len.div_ceil(layout.page_size) {
            let first = page * layout.page_size;
            let pool_page = table.indices[table.indptr[b] as usize + page as usize] as usize;
            for h in 0..heads {
                let out = (pool_page * heads + h) * 2 * d;
                for e in 0..d {
                    let keys = (first..len.min(first + layout.page_size))
                        .map(|pos| cache.k[element(layout, table, b, pos, h) + e]);
                    meta[out + e] = keys.clone().fold(f32::INFINITY, f32::min);
                    meta[out + d + e] = keys.fold(f32::NEG_INFINITY, f32::max);
                }
            }
        }
    }
    meta
}

/// Whether logical page `page` (of `page_size`) of a sequence of `len` tokens holds a sink or
/// window token.
pub fn forced_page(page: u32, page_size: u32, len: u32, sink: u32, window: u32) -> bool {
    let window_start = len - window.min(len);
    page * page_size < sink || (window > 0 && (page + 1) * page_size > window_start)
}

/// Whether position `pos` of a sequence of `len` tokens is a sink or window token.
pub fn forced_token(pos: u32, len: u32, sink: u32, window: u32) -> bool {
    pos < sink || pos >= len - window.min(len)
}

/// Quest page scores `[batch, kv_heads, max_pages]` and each row's page count: the bound
/// Σ_d Σ_g max(q·min, q·max) over the KV group's query heads, in the GPU's f32 order (four
/// lanes over d mod 4, each over d then the heads, summed pairwise), +inf for sink and window
/// pages, -inf past the end.
pub fn quest_scores(
    layout: &CacheLayout,
    table: &PageTable,
    meta: &[f32],
    q: &[f32],
    q_heads: u32,
    (sink, window): (u32, u32),
) -> (Vec<f32>, Vec<u32>) {
    let d = layout.head_dim as usize;
    let heads = layout.kv_heads as usize;
    let g = group(layout, q_heads);
    let lens = seq_lens(table, layout.page_size);
    let max_pages = lens
        .iter()
        .copied()
        .max()
        .unwrap_or(0)
        .max(1)
        .div_ceil(layout.page_size);
    let mut scores = vec![f32::NEG_INFINITY; lens.len() * heads * max_pages as usize];
    let mut lengths = Vec::new();
    for (b, &len) in lens.iter().enumerate() {
        let pages = len.div_ceil(layout.page_size);
        for h in 0..heads {
            lengths.push(pages);
            for page in 0..pages {
                let i = (b * heads + h) * max_pages as usize + page as usize;
                if forced_page(page, layout.page_size, len, sink, window) {
                    scores[i] = f32::INFINITY;
                    continue;
                }
                let pool_page = table.indices[table.indptr[b] as usize + page as usize] as usize;
                let lo = &meta[(pool_page * heads + h) * 2 * d..][..d];
                let hi = &meta[(pool_page * heads + h) * 2 * d + d..][..d];
                let mut lanes = [0f32; 4];
                for e in 0..d {
                    for qh in h * g..(h + 1) * g {
                        let x = q[(b * q_heads as usize + qh) * d + e];
                        lanes[e % 4] += (x * lo[e]).max(x * hi[e]);
                    }
                }
                scores[i] = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
            }
        }
    }
    (scores, lengths)
}

/// Every query head's logits `[batch, q_heads, max_len]`: scale · q·k (f64, rounded to f32),
/// -inf past a sequence's end.
pub fn token_logits(
    cache: &HostCache<'_>,
    table: &PageTable,
    q: &[f32],
    q_heads: u32,
    scale: f32,
) -> Vec<f32> {
    let layout = &cache.layout;
    let d = layout.head_dim as usize;
    let g = group(layout, q_heads);
    let lens = seq_lens(table, layout.page_size);
    let max_len = lens.iter().copied().max().unwrap_or(0).max(1) as usize;
    let mut logits = vec![f32::NEG_INFINITY; lens.len() * q_heads as usize * max_len];
    for (b, &len) in lens.iter().enumerate() {
        for qh in 0..q_heads as usize {
            let q_row = &q[(b * q_heads as usize + qh) * d..][..d];
            for pos in 0..len {
                let k = &cache.k[element(layout, table, b, pos, qh / g)..][..d];
                let dot: f64 = q_row
                    .iter()
                    .zip(k)
                    .map(|(&a, &b)| f64::from(a) * f64::from(b))
                    .sum();
                logits[(b * q_heads as usize + qh) * max_len + pos as usize] =
                    (dot * f64::from(scale)) as f32;
            }
        }
    }
    logits
}

/// How a KV group's query heads vote for tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vote {
    /// The sum of the heads' logits (TidalDecode).
    Sum,
    /// The sum of the heads' softmax probabilities (TokenSelect's soft voting).
    Softmax,
}

/// Per-token votes `[batch, kv_heads, max_len]` and each row's length, from `logits` (as
/// [`token_logits`] lays them out): +inf for sink and window tokens, -inf past the end.
pub fn token_votes(
    logits: &[f32],
    seq_lens: &[u32],
    kv_heads: u32,
    q_heads: u32,
    vote: Vote,
    (sink, window): (u32, u32),
) -> (Vec<f32>, Vec<u32>) {
    let g = (q_heads / kv_heads) as usize;
    let max_len = seq_lens.iter().copied().max().unwrap_or(0).max(1) as usize;
    let stats = |head: usize, len: u32| {
        let row = &logits[head * max_len..][..len as usize];
        let top = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let sum: f64 = row.iter().map(|&l| f64::from((l - top).exp())).sum();
        (top, sum as f32)
    };
    let mut votes = vec![f32::NEG_INFINITY; seq_lens.len() * kv_heads as usize * max_len];
    let mut lengths = Vec::new();
    for (b, &len) in seq_lens.iter().enumerate() {
        for h in 0..kv_heads as usize {
            lengths.push(len);
            let heads: Vec<usize> = (0..g).map(|i| b * q_heads as usize + h * g + i).collect();
            let stat: Vec<(f32, f32)> = heads.iter().map(|&head| stats(head, len)).collect();
            for pos in 0..len {
                let i = (b * kv_heads as usize + h) * max_len + pos as usize;
                if forced_token(pos, len, sink, window) {
                    votes[i] = f32::INFINITY;
                    continue;
                }
                let mut sum = 0f32;
                for (&head, &(top, total)) in heads.iter().zip(&stat) {
                    let l = logits[head * max_len + pos as usize];
                    sum += match vote {
                        Vote::Sum => l,
                        Vote::Softmax => (l - top).exp() / total,
                    };
                }
                votes[i] = sum;
            }
        }
    }
    (votes, lengths)
}

/// The `k` best entries of each row of `scores` (`n` per row, `lengths` valid), best first,
/// −1 past a row's length: the selection top-k makes.
pub fn select(scores: &[f32], n: usize, k: usize, lengths: &[u32]) -> Result<Vec<i32>> {
    Ok(top_k(scores, n, k, Order::Largest, Some(lengths))?.1)
}

/// Causal prefill attention (f64 throughout): sequence b's new tokens are rows
/// `qo_indptr[b] .. qo_indptr[b + 1]` of `q` `[rows, q_heads, d]` (the result too), and query i
/// of n new tokens in a sequence of `len` attends to positions 0 ..= len − n + i — exactly what
/// [`decode`] computes for each of them over that prefix.
pub fn prefill(
    cache: &HostCache<'_>,
    table: &PageTable,
    qo_indptr: &[u32],
    q: &[f32],
    q_heads: u32,
    scale: f32,
) -> Vec<f32> {
    let layout = &cache.layout;
    let row = (q_heads * layout.head_dim) as usize;
    let lens = seq_lens(table, layout.page_size);
    let mut out = vec![0f32; q.len()];
    for (b, &len) in lens.iter().enumerate() {
        let (first, end) = (qo_indptr[b] as usize, qo_indptr[b + 1] as usize);
        let n = (end - first) as u32;
        for i in 0..n {
            let at = (first + i as usize) * row;
            // One query token of sequence b alone: a one-sequence table holding b's pages.
            let one = PageTable {
                indptr: vec![0, table.indptr[b + 1] - table.indptr[b]],
                indices: table.indices[table.indptr[b] as usize..table.indptr[b + 1] as usize]
                    .to_vec(),
                last_page_len: vec![table.last_page_len[b]],
            };
            let visible = (len + i + 1).saturating_sub(n).min(len);
            let o = decode(cache, &one, &q[at..at + row], q_heads, scale, &|_, _| {
                (0..visible).collect()
            });
            out[at..at + row].copy_from_slice(&o);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_of_policies_and_selections() {
        let sw = |sink, window| HeadPolicy::SinkWindow { sink, window };
        assert_eq!(policy_positions(sw(2, 3), 10), vec![0, 1, 7, 8, 9]);
        assert_eq!(policy_positions(sw(2, 30), 10), (0..10).collect::<Vec<_>>());
        assert_eq!(policy_positions(HeadPolicy::Full, 0), Vec::<u32>::new());
        // Page entries cover page_size tokens, cut at the end; −1 and duplicates are nothing.
        assert_eq!(
            selected_positions(&[2, -1, 0, 2], 4, 10),
            vec![0, 1, 2, 3, 8, 9]
        );
        assert_eq!(selected_positions(&[5], 4, 10), Vec::<u32>::new());
    }

    #[test]
    fn kv_quantizer_matches_the_weight_quantizer_and_round_trips() {
        // squeeze-quant's ggml quantizers (the weights' formats) on the same finite rows: the
        // same bytes; dequantizing gives them back.
        let mut state = 7u64;
        let x: Vec<f32> = (0..32 * 64)
            .map(|i| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let u = (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
                u * 10f32.powi((i / 32) % 7 - 3)
            })
            .collect();
        for (kv, format) in [
            (KvDtype::Q8_0, squeeze_quant::Format::Q8_0),
            (KvDtype::Q4_0, squeeze_quant::Format::Q4_0),
        ] {
            let bytes = quantize_row(kv, &x).unwrap();
            assert_eq!(
                bytes,
                squeeze_quant::reference::quantize(format, &x).unwrap()
            );
            assert_eq!(
                dequantize_row(kv, &bytes).unwrap(),
                squeeze_quant::reference::dequantize(format, &bytes, 32).unwrap()
            );
        }
        assert_eq!(quantize_row(KvDtype::F16, &x), None);
        // ggml's MAX(amax, |x|): a NaN wins only as the block's last value (scale NaN).
        let mut nan_last = vec![1.0f32; 32];
        nan_last[31] = f32::NAN;
        let q = quantize_row(KvDtype::Q8_0, &nan_last).unwrap();
        assert!(f16::from_le_bytes([q[0], q[1]]).is_nan());
        nan_last.swap(0, 31);
        let q = quantize_row(KvDtype::Q8_0, &nan_last).unwrap();
        assert_eq!(f16::from_le_bytes([q[0], q[1]]), f16::from_f32(1.0 / 127.0));
        assert_eq!(q[2], 0);
    }

    #[test]
    fn forced_pages_and_tokens() {
        // 20 tokens in pages of 8: sink 1 forces page 0; window 5 covers tokens 15..20, pages 1, 2.
        let forced: Vec<u32> = (0..3).filter(|&p| forced_page(p, 8, 20, 1, 5)).collect();
        assert_eq!(forced, vec![0, 1, 2]);
        assert!(!forced_page(1, 8, 20, 0, 4));
        assert!(forced_token(0, 20, 1, 0) && !forced_token(1, 20, 1, 0));
        assert!(forced_token(19, 20, 0, 1) && !forced_token(18, 20, 0, 1));
    }
}
