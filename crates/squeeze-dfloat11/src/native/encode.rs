//! The native encoder: BF16 weights → one native unit, and the lossless conversions between
//! native and DF11 units (through the exponent symbols both code).
//!
//! Three passes over the chunks, each split over `threads` contiguous ranges with
//! `std::thread::scope`: (1) bits of every chunk from the code lengths (after one histogram
//! and the code), (2) a prefix sum of them — the chunk offsets —, (3) each range packs its
//! chunks into its own words, which are ORed into the stream (only the boundary words are
//! shared).

use crate::encode::Encoded;
use crate::error::{Df11Error, Result};
use crate::format::{Checked, Layout};
use crate::huffman::Code;
use crate::native::format::{CheckedNative, NativeUnit, chunk_begin, chunks_per_row, tiles};
use crate::native::huffman::lengths_for;
use crate::native::{TILE_CHUNKS, reference};

/// An encoded native unit, owning its tensors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NativeEncoded {
    pub rows: usize,
    pub cols: usize,
    pub lengths: Vec<u8>,
    pub exponents: Vec<u32>,
    pub sign_mantissa: Vec<u8>,
    pub tile_offsets: Vec<u32>,
    pub chunk_offsets: Vec<u16>,
}

impl NativeEncoded {
    pub fn unit(&self) -> NativeUnit<'_> {
        NativeUnit {
            rows: self.rows,
            cols: self.cols,
            lengths: &self.lengths,
            exponents: bytemuck::cast_slice(&self.exponents),
            sign_mantissa: &self.sign_mantissa,
            tile_offsets: bytemuck::cast_slice(&self.tile_offsets),
            chunk_offsets: bytemuck::cast_slice(&self.chunk_offsets),
        }
    }

    /// Bytes of all tensors of the unit.
    pub fn stored_bytes(&self) -> u64 {
        (self.lengths.len()
            + 4 * self.exponents.len()
            + self.sign_mantissa.len()
            + 4 * self.tile_offsets.len()
            + 2 * self.chunk_offsets.len()) as u64
    }
}

/// Encodes BF16 bits `values` of a `rows × cols` matrix (row-major) with `threads` threads.
pub fn encode(values: &[u16], rows: usize, cols: usize, threads: usize) -> Result<NativeEncoded> {
    let n = rows.checked_mul(cols).filter(|&n| n <= u32::MAX as usize);
    if n != Some(values.len()) {
        return Err(Df11Error::Input {
            name: "values".into(),
            what: format!(
                "{} BF16 values for a {rows} × {cols} matrix (at most u32::MAX weights)",
                values.len()
            ),
        });
    }
    let exponents: Vec<u8> = values.iter().map(|&w| (w >> 7) as u8).collect();
    let sign_mantissa: Vec<u8> = values
        .iter()
        .map(|&w| ((w >> 8) as u8 & 0x80) | (w as u8 & 0x7f))
        .collect();
    let mut histogram = [0u64; 256];
    for &e in &exponents {
        histogram[usize::from(e)] += 1;
    }
    let lengths = lengths_for(&histogram);
    let code = Code::canonical(lengths);
    let cpr = chunks_per_row(cols);
    let chunks = rows * cpr;
    let begin = |g: usize| chunk_begin(g, cols, cpr);
    let ranges = split(chunks, threads.max(1));

    let bits: Vec<u64> = parallel(&ranges, |range| {
        range
            .map(|g| {
                exponents[begin(g)..begin(g + 1)]
                    .iter()
                    .map(|&e| u64::from(lengths[usize::from(e)]))
                    .sum::<u64>()
            })
            .collect::<Vec<u64>>()
    })
    .concat();
    let mut starts = Vec::with_capacity(chunks + 1);
    let mut total = 0u64;
    for b in &bits {
        starts.push(total);
        total += b;
    }
    starts.push(total);
    if total > u64::from(u32::MAX) {
        return Err(Df11Error::Input {
            name: "values".into(),
            what: format!("{total} bits of exponent codes: more than a u32 offset addresses"),
        });
    }

    let pieces = parallel(&ranges, |range| {
        let first_word = (starts[range.start] / 32) as usize;
        let end_word = starts[range.end].div_ceil(32) as usize;
        let mut words = vec![0u32; end_word - first_word];
        let mut bit = starts[range.start];
        for &e in &exponents[begin(range.start)..begin(range.end)] {
            let (c, len) = (
                code.codes[usize::from(e)],
                u32::from(lengths[usize::from(e)]),
            );
            let at = bit - 32 * first_word as u64;
            let (w, shift) = ((at / 32) as usize, (at % 32) as u32);
            // The code's bits at positions shift..shift+len of word w (MSB first), may spill.
            let aligned = u64::from(c) << (64 - len - shift);
            words[w] |= (aligned >> 32) as u32;
            if shift + len > 32 {
                words[w + 1] |= aligned as u32;
            }
            bit += u64::from(len);
        }
        (first_word, words)
    });
    let mut stream = vec![0u32; total.div_ceil(32) as usize];
    for (first, words) in pieces {
        for (s, w) in stream[first..].iter_mut().zip(words) {
            *s |= w;
        }
    }

    let tile_offsets: Vec<u32> = (0..tiles(chunks))
        .map(|t| starts[t * TILE_CHUNKS] as u32)
        .chain([total as u32])
        .collect();
    let chunk_offsets = (0..chunks)
        .map(|g| (starts[g] - u64::from(tile_offsets[g / TILE_CHUNKS])) as u16)
        .collect();
    Ok(NativeEncoded {
        rows,
        cols,
        lengths: lengths.to_vec(),
        exponents: stream,
        sign_mantissa,
        tile_offsets,
        chunk_offsets,
    })
}

/// A DF11 unit holding a `rows × cols` matrix → a native unit: the DF11 stream is decoded to its
/// exponent symbols (with the sign/mantissa bytes, the BF16 values) and re-coded.
pub fn from_df11(
    unit: &Checked<'_>,
    name: &str,
    rows: usize,
    cols: usize,
    threads: usize,
) -> Result<NativeEncoded> {
    let values = crate::reference::decode_checked(unit, name)?;
    encode(&values, rows, cols, threads)
}

/// A native unit → a DF11 unit with `layout` (the weights flattened row-major).
pub fn to_df11(
    unit: &CheckedNative<'_>,
    name: &str,
    layout: Layout,
    threads: usize,
) -> Result<Encoded> {
    let values = reference::decode_checked(unit, name)?;
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    crate::encode::encode(&[&bytes], layout, threads)
}

/// `0..count` cut into at most `parts` contiguous, non-empty ranges.
fn split(count: usize, parts: usize) -> Vec<std::ops::Range<usize>> {
    let size = count.div_ceil(parts).max(1);
    (0..count)
        .step_by(size)
        .map(|s| s..(s + size).min(count))
        .collect()
}

/// `f` over each range on its own scoped thread, results in order.
fn parallel<R: Send>(
    ranges: &[std::ops::Range<usize>],
    f: impl Fn(std::ops::Range<usize>) -> R + Sync,
) -> Vec<R> {
    if ranges.len() <= 1 {
        return ranges.iter().cloned().map(&f).collect();
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = ranges
            .iter()
            .cloned()
            .map(|r| {
                let f = &f;
                scope.spawn(move || f(r))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("native encoder worker panicked"))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::native::CHUNK_SYMBOLS;

    /// Gaussian-ish BF16 weights of scale 0.02 with a few specials.
    pub(crate) fn weights(n: usize, seed: u64) -> Vec<u16> {
        let mut state = seed;
        (0..n)
            .map(|i| {
                let mut u = -2.0;
                for _ in 0..4 {
                    state = state
                        .wrapping_mul(6_364_136_223_846_793_005)
                        .wrapping_add(1_442_695_040_888_963_407);
                    u += (state >> 40) as f64 / (1u64 << 24) as f64;
                }
                match i % 997 {
                    1 => 0x7fc0,
                    2 => 0xff80,
                    3 => 0x0001,
                    4 => 0x8000,
                    _ => ((u * 0.02) as f32).to_bits().wrapping_shr(16) as u16,
                }
            })
            .collect()
    }

    #[test]
    fn round_trips_exactly_and_threads_do_not_change_bytes() {
        for (rows, cols) in [
            (1, 1),
            (1, 2),
            (3, 5),
            (7, 128),
            (5, 129),
            (33, 257),
            (2, 4097),
            (130, 31),
        ] {
            let w = weights(rows * cols, (rows * 31 + cols) as u64);
            let one = encode(&w, rows, cols, 1).unwrap();
            for threads in [2, 3, 8] {
                assert_eq!(
                    encode(&w, rows, cols, threads).unwrap(),
                    one,
                    "{rows}×{cols}"
                );
            }
            assert_eq!(
                reference::decode(one.unit(), "t").unwrap(),
                w,
                "{rows}×{cols}"
            );
            assert_eq!(one.chunk_offsets.len(), rows * cols.div_ceil(CHUNK_SYMBOLS));
        }
    }

    #[test]
    fn every_bf16_pattern_and_one_exponent() {
        let all: Vec<u16> = (0..=u16::MAX).collect();
        let e = encode(&all, 256, 256, 4).unwrap();
        assert_eq!(reference::decode(e.unit(), "all").unwrap(), all);
        let same: Vec<u16> = (0..1000u16).map(|i| 0x3f00 | (i & 0x807f)).collect();
        let e = encode(&same, 10, 100, 2).unwrap();
        assert_eq!(e.exponents.len(), 1000usize.div_ceil(32));
        assert_eq!(reference::decode(e.unit(), "same").unwrap(), same);
    }

    #[test]
    fn converts_to_and_from_df11() {
        let (rows, cols) = (37, 301);
        let w = weights(rows * cols, 5);
        let native = encode(&w, rows, cols, 2).unwrap();
        let checked = native.unit().validate("n").unwrap();
        let df11 = to_df11(&checked, "n", Layout::DF11, 2).unwrap();
        let df11_checked = df11.unit().validate("d", Layout::DF11).unwrap();
        assert_eq!(
            crate::reference::decode_checked(&df11_checked, "d").unwrap(),
            w
        );
        let back = from_df11(&df11_checked, "d", rows, cols, 3).unwrap();
        assert_eq!(back, native);
    }

    #[test]
    fn wrong_sizes_are_refused() {
        assert!(matches!(
            encode(&[1, 2, 3], 2, 2, 1),
            Err(Df11Error::Input { .. })
        ));
        let empty = encode(&[], 0, 5, 1).unwrap();
        assert!(reference::decode(empty.unit(), "e").unwrap().is_empty());
    }
}
