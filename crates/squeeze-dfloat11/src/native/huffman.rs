//! The native exponent code: canonical Huffman over the 256 exponent values with every code at
//! most [`MAX_CODE_BITS`] bits, so that one lookup in a `2^MAX_CODE_BITS`-entry table decodes a
//! symbol — no table chains as in DF11.
//!
//! Lengths are optimal under the cap (package-merge, shared with the DF11 code), codes are
//! canonical (shorter first, ties by symbol: [`crate::huffman::Code::canonical`]), so a file stores
//! only the 256 lengths and every decoder derives the same table. [`DecodeTable::new`] checks on
//! the host that the lengths form a complete prefix code (Kraft sum exactly 1) — then every
//! table entry is reached by exactly one code — or are the one-symbol code (one 1-bit symbol,
//! whose table decodes every window to it).
//!
//! ```text
//! table entry (u16), indexed by the next MAX_CODE_BITS stream bits (MSB first):
//!   bits 15..12  0
//!   bits 11..8   code length, 1..=MAX_CODE_BITS
//!   bits  7..0   exponent
//! on the device: two entries per u32 word, entry 2i in the low half of word i
//! ```

use crate::huffman::{Code, limited_lengths};

/// The longest code. 12 bits: the table is 4096 entries (8 KiB, fits workgroup memory beside
/// the GEMV's sums), and on LLM-like weights the length limit costs well under 0.5 % of the
/// exponent stream (`size_cost_of_the_length_limit` below; the README gives the numbers).
pub const MAX_CODE_BITS: u32 = 12;
/// Entries of the decode table.
pub const TABLE_ENTRIES: usize = 1 << MAX_CODE_BITS;

/// Code lengths (0: absent) for an exponent histogram, each at most [`MAX_CODE_BITS`]. An empty
/// histogram gives all zeros; one symbol gets a 1-bit code.
pub fn lengths_for(histogram: &[u64; 256]) -> [u8; 256] {
    let leaves: Vec<(u64, usize)> = (0..256)
        .filter(|&s| histogram[s] > 0)
        .map(|s| (histogram[s], s))
        .collect();
    let mut lengths = [0u8; 256];
    for (&(_, s), &len) in leaves.iter().zip(&limited_lengths(&leaves, MAX_CODE_BITS)) {
        lengths[s] = len;
    }
    lengths
}

/// Why a set of code lengths is not a native code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeProblem {
    /// A symbol's length exceeds [`MAX_CODE_BITS`].
    TooLong { symbol: usize, length: u8 },
    /// The Kraft sum is not 1: `kraft` in units of `2^-MAX_CODE_BITS` (`TABLE_ENTRIES` is 1).
    NotComplete { kraft: u64 },
}

impl std::fmt::Display for CodeProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TooLong { symbol, length } => write!(
                f,
                "exponent {symbol} has code length {length}, above {MAX_CODE_BITS}"
            ),
            Self::NotComplete { kraft } => write!(
                f,
                "Kraft sum {kraft}/{TABLE_ENTRIES}: not a complete prefix code (nor one 1-bit symbol)"
            ),
        }
    }
}

/// The single-lookup decode table of a code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeTable {
    entries: Vec<u16>,
}

impl DecodeTable {
    /// Checks `lengths` and builds the table. All-zero lengths (no symbols) give an empty table.
    pub fn new(lengths: &[u8; 256]) -> Result<Self, CodeProblem> {
        if let Some(s) = (0..256).find(|&s| u32::from(lengths[s]) > MAX_CODE_BITS) {
            return Err(CodeProblem::TooLong {
                symbol: s,
                length: lengths[s],
            });
        }
        let present: Vec<usize> = (0..256).filter(|&s| lengths[s] > 0).collect();
        if present.is_empty() {
            return Ok(Self {
                entries: Vec::new(),
            });
        }
        if let [s] = present[..]
            && lengths[s] == 1
        {
            return Ok(Self {
                entries: vec![entry(s, 1); TABLE_ENTRIES],
            });
        }
        let kraft: u64 = present
            .iter()
            .map(|&s| 1u64 << (MAX_CODE_BITS - u32::from(lengths[s])))
            .sum();
        if kraft != TABLE_ENTRIES as u64 {
            return Err(CodeProblem::NotComplete { kraft });
        }
        let code = Code::canonical(*lengths);
        let mut entries = vec![0u16; TABLE_ENTRIES];
        for &s in &present {
            let len = u32::from(lengths[s]);
            let first = (code.codes[s] << (MAX_CODE_BITS - len)) as usize;
            entries[first..first + (1 << (MAX_CODE_BITS - len))].fill(entry(s, len));
        }
        // Canonical codes of a Kraft-complete set tile the table exactly; an empty entry would
        // mean a bug in `canonical`, not bad input.
        assert!(
            entries.iter().all(|&e| e != 0),
            "canonical code tiles the table"
        );
        Ok(Self { entries })
    }

    /// (exponent, length) of the code at the top of the `MAX_CODE_BITS`-bit `window`.
    #[inline]
    pub fn decode(&self, window: u32) -> (u8, u32) {
        let e = self.entries[window as usize];
        (e as u8, u32::from(e >> 8))
    }

    /// The table as the kernels bind it: two entries per word, the even one low.
    pub fn words(&self) -> Vec<u32> {
        self.entries
            .chunks(2)
            .map(|p| u32::from(p[0]) | (u32::from(p[1]) << 16))
            .collect()
    }
}

fn entry(symbol: usize, length: u32) -> u16 {
    symbol as u16 | (length as u16) << 8
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::huffman::Code;

    fn gaussian_histogram(scale: f64, n: usize) -> [u64; 256] {
        let mut h = [0u64; 256];
        let mut state = 7u64;
        for _ in 0..n {
            let mut u = -2.0;
            for _ in 0..4 {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                u += (state >> 40) as f64 / (1u64 << 24) as f64;
            }
            let bits = ((u * scale) as f32).to_bits();
            h[((bits >> 23) & 0xff) as usize] += 1;
        }
        h
    }

    fn stream_bits(h: &[u64; 256], lengths: &[u8; 256]) -> u64 {
        (0..256).map(|s| h[s] * u64::from(lengths[s])).sum()
    }

    /// Measured (exponent-stream bits, capped vs DF11's unlimited code, 2^20 weights): scale
    /// 0.02 +0.12 % (unlimited codes reach 20 bits), 0.002 +0.06 %, 1.0 +0.06 %; a cap of 11
    /// bits would cost +0.28 %, 10 bits +0.65 %.
    #[test]
    fn size_cost_of_the_length_limit() {
        // Gaussian-ish weights (sums of four uniforms) at three scales.
        for (scale, n) in [(0.02, 1 << 20), (0.002, 1 << 20), (1.0, 1 << 20)] {
            let h = gaussian_histogram(scale, n);
            let unlimited = stream_bits(&h, &Code::from_histogram(&h).lengths);
            let limited = stream_bits(&h, &lengths_for(&h));
            let cost = limited as f64 / unlimited as f64 - 1.0;
            assert!(cost <= 0.005, "scale {scale}: +{:.3} %", cost * 100.0);
        }
    }

    #[test]
    fn tables_decode_every_code_and_are_complete() {
        let h = gaussian_histogram(0.02, 1 << 16);
        let lengths = lengths_for(&h);
        assert!(lengths.iter().all(|&l| u32::from(l) <= MAX_CODE_BITS));
        let table = DecodeTable::new(&lengths).unwrap();
        let code = Code::canonical(lengths);
        for s in (0..256).filter(|&s| lengths[s] > 0) {
            let len = u32::from(lengths[s]);
            let window = code.codes[s] << (MAX_CODE_BITS - len);
            let ones = (1 << (MAX_CODE_BITS - len)) - 1;
            assert_eq!(table.decode(window), (s as u8, len));
            assert_eq!(table.decode(window | ones), (s as u8, len));
        }
        // All 256 exponents equally likely: 8 bits each.
        let flat = [5u64; 256];
        assert_eq!(lengths_for(&flat), [8u8; 256]);
        assert!(DecodeTable::new(&lengths_for(&flat)).is_ok());
        // Very skewed: geometric weights would want ~40-bit codes; capped at 12.
        let mut h = [0u64; 256];
        for (i, e) in (80..140).enumerate() {
            h[e] = 1u64 << (59 - i);
        }
        let lengths = lengths_for(&h);
        assert_eq!(lengths.iter().copied().max(), Some(12));
        assert!(DecodeTable::new(&lengths).is_ok());
    }

    #[test]
    fn one_symbol_and_empty() {
        let mut h = [0u64; 256];
        h[255] = 9;
        let lengths = lengths_for(&h);
        assert_eq!(lengths[255], 1);
        let t = DecodeTable::new(&lengths).unwrap();
        assert_eq!(t.decode(0), (255, 1));
        assert_eq!(t.decode(4095), (255, 1));
        assert!(DecodeTable::new(&[0; 256]).unwrap().words().is_empty());
    }

    #[test]
    fn bad_lengths_are_refused() {
        let mut l = [0u8; 256];
        l[1] = 13;
        assert_eq!(
            DecodeTable::new(&l),
            Err(CodeProblem::TooLong {
                symbol: 1,
                length: 13
            })
        );
        // Over-full: three 1-bit codes.
        let mut l = [0u8; 256];
        l[..3].fill(1);
        assert_eq!(
            DecodeTable::new(&l),
            Err(CodeProblem::NotComplete { kraft: 6144 })
        );
        // Incomplete: two 2-bit codes.
        let mut l = [0u8; 256];
        l[..2].fill(2);
        assert!(matches!(
            DecodeTable::new(&l),
            Err(CodeProblem::NotComplete { kraft: 2048 })
        ));
    }
}
