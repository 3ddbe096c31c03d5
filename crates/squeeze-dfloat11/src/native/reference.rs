//! The CPU reference decoder of native units: plain, bit-exact and strict — every chunk decodes
//! its fixed number of codes from its offset with one table lookup each, and must end exactly
//! where the next chunk (or the stream) starts.

use crate::error::{Df11Error, Result};
use crate::native::format::{CheckedNative, NativeUnit, chunk_begin};
use crate::native::huffman::MAX_CODE_BITS;
use crate::reference::bf16;

/// The `MAX_CODE_BITS` stream bits at `bit` (MSB first within each word, zeros past the end).
#[inline]
pub fn peek(words: &[u32], bit: u64) -> u32 {
    let w = (bit / 32) as usize;
    let hi = u64::from(words.get(w).copied().unwrap_or(0));
    let lo = u64::from(words.get(w + 1).copied().unwrap_or(0));
    ((((hi << 32) | lo) << (bit % 32)) >> (64 - MAX_CODE_BITS)) as u32
}

/// Validates `unit` and decodes it to BF16 bits (row-major).
pub fn decode(unit: NativeUnit<'_>, name: &str) -> Result<Vec<u16>> {
    decode_checked(&unit.validate(name)?, name)
}

/// Decodes a validated unit to BF16 bits (row-major).
pub fn decode_checked(c: &CheckedNative<'_>, name: &str) -> Result<Vec<u16>> {
    let words: Vec<u32> = c
        .unit
        .exponents
        .chunks_exact(4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let sign_mantissa = c.unit.sign_mantissa;
    let mut out = vec![0u16; c.n];
    for g in 0..c.chunks {
        let mut bit = u64::from(c.starts[g]);
        let range = chunk_begin(g, c.unit.cols, c.chunks_per_row)
            ..chunk_begin(g + 1, c.unit.cols, c.chunks_per_row);
        for i in range {
            let (exponent, len) = c.table.decode(peek(&words, bit));
            out[i] = bf16(exponent, sign_mantissa[i]);
            bit += u64::from(len);
        }
        let next = u64::from(c.starts[g + 1]);
        if bit != next {
            return Err(Df11Error::NativeStream {
                unit: name.to_string(),
                chunk: g,
                what: format!("its codes end at bit {bit}, but the next chunk starts at {next}"),
            });
        }
    }
    Ok(out)
}
