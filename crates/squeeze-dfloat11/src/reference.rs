//! The CPU reference decoder: plain, bit-exact, and strict. It decodes exactly as the GPU kernel
//! (and the CUDA reference) does — every thread from its gap while its codes start inside its
//! 64 bits, block output from `output_positions[b]` plus the counts of the threads before it,
//! nothing at or past `n` — and on top of that checks that the stream agrees with its metadata:
//! each thread's first code starts where the previous thread's codes end, and each block decodes
//! exactly as many weights as `output_positions` gives it (the last may decode padding beyond).

use crate::error::{Df11Error, Result};
use crate::format::{Checked, Layout, Tables, Unit, gap};

/// BF16 bits from an exponent and a sign/mantissa byte.
#[inline]
pub fn bf16(exponent: u8, sign_mantissa: u8) -> u16 {
    (u16::from(sign_mantissa & 0x80) << 8)
        | (u16::from(exponent) << 7)
        | u16::from(sign_mantissa & 0x7f)
}

/// The 32 stream bits starting at `bit`, MSB first, zeros past the end.
#[inline]
pub fn peek32(stream: &[u8], bit: u64) -> u32 {
    let byte = (bit / 8) as usize;
    let mut window = 0u64;
    if let Some(five) = stream.get(byte..byte + 5) {
        for &b in five {
            window = (window << 8) | u64::from(b);
        }
    } else {
        for i in 0..5 {
            window = (window << 8) | u64::from(stream.get(byte + i).copied().unwrap_or(0));
        }
    }
    (window >> (8 - bit % 8)) as u32
}

/// Validates `unit` and decodes it to BF16 bits.
pub fn decode(unit: Unit<'_>, name: &str, layout: Layout) -> Result<Vec<u16>> {
    decode_checked(&unit.validate(name, layout)?, name)
}

/// Decodes a validated unit to BF16 bits.
pub fn decode_checked(c: &Checked<'_>, name: &str) -> Result<Vec<u16>> {
    let tables = Tables::new(c.unit.luts);
    let stream = c.unit.encoded_exponent;
    let sign_mantissa = c.unit.sign_mantissa;
    let tpb = c.layout.threads_per_block as usize;
    let thread_bits = c.layout.thread_bits();
    let max_codes = thread_bits as usize;
    let mut out = vec![0u16; c.n];
    let mut symbols = vec![0u8; tpb * max_codes];
    let mut counts = vec![0usize; tpb];
    let mut bounds = vec![(0u64, 0u64); tpb];
    // End bit of the last thread that produced weights, to check the next one's gap against.
    let mut previous_end: Option<(u64, u64)> = None;
    for block in 0..c.blocks {
        for t in 0..tpb {
            let global = (block * tpb + t) as u64;
            let start = global * thread_bits + u64::from(gap(c.unit.gaps, global));
            let limit = (global + 1) * thread_bits;
            let mut bit = start;
            let mut k = 0;
            while bit < limit && k < max_codes {
                let (symbol, len) = tables.decode(peek32(stream, bit));
                symbols[t * max_codes + k] = symbol;
                k += 1;
                bit += u64::from(len);
            }
            counts[t] = k;
            bounds[t] = (start, bit);
        }
        let lo = c.output_positions[block] as usize;
        let hi = c.output_positions[block + 1] as usize;
        let mut index = lo;
        for t in 0..tpb {
            if index < hi {
                let global = (block * tpb + t) as u64;
                if let Some((thread, end)) = previous_end
                    && end != bounds[t].0
                {
                    return Err(Df11Error::stream(
                        name,
                        format!(
                            "thread {global} starts at bit {} (gap {}), but thread {thread}'s codes end at bit {end}: gaps disagree with the stream",
                            bounds[t].0,
                            bounds[t].0 - global * thread_bits
                        ),
                    ));
                }
                previous_end = Some((global, bounds[t].1));
            }
            for &symbol in &symbols[t * max_codes..t * max_codes + counts[t]] {
                if index < hi {
                    out[index] = bf16(symbol, sign_mantissa[index]);
                }
                index += 1;
            }
        }
        let decoded = index - lo;
        if decoded < hi - lo || (decoded > hi - lo && hi < c.n) {
            return Err(Df11Error::stream(
                name,
                format!(
                    "block {block} decodes {decoded} codes, but output_positions gives it {} weights ({lo}..{hi})",
                    hi - lo
                ),
            ));
        }
    }
    Ok(out)
}

/// Cuts a decoded unit at its split positions into its weights.
pub fn split<'a>(values: &'a [u16], split_positions: &[i64]) -> Vec<&'a [u16]> {
    let mut parts = Vec::with_capacity(split_positions.len() + 1);
    let mut start = 0usize;
    for &s in split_positions {
        let s = (s.max(0) as usize).clamp(start, values.len());
        parts.push(&values[start..s]);
        start = s;
    }
    parts.push(&values[start..]);
    parts
}

/// The GEMV reference: y[b, r] = Σ_c W[r, c] · x[b, c] in f64 for BF16 bits `weights` [rows,
/// cols] and `x` [batch, cols], with Σ_c |W[r, c] · x[b, c]| (the scale of the rounding error
/// of an f32 sum) beside each result, both [batch, rows]. Non-finite weights propagate as in
/// IEEE arithmetic (inf · 0 = NaN).
pub fn gemv(
    weights: &[u16],
    rows: usize,
    cols: usize,
    x: &[f32],
    batch: usize,
) -> (Vec<f64>, Vec<f64>) {
    assert_eq!(weights.len(), rows * cols, "weights [rows, cols]");
    assert_eq!(x.len(), batch * cols, "x [batch, cols]");
    let mut y = vec![0.0; batch * rows];
    let mut scale = vec![0.0; batch * rows];
    for b in 0..batch {
        let xb = &x[b * cols..(b + 1) * cols];
        for r in 0..rows {
            let row = &weights[r * cols..(r + 1) * cols];
            let (mut sum, mut abs) = (0.0f64, 0.0f64);
            for (&w, &a) in row.iter().zip(xb) {
                let p = f64::from(f32::from_bits(u32::from(w) << 16)) * f64::from(a);
                sum += p;
                abs += p.abs();
            }
            y[b * rows + r] = sum;
            scale[b * rows + r] = abs;
        }
    }
    (y, scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_recombine_every_bf16() {
        for w in 0..=u16::MAX {
            let exponent = ((w >> 7) & 0xff) as u8;
            let sm = (((w >> 8) & 0x80) | (w & 0x7f)) as u8;
            assert_eq!(bf16(exponent, sm), w);
        }
    }

    #[test]
    fn peek_reads_msb_first_with_zero_padding() {
        let s = [0b1010_0000, 0xff, 0x00, 0x0f, 0x81];
        assert_eq!(peek32(&s, 0), 0xa0ff_000f);
        assert_eq!(peek32(&s, 4), 0x0ff0_00f8);
        assert_eq!(peek32(&s, 36), 0x1000_0000);
        assert_eq!(peek32(&s, 100), 0);
    }

    #[test]
    fn split_cuts_in_order() {
        let v = [1u16, 2, 3, 4, 5];
        assert_eq!(
            split(&v, &[2, 2, 4]),
            vec![&v[..2], &v[2..2], &v[2..4], &v[4..]]
        );
        assert_eq!(split(&v, &[]), vec![&v[..]]);
    }
}
