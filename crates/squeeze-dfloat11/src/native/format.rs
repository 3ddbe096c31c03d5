//! One native unit (a compressed matrix) in memory and the host validation every decoder runs
//! first. The layout is described in [`crate::native`].

use crate::error::{Df11Error, Result};
use crate::native::huffman::DecodeTable;
use crate::native::{CHUNK_SYMBOLS, MAX_TILE_BITS, TILE_CHUNKS};

/// The tensors of one native unit, borrowed (from a memory-mapped file or an encoder's output),
/// with the matrix shape they encode.
#[derive(Debug, Clone, Copy)]
pub struct NativeUnit<'a> {
    pub rows: usize,
    pub cols: usize,
    /// u8 `[256]`: the code length of each exponent, 0 if absent.
    pub lengths: &'a [u8],
    /// u32 little-endian words of the exponent codes, MSB first within each word.
    pub exponents: &'a [u8],
    /// One byte per weight: sign in bit 7, mantissa in bits 0..6.
    pub sign_mantissa: &'a [u8],
    /// u32 little-endian `[tiles + 1]`: the first bit of each tile, then the stream's bits.
    pub tile_offsets: &'a [u8],
    /// u16 little-endian `[chunks]`: each chunk's first bit relative to its tile's.
    pub chunk_offsets: &'a [u8],
}

/// A unit that passed [`NativeUnit::validate`], with its tables and offsets parsed.
#[derive(Debug, Clone)]
pub struct CheckedNative<'a> {
    pub unit: NativeUnit<'a>,
    /// Weights: `rows · cols`.
    pub n: usize,
    pub chunks_per_row: usize,
    pub chunks: usize,
    pub table: DecodeTable,
    /// Absolute first bit of every chunk, then the stream's length in bits: `[chunks + 1]`.
    pub starts: Vec<u32>,
}

/// Chunks of a row of `cols` weights.
pub fn chunks_per_row(cols: usize) -> usize {
    cols.div_ceil(CHUNK_SYMBOLS)
}

/// Tiles of `chunks` chunks.
pub fn tiles(chunks: usize) -> usize {
    chunks.div_ceil(TILE_CHUNKS)
}

/// First weight of chunk `g` (chunks tile the row-major weights in order; `g = chunks` gives `n`).
pub fn chunk_begin(g: usize, cols: usize, chunks_per_row: usize) -> usize {
    if chunks_per_row == 0 {
        return 0;
    }
    let (row, k) = (g / chunks_per_row, g % chunks_per_row);
    row * cols + (k * CHUNK_SYMBOLS).min(cols)
}

impl<'a> NativeUnit<'a> {
    /// Checks everything that can be checked without decoding: the shape against the sizes, the
    /// code lengths (a complete prefix code of at most 12 bits), and the offsets (starting at 0,
    /// non-decreasing, each chunk's bits within what its symbols can take, the last equal to
    /// the stream's length). A unit that passes cannot make a decoder read outside its tensors;
    /// whether each chunk decodes to exactly its bits is checked by
    /// [`crate::native::reference::decode`].
    pub fn validate(self, name: &str) -> Result<CheckedNative<'a>> {
        let n = self.weights(name)?;
        let (table, code_bits) = self.code(name, n)?;
        let cpr = chunks_per_row(self.cols);
        let chunks = self.rows * cpr;
        let starts = self.chunk_starts(name, chunks)?;
        self.check_chunk_bits(name, &starts, cpr, code_bits)?;
        Ok(CheckedNative {
            unit: self,
            n,
            chunks_per_row: cpr,
            chunks,
            table,
            // Non-decreasing up to total_bits (checked by chunk_starts), so each fits u32.
            starts: starts.into_iter().map(|s| s as u32).collect(),
        })
    }

    /// The weight count `rows × cols` (at most u32::MAX), which `sign_mantissa` must hold.
    fn weights(&self, name: &str) -> Result<usize> {
        let n = self
            .rows
            .checked_mul(self.cols)
            .filter(|&n| n <= u32::MAX as usize);
        let Some(n) = n else {
            return Err(Df11Error::native(
                name,
                "shape",
                "rows × cols",
                "at most u32::MAX weights",
                format!("{} × {}", self.rows, self.cols),
            ));
        };
        if self.sign_mantissa.len() != n {
            return Err(Df11Error::native(
                name,
                "sign_mantissa",
                "length",
                format!("rows × cols = {n} bytes"),
                self.sign_mantissa.len(),
            ));
        }
        Ok(n)
    }

    /// The decode table of the 256 code lengths, and the shortest and longest code in bits.
    fn code(&self, name: &str, n: usize) -> Result<(DecodeTable, (u64, u64))> {
        if self.lengths.len() != 256 {
            return Err(Df11Error::native(
                name,
                "lengths",
                "length",
                "256 bytes",
                self.lengths.len(),
            ));
        }
        let lengths: [u8; 256] = self.lengths.try_into().expect("checked length");
        let table = DecodeTable::new(&lengths).map_err(|problem| Df11Error::NativeCode {
            unit: name.to_string(),
            problem,
        })?;
        let (min_len, max_len) = lengths
            .iter()
            .filter(|&&l| l > 0)
            .fold((u64::MAX, 0u64), |(lo, hi), &l| {
                (lo.min(u64::from(l)), hi.max(u64::from(l)))
            });
        if n > 0 && max_len == 0 {
            return Err(Df11Error::native(
                name,
                "lengths",
                "entries",
                "at least one non-zero code length for a non-empty unit",
                "all zero",
            ));
        }
        Ok((table, (min_len, max_len)))
    }

    /// Each chunk's first bit in the exponent stream (`chunks + 1` entries, the last the
    /// stream's length), from the tile and chunk offsets, which are checked along the way.
    fn chunk_starts(&self, name: &str, chunks: usize) -> Result<Vec<u64>> {
        let tile_count = tiles(chunks);
        let tile_offsets = words::<4>(name, "tile_offsets", self.tile_offsets, tile_count + 1)?;
        let chunk_offsets = words::<2>(name, "chunk_offsets", self.chunk_offsets, chunks)?;
        let total_bits = *tile_offsets.last().expect("tiles + 1 entries");
        let words = self.exponents.len() / 4;
        if !self.exponents.len().is_multiple_of(4)
            || words as u64 != u64::from(total_bits).div_ceil(32)
        {
            return Err(Df11Error::native(
                name,
                "exponents",
                "length",
                format!(
                    "{} bytes: the {total_bits} bits of tile_offsets' last entry in u32 words",
                    4 * u64::from(total_bits).div_ceil(32)
                ),
                self.exponents.len(),
            ));
        }
        let mut starts = Vec::with_capacity(chunks + 1);
        for (g, &relative) in chunk_offsets.iter().enumerate() {
            let tile = g / TILE_CHUNKS;
            if g % TILE_CHUNKS == 0 && relative != 0 {
                return Err(Df11Error::native(
                    name,
                    "chunk_offsets",
                    "first entry of a tile",
                    0,
                    format!("{relative} at chunk {g}"),
                ));
            }
            if relative >= MAX_TILE_BITS {
                return Err(Df11Error::native(
                    name,
                    "chunk_offsets",
                    "entries",
                    format!("below {MAX_TILE_BITS} (bits of a full tile)"),
                    format!("{relative} at chunk {g}"),
                ));
            }
            starts.push(u64::from(tile_offsets[tile]) + u64::from(relative));
        }
        starts.push(u64::from(total_bits));
        if tile_offsets[0] != 0 {
            return Err(Df11Error::native(
                name,
                "tile_offsets",
                "first entry",
                0,
                tile_offsets[0],
            ));
        }
        Ok(starts)
    }

    /// Fails unless every chunk's bits can hold its codes: between its weight count times the
    /// shortest and times the longest code (which also makes the starts non-decreasing).
    fn check_chunk_bits(
        &self,
        name: &str,
        starts: &[u64],
        cpr: usize,
        (min_len, max_len): (u64, u64),
    ) -> Result<()> {
        for g in 0..starts.len() - 1 {
            let count =
                (chunk_begin(g + 1, self.cols, cpr) - chunk_begin(g, self.cols, cpr)) as u64;
            let bits = starts[g + 1].checked_sub(starts[g]);
            let fits = bits.is_some_and(|b| (count * min_len..=count * max_len).contains(&b));
            if !fits {
                return Err(Df11Error::NativeStream {
                    unit: name.to_string(),
                    chunk: g,
                    what: format!(
                        "starts at bit {} and the next at {}: {count} codes of {min_len}..={max_len} bits cannot fill that",
                        starts[g],
                        starts[g + 1]
                    ),
                });
            }
        }
        Ok(())
    }
}

/// `count` little-endian words of `B` bytes from `bytes`, which must hold exactly that many.
fn words<const B: usize>(
    name: &str,
    tensor: &'static str,
    bytes: &[u8],
    count: usize,
) -> Result<Vec<u32>> {
    if bytes.len() != B * count {
        return Err(Df11Error::native(
            name,
            tensor,
            "length",
            format!("{} bytes ({count} entries of {B})", B * count),
            bytes.len(),
        ));
    }
    Ok(bytes
        .chunks_exact(B)
        .map(|c| {
            c.iter()
                .rev()
                .fold(0u32, |acc, &b| (acc << 8) | u32::from(b))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use crate::error::Df11Error;
    use crate::native::encode;

    fn sample() -> crate::native::NativeEncoded {
        let w: Vec<u16> = (0..40 * 300u32)
            .map(|i| 0x3c00 + (i.wrapping_mul(2_654_435_761) >> 20) as u16 % 0x300)
            .collect();
        encode(&w, 40, 300, 2).unwrap()
    }

    fn problem(e: &crate::native::NativeEncoded) -> Df11Error {
        let r = e.unit().validate("bad");
        let err = r.and_then(|c| crate::native::reference::decode_checked(&c, "bad"));
        err.expect_err("malformed unit accepted")
    }

    #[test]
    fn malformed_units_get_typed_errors() {
        let good = sample();
        assert!(good.unit().validate("good").is_ok());

        let mut e = good.clone();
        e.lengths[0] = 13;
        assert!(matches!(problem(&e), Df11Error::NativeCode { .. }));
        let mut e = good.clone();
        let s = e.lengths.iter().position(|&l| l > 0).unwrap();
        e.lengths[s] += 1;
        assert!(matches!(problem(&e), Df11Error::NativeCode { .. }));
        let mut e = good.clone();
        e.lengths.pop();
        assert!(matches!(
            problem(&e),
            Df11Error::NativeTensor {
                tensor: "lengths",
                ..
            }
        ));

        let mut e = good.clone();
        e.sign_mantissa.pop();
        assert!(matches!(
            problem(&e),
            Df11Error::NativeTensor {
                tensor: "sign_mantissa",
                ..
            }
        ));
        let mut e = good.clone();
        e.exponents.push(0);
        assert!(matches!(
            problem(&e),
            Df11Error::NativeTensor {
                tensor: "exponents",
                ..
            }
        ));
        let mut e = good.clone();
        e.chunk_offsets.pop();
        assert!(matches!(
            problem(&e),
            Df11Error::NativeTensor {
                tensor: "chunk_offsets",
                ..
            }
        ));
        let mut e = good.clone();
        e.tile_offsets[0] = 1;
        assert!(matches!(
            problem(&e),
            Df11Error::NativeTensor {
                tensor: "tile_offsets",
                ..
            }
        ));
        let mut e = good.clone();
        e.chunk_offsets[32] = 5;
        assert!(matches!(
            problem(&e),
            Df11Error::NativeTensor {
                tensor: "chunk_offsets",
                ..
            }
        ));

        // Non-monotonic chunk offsets.
        let mut e = good.clone();
        e.chunk_offsets.swap(3, 4);
        assert!(matches!(
            problem(&e),
            Df11Error::NativeStream { chunk: 2 | 3, .. }
        ));
        // An offset moved by one bit: sizes still plausible, decoding disagrees.
        let mut e = good.clone();
        e.chunk_offsets[5] += 1;
        assert!(matches!(problem(&e), Df11Error::NativeStream { .. }));
        // Flipped stream bits.
        let mut e = good.clone();
        e.exponents[10] ^= 0xf0f0_0f0f;
        assert!(matches!(problem(&e), Df11Error::NativeStream { .. }));

        let mut e = good.clone();
        e.rows = 41;
        assert!(matches!(problem(&e), Df11Error::NativeTensor { .. }));
        let mut e = good;
        e.rows = 1 << 20;
        e.cols = 1 << 13;
        assert!(matches!(
            problem(&e),
            Df11Error::NativeTensor {
                tensor: "shape",
                ..
            }
        ));
    }
}
