//! One DF11 unit (a compressed group) in memory, its parallel layout, and the host validation
//! every decoder runs first. The bit layout is described in the crate docs.

use crate::error::{Df11Error, Result};

/// Bytes of one decode table row, and entries of it.
pub const LUT_ROW: usize = 256;
/// Table entries at or above this value point to table `256 − value`.
pub const POINTER_MIN: u8 = 240;
/// Decode tables a pointer can reach (240..=255 → 16..=1) plus table 0.
pub const MAX_DECODE_TABLES: usize = 17;
/// Levels of the table chain: after three pointers the fourth value is a symbol.
pub const MAX_LEVELS: usize = 4;
/// Longest code the tables (and the decoders' look-ahead) allow.
pub const MAX_CODE_BITS: u32 = 32;
/// Bits of one packed gap.
pub const GAP_BITS: usize = 5;

/// How the stream is cut for parallel decoding: each thread owns `bytes_per_thread` bytes,
/// `threads_per_block` threads share one output position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub threads_per_block: u32,
    pub bytes_per_thread: u32,
}

impl Layout {
    /// What every published DF11 checkpoint uses: `threads_per_block: [512]`,
    /// `bytes_per_thread: 8`.
    pub const DF11: Layout = Layout {
        threads_per_block: 512,
        bytes_per_thread: 8,
    };

    /// Checks what the format allows: a gap is 5 bits, so a thread must own exactly 64 bits
    /// (a 32-bit code may end 31 bits into the next thread); blocks of 1..=1024 threads.
    pub fn check(self) -> Result<Self> {
        if self.bytes_per_thread != 8 {
            return Err(Df11Error::Layout {
                what: "bytes_per_thread",
                expected: "8 (5-bit gaps address 32 bits past a 64-bit thread)".into(),
                actual: self.bytes_per_thread.to_string(),
            });
        }
        if !(1..=1024).contains(&self.threads_per_block) {
            return Err(Df11Error::Layout {
                what: "threads_per_block",
                expected: "1..=1024".into(),
                actual: self.threads_per_block.to_string(),
            });
        }
        Ok(self)
    }

    /// Bits each thread owns.
    pub fn thread_bits(self) -> u64 {
        u64::from(self.bytes_per_thread) * 8
    }

    /// Stream bytes each block owns.
    pub fn block_bytes(self) -> u64 {
        u64::from(self.bytes_per_thread) * u64::from(self.threads_per_block)
    }

    /// Blocks the reference kernel launches for `n_bytes` of stream.
    pub fn blocks_for_bytes(self, n_bytes: u64) -> u64 {
        n_bytes.div_ceil(self.block_bytes())
    }
}

/// The DF11 tensors of one unit, borrowed (from a memory-mapped file or an encoder's output).
#[derive(Debug, Clone)]
pub struct Unit<'a> {
    /// u8 `[n_luts, 256]`: decode tables, then the code length of each symbol.
    pub luts: &'a [u8],
    /// The exponent codes, MSB first.
    pub encoded_exponent: &'a [u8],
    /// One byte per weight: sign in bit 7, mantissa in bits 0..6.
    pub sign_mantissa: &'a [u8],
    /// u32 little-endian: the first weight of each block, then the weight count.
    pub output_positions: &'a [u8],
    /// Per thread, the 5-bit offset of its first code, packed MSB first.
    pub gaps: &'a [u8],
    /// Where the decoded stream is cut into weights (empty: one weight).
    pub split_positions: Vec<i64>,
}

/// A unit that passed [`Unit::validate`], with its metadata parsed.
#[derive(Debug, Clone)]
pub struct Checked<'a> {
    pub unit: Unit<'a>,
    pub layout: Layout,
    /// Weights.
    pub n: usize,
    /// Rows of `luts`, the length row included.
    pub n_luts: usize,
    /// Blocks that produce output: `output_positions.len() − 1`.
    pub blocks: usize,
    pub output_positions: Vec<u32>,
}

impl<'a> Unit<'a> {
    /// Checks everything that can be checked without decoding the stream: sizes, the table
    /// chains, the output positions and the split positions. A unit that passes cannot make a
    /// decoder read outside its tensors or loop; whether the stream agrees with its gaps and
    /// positions is checked by [`crate::reference::decode`].
    pub fn validate(self, name: &str, layout: Layout) -> Result<Checked<'a>> {
        let layout = layout.check()?;
        let n = self.sign_mantissa.len();
        if u32::try_from(n).is_err() {
            return Err(Df11Error::tensor(
                name,
                "sign_mantissa",
                "length",
                "at most u32::MAX weights",
                n,
            ));
        }
        let n_luts = check_luts(name, self.luts)?;
        let output_positions = parse_positions(name, self.output_positions, n)?;
        let blocks = output_positions.len() - 1;
        let stream_blocks = layout.blocks_for_bytes(self.encoded_exponent.len() as u64);
        if blocks as u64 > stream_blocks {
            return Err(Df11Error::tensor(
                name,
                "encoded_exponent",
                "length",
                format!(
                    "at least {} bytes for the {blocks} blocks of output_positions",
                    (blocks as u64 - 1) * layout.block_bytes() + 1
                ),
                format!("{} bytes (truncated)", self.encoded_exponent.len()),
            ));
        }
        let max_codes = layout.block_bytes() * 8;
        if let Some(b) = (0..blocks)
            .find(|&b| u64::from(output_positions[b + 1] - output_positions[b]) > max_codes)
        {
            return Err(Df11Error::tensor(
                name,
                "output_positions",
                "weights per block",
                format!("at most {max_codes} (one per stream bit)"),
                format!(
                    "{} in block {b}",
                    output_positions[b + 1] - output_positions[b]
                ),
            ));
        }
        let min_bits = min_code_bits(self.luts, n_luts);
        if (n as u64) * u64::from(min_bits) > self.encoded_exponent.len() as u64 * 8 {
            return Err(Df11Error::tensor(
                name,
                "encoded_exponent",
                "length",
                format!(
                    "at least {} bits for {n} codes of at least {min_bits} bits",
                    n as u64 * u64::from(min_bits)
                ),
                format!("{} bytes (truncated)", self.encoded_exponent.len()),
            ));
        }
        let threads = blocks as u64 * u64::from(layout.threads_per_block);
        let gap_bytes = (threads * GAP_BITS as u64).div_ceil(8);
        if (self.gaps.len() as u64) < gap_bytes {
            return Err(Df11Error::tensor(
                name,
                "gaps",
                "length",
                format!("at least {gap_bytes} bytes for {threads} threads"),
                self.gaps.len(),
            ));
        }
        check_splits(name, &self.split_positions, n)?;
        Ok(Checked {
            unit: self,
            layout,
            n,
            n_luts,
            blocks,
            output_positions,
        })
    }
}

/// The 5-bit gap of thread `t`, read MSB first from the packed bytes (0 past the end).
pub fn gap(gaps: &[u8], t: u64) -> u32 {
    let bit = t * GAP_BITS as u64;
    let byte = (bit / 8) as usize;
    let pair = u32::from(gaps.get(byte).copied().unwrap_or(0)) << 8
        | u32::from(gaps.get(byte + 1).copied().unwrap_or(0));
    (pair >> (11 - (bit % 8) as u32)) & 0x1f
}

/// The decode tables of a unit with the length row split off.
#[derive(Debug, Clone, Copy)]
pub struct Tables<'a> {
    luts: &'a [u8],
    lengths: &'a [u8],
}

impl<'a> Tables<'a> {
    /// `luts` must have passed [`Unit::validate`] (or come from the encoder).
    pub fn new(luts: &'a [u8]) -> Self {
        let rows = luts.len() / LUT_ROW;
        let (tables, lengths) = luts.split_at((rows - 1) * LUT_ROW);
        Self {
            luts: tables,
            lengths,
        }
    }

    /// The symbol whose code starts with the 32 bits `window` (MSB first) and its length.
    #[inline]
    pub fn decode(&self, window: u32) -> (u8, u32) {
        let mut value = self.luts[(window >> 24) as usize];
        for level in 1..MAX_LEVELS {
            if value < POINTER_MIN {
                break;
            }
            let table = 256 - usize::from(value);
            let byte = (window >> (24 - 8 * level)) & 0xff;
            value = self.luts[table * LUT_ROW + byte as usize];
        }
        (value, u32::from(self.lengths[usize::from(value)]))
    }
}

/// Rows of `luts` after checking that every chain from table 0 ends, within four levels, at a
/// symbol with a code length of 1..=32, and that every pointer goes forward to a decode table.
fn check_luts(unit: &str, luts: &[u8]) -> Result<usize> {
    if luts.is_empty() || !luts.len().is_multiple_of(LUT_ROW) {
        return Err(Df11Error::tensor(
            unit,
            "luts",
            "length",
            "a non-zero multiple of 256 bytes",
            luts.len(),
        ));
    }
    let rows = luts.len() / LUT_ROW;
    let tables = rows - 1;
    if !(1..=MAX_DECODE_TABLES).contains(&tables) {
        return Err(Df11Error::tensor(
            unit,
            "luts",
            "rows",
            format!(
                "2..={} (decode tables, then lengths)",
                MAX_DECODE_TABLES + 1
            ),
            rows,
        ));
    }
    let lengths = &luts[tables * LUT_ROW..];
    // reach[level] = tables entered at that level.
    let mut reach = [[false; MAX_DECODE_TABLES]; MAX_LEVELS];
    reach[0][0] = true;
    for level in 0..MAX_LEVELS {
        for table in 0..tables {
            if !reach[level][table] {
                continue;
            }
            for entry in 0..LUT_ROW {
                let value = luts[table * LUT_ROW + entry];
                let lut_error = |problem: String| Df11Error::Lut {
                    unit: unit.to_string(),
                    table,
                    entry,
                    level,
                    problem,
                };
                if value >= POINTER_MIN && level + 1 < MAX_LEVELS {
                    let target = 256 - usize::from(value);
                    if target >= tables {
                        return Err(lut_error(format!(
                            "pointer {value} names table {target}, past the {tables} decode tables"
                        )));
                    }
                    if target <= table {
                        return Err(lut_error(format!(
                            "pointer {value} names table {target}, not after table {table} (a loop)"
                        )));
                    }
                    reach[level + 1][target] = true;
                } else {
                    let len = lengths[usize::from(value)];
                    if !(1..=MAX_CODE_BITS as u8).contains(&len) {
                        return Err(lut_error(format!(
                            "symbol {value} has code length {len}, expected 1..=32"
                        )));
                    }
                }
            }
        }
    }
    Ok(rows)
}

/// Shortest code length of a symbol table 0 can reach directly (a floor for any code).
fn min_code_bits(luts: &[u8], rows: usize) -> u32 {
    let lengths = &luts[(rows - 1) * LUT_ROW..];
    lengths
        .iter()
        .filter(|&&l| l > 0)
        .map(|&l| u32::from(l))
        .min()
        .unwrap_or(1)
}

fn parse_positions(unit: &str, bytes: &[u8], n: usize) -> Result<Vec<u32>> {
    if bytes.len() < 4 || !bytes.len().is_multiple_of(4) {
        return Err(Df11Error::tensor(
            unit,
            "output_positions",
            "length",
            "a non-zero multiple of 4 bytes (u32 little-endian)",
            bytes.len(),
        ));
    }
    let positions: Vec<u32> = bytes
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let last = *positions.last().unwrap_or(&0);
    if last as usize != n {
        return Err(Df11Error::tensor(
            unit,
            "output_positions",
            "last entry",
            format!("the weight count {n} (length of sign_mantissa)"),
            last,
        ));
    }
    if positions[0] != 0 && positions.len() > 1 {
        return Err(Df11Error::tensor(
            unit,
            "output_positions",
            "first entry",
            0,
            positions[0],
        ));
    }
    if let Some(b) = positions.windows(2).position(|w| w[0] > w[1]) {
        return Err(Df11Error::tensor(
            unit,
            "output_positions",
            "entries",
            "non-decreasing",
            format!("{} then {} at block {b}", positions[b], positions[b + 1]),
        ));
    }
    if positions.len() == 1 && n != 0 {
        return Err(Df11Error::tensor(
            unit,
            "output_positions",
            "length",
            "at least 8 bytes (one block) for a non-empty unit",
            4,
        ));
    }
    Ok(positions)
}

fn check_splits(unit: &str, splits: &[i64], n: usize) -> Result<()> {
    let mut previous = 0i64;
    for &s in splits {
        if s < previous || s as u64 > n as u64 {
            return Err(Df11Error::tensor(
                unit,
                "split_positions",
                "entries",
                format!("non-decreasing within 0..={n}"),
                format!("{splits:?}"),
            ));
        }
        previous = s;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_are_five_bits_msb_first() {
        // 5-bit values 1, 31, 0, 17 packed: 00001 11111 00000 10001 (+ pad).
        let bits = "00001111110000010001";
        let mut bytes = vec![0u8; 3];
        for (i, c) in bits.chars().enumerate() {
            if c == '1' {
                bytes[i / 8] |= 0x80 >> (i % 8);
            }
        }
        let got: Vec<u32> = (0..4).map(|t| gap(&bytes, t)).collect();
        assert_eq!(got, vec![1, 31, 0, 17]);
        assert_eq!(gap(&bytes, 100), 0);
    }

    #[test]
    fn layout_limits() {
        assert!(Layout::DF11.check().is_ok());
        let bad = Layout {
            threads_per_block: 512,
            bytes_per_thread: 4,
        };
        assert!(matches!(
            bad.check(),
            Err(Df11Error::Layout {
                what: "bytes_per_thread",
                ..
            })
        ));
        assert_eq!(Layout::DF11.blocks_for_bytes(4097), 2);
    }
}
