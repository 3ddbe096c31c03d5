//! The exponent code of one unit: code lengths from a histogram, canonical codes, and the DF11
//! decode tables (`luts`).
//!
//! The tables constrain the code beyond "prefix-free, at most 32 bits":
//! - a table value ≥ 240 is a pointer at levels 0..=2, so exponents 240..=255 (|w| ≥ 2¹¹³, ±inf,
//!   NaN) can only be decoded at level 3, i.e. need codes of 25..=32 bits;
//! - pointers reach tables 1..=16, so table 0 plus the tables of all 8-, 16- and 24-bit prefixes
//!   of longer codes must number at most 17.
//!
//! The reference encoder (`dahuffman` plus a length cap) ignores both and writes broken tables
//! when they bite. Here exponents ≥ 240 share one escape leaf of the Huffman tree, then split it
//! with enough extra bits to reach level 3; and when the tables would number more than 17 the
//! lengths are recomputed under a tighter cap (at 8 bits every ordinary code fits table 0, so the
//! search always ends). Lengths are optimal under each cap (package-merge).

use crate::format::{LUT_ROW, MAX_CODE_BITS, MAX_DECODE_TABLES, POINTER_MIN};

/// Length caps tried in turn until the tables fit.
const CAPS: [u32; 10] = [32, 28, 24, 20, 16, 14, 12, 10, 9, 8];
/// The shortest code a symbol ≥ 240 may have: it must be decoded at level 3.
const HIGH_MIN_BITS: u32 = 25;

/// A prefix code over exponent values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Code {
    /// Code length of each symbol, 0 if absent.
    pub lengths: [u8; 256],
    /// Canonical code of each symbol, right-aligned in `lengths[s]` bits.
    pub codes: [u32; 256],
}

impl Code {
    /// The code for a histogram of exponents. An empty histogram gives an empty code.
    pub fn from_histogram(histogram: &[u64; 256]) -> Code {
        let low: Vec<(u64, usize)> = (0..POINTER_MIN as usize)
            .filter(|&s| histogram[s] > 0)
            .map(|s| (histogram[s], s))
            .collect();
        let high: Vec<usize> = (POINTER_MIN as usize..256)
            .filter(|&s| histogram[s] > 0)
            .collect();
        let escape_weight: u64 = high.iter().map(|&s| histogram[s]).sum();
        for cap in CAPS {
            // With high symbols, the escape leaf plus up to 4 extra bits must stay within 32.
            let cap = if high.is_empty() { cap } else { cap.min(28) };
            let mut leaves = low.clone();
            if !high.is_empty() {
                leaves.push((escape_weight, 256));
            }
            let lengths = limited_lengths(&leaves, cap);
            let mut code = [0u8; 256];
            for (&(_, s), &len) in leaves.iter().zip(&lengths) {
                if s < 256 {
                    code[s] = len;
                }
            }
            if let Some(escape) = leaves.iter().zip(&lengths).find(|((_, s), _)| *s == 256) {
                let extra = (high.len() as u32).next_power_of_two().trailing_zeros();
                let len = (u32::from(*escape.1) + extra).max(HIGH_MIN_BITS);
                for &s in &high {
                    code[s] = len as u8;
                }
            }
            let code = Code::canonical(code);
            if code.table_count() <= MAX_DECODE_TABLES {
                return code;
            }
        }
        unreachable!("with ordinary codes of at most 8 bits the tables always fit")
    }

    /// Canonical codes for `lengths` (Kraft sum at most 1): shorter codes first, ties by symbol.
    pub fn canonical(lengths: [u8; 256]) -> Code {
        let mut order: Vec<usize> = (0..256).filter(|&s| lengths[s] > 0).collect();
        order.sort_by_key(|&s| (lengths[s], s));
        let mut codes = [0u32; 256];
        let mut next: u64 = 0;
        let mut previous = 0u32;
        for s in order {
            let len = u32::from(lengths[s]);
            next <<= len - previous;
            previous = len;
            debug_assert!(next < 1u64 << len, "Kraft sum above 1");
            codes[s] = next as u32;
            next += 1;
        }
        Code { lengths, codes }
    }

    fn symbols(&self) -> impl Iterator<Item = (usize, u32, u32)> + '_ {
        (0..256)
            .filter(|&s| self.lengths[s] > 0)
            .map(|s| (s, self.codes[s], u32::from(self.lengths[s])))
    }

    /// The `8 · level`-bit prefixes of codes longer than `8 · level` bits, sorted, deduplicated:
    /// the tables entered at `level`.
    fn prefixes(&self, level: u32) -> Vec<u32> {
        let mut p: Vec<u32> = self
            .symbols()
            .filter(|&(_, _, len)| len > 8 * level)
            .map(|(_, code, len)| (u64::from(code) >> (len - 8 * level)) as u32)
            .collect();
        p.sort_unstable();
        p.dedup();
        p
    }

    /// Decode tables this code needs.
    pub fn table_count(&self) -> usize {
        1 + (1..4).map(|l| self.prefixes(l).len()).sum::<usize>()
    }

    /// The DF11 `luts` tensor, `[tables + 1, 256]` row-major: table 0, the level-1 tables, the
    /// level-2 tables, the level-3 tables (each level by prefix), then the length row. Entries no
    /// code reaches (an incomplete code) repeat the nearest entry before them, or the first one,
    /// so that every entry still decodes to a symbol of non-zero length.
    pub fn luts(&self) -> Vec<u8> {
        let levels: Vec<Vec<u32>> = (0..4).map(|l| self.prefixes(l)).collect();
        let base: Vec<usize> = levels
            .iter()
            .scan(0, |acc, p| {
                let b = *acc;
                *acc += p.len();
                Some(b)
            })
            .collect();
        let tables = base[3] + levels[3].len();
        assert!(tables <= MAX_DECODE_TABLES, "code needs {tables} tables");
        let table_of = |level: usize, prefix: u32| -> usize {
            base[level] + levels[level].binary_search(&prefix).expect("prefix table")
        };
        let mut luts = vec![0u8; (tables + 1) * LUT_ROW];
        let mut used = vec![false; tables * LUT_ROW];
        for (s, code, len) in self.symbols() {
            let last = ((len - 1) / 8) as usize;
            for level in 0..=last {
                let table = table_of(
                    level,
                    if level == 0 {
                        0
                    } else {
                        code >> (len - 8 * level as u32)
                    },
                );
                let consumed = 8 * level as u32;
                let row = table * LUT_ROW;
                if level < last {
                    let byte = (code >> (len - consumed - 8)) & 0xff;
                    let target = table_of(level + 1, code >> (len - consumed - 8));
                    luts[row + byte as usize] = (256 - target) as u8;
                    used[row + byte as usize] = true;
                } else {
                    let rest = len - consumed;
                    let first = ((code & ((1u64 << rest) - 1) as u32) << (8 - rest)) as usize;
                    for e in first..first + (1 << (8 - rest)) {
                        luts[row + e] = s as u8;
                        used[row + e] = true;
                    }
                }
            }
        }
        for table in 0..tables {
            let row = table * LUT_ROW;
            let Some(first) = (0..LUT_ROW).find(|&e| used[row + e]) else {
                continue;
            };
            let mut fill = luts[row + first];
            for e in 0..LUT_ROW {
                if used[row + e] {
                    fill = luts[row + e];
                } else {
                    luts[row + e] = fill;
                }
            }
        }
        luts[tables * LUT_ROW..].copy_from_slice(&self.lengths);
        luts
    }
}

/// Optimal code lengths of at most `cap` bits for `leaves` (weight, id), in the same order, by
/// package-merge. One leaf gets a 1-bit code.
pub(crate) fn limited_lengths(leaves: &[(u64, usize)], cap: u32) -> Vec<u8> {
    let n = leaves.len();
    if n <= 1 {
        return vec![1; n];
    }
    debug_assert!(cap <= MAX_CODE_BITS && (1u64 << cap) >= n as u64);
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| (leaves[i].0, leaves[i].1));
    // An item is a weight and how many times each leaf occurs in it.
    let singles: Vec<(u64, Vec<u8>)> = order
        .iter()
        .map(|&i| {
            let mut counts = vec![0u8; n];
            counts[i] = 1;
            (leaves[i].0, counts)
        })
        .collect();
    let mut list = singles.clone();
    for _ in 1..cap {
        let packages = list.chunks_exact(2).map(|pair| {
            let counts = pair[0]
                .1
                .iter()
                .zip(&pair[1].1)
                .map(|(a, b)| a + b)
                .collect();
            (pair[0].0 + pair[1].0, counts)
        });
        let mut merged = Vec::with_capacity(2 * n);
        let mut singles_iter = singles.iter().cloned().peekable();
        let mut packages = packages.peekable();
        loop {
            let take_single = match (singles_iter.peek(), packages.peek()) {
                (Some(s), Some(p)) => s.0 <= p.0,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            let item = if take_single {
                singles_iter.next()
            } else {
                packages.next()
            };
            merged.extend(item);
        }
        list = merged;
    }
    let mut lengths = vec![0u8; n];
    for (_, counts) in list.iter().take(2 * n - 2) {
        for (l, c) in lengths.iter_mut().zip(counts) {
            *l += c;
        }
    }
    lengths
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::Tables;

    fn kraft(code: &Code) -> f64 {
        code.lengths
            .iter()
            .filter(|&&l| l > 0)
            .map(|&l| (-(f64::from(l))).exp2())
            .sum()
    }

    /// Decodes every symbol's code through the tables.
    fn round_trip_tables(code: &Code) {
        let luts = code.luts();
        let tables = Tables::new(&luts);
        for s in 0..256 {
            let len = u32::from(code.lengths[s]);
            if len == 0 {
                continue;
            }
            let window = code.codes[s] << (32 - len);
            assert_eq!(tables.decode(window), (s as u8, len), "symbol {s}");
            // Trailing bits after the code do not matter.
            let noisy = window | ((1u64 << (32 - len)) - 1) as u32;
            assert_eq!(tables.decode(noisy), (s as u8, len), "symbol {s} + ones");
        }
    }

    #[test]
    fn huffman_lengths_are_optimal_on_a_small_case() {
        let lengths = limited_lengths(&[(1, 0), (1, 1), (2, 2), (4, 3)], 32);
        assert_eq!(lengths, vec![3, 3, 2, 1]);
        // Capped at 2 bits every symbol gets 2.
        assert_eq!(
            limited_lengths(&[(1, 0), (1, 1), (2, 2), (4, 3)], 2),
            vec![2; 4]
        );
    }

    #[test]
    fn geometric_exponents_give_long_codes_and_valid_tables() {
        let mut h = [0u64; 256];
        for (i, e) in (90..130).enumerate() {
            h[e] = 1u64 << (40 - i.min(39));
        }
        let code = Code::from_histogram(&h);
        assert!(code.lengths.iter().all(|&l| u32::from(l) <= MAX_CODE_BITS));
        assert!(code.lengths.iter().any(|&l| l > 24), "{:?}", code.lengths);
        assert!((kraft(&code) - 1.0).abs() < 1e-12);
        round_trip_tables(&code);
    }

    #[test]
    fn high_exponents_are_decoded_at_level_three() {
        let mut h = [0u64; 256];
        h[127] = 1000;
        h[126] = 500;
        h[255] = 3;
        h[254] = 1;
        h[240] = 1;
        let code = Code::from_histogram(&h);
        for s in [240, 254, 255] {
            assert!(code.lengths[s] >= 25 && code.lengths[s] <= 32);
        }
        round_trip_tables(&code);
        // Only high symbols.
        let mut h = [0u64; 256];
        h[255] = 10;
        let code = Code::from_histogram(&h);
        assert_eq!(code.lengths[255], 25);
        round_trip_tables(&code);
    }

    #[test]
    fn flat_histograms_over_all_exponents_fit_17_tables() {
        let mut h = [0u64; 256];
        for (s, w) in h.iter_mut().enumerate() {
            *w = 1 + (s as u64 * 7919) % 50;
        }
        let code = Code::from_histogram(&h);
        assert!(code.table_count() <= MAX_DECODE_TABLES);
        round_trip_tables(&code);
        // 216 equal symbols and 24 half as likely: 9-bit codes over many prefixes.
        let mut h = [0u64; 256];
        for (s, w) in h.iter_mut().enumerate().take(240) {
            *w = if s < 200 { 4 } else { 1 };
        }
        let code = Code::from_histogram(&h);
        assert!(code.table_count() <= MAX_DECODE_TABLES);
        round_trip_tables(&code);
    }

    #[test]
    fn one_symbol_gets_one_bit() {
        let mut h = [0u64; 256];
        h[3] = 7;
        let code = Code::from_histogram(&h);
        assert_eq!(code.lengths[3], 1);
        round_trip_tables(&code);
    }
}
