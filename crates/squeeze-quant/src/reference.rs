//! CPU reference: dequantization exactly as GGUF defines each block (ggml's
//! `dequantize_row_*`, same operation order), and the round-to-nearest quantizers ggml uses to
//! write Q8_0, Q4_0 and Q4_1 (`quantize_row_*_ref`).

use half::f16;
use squeeze_core::Error;

use crate::format::Format;

fn f16_at(block: &[u8], offset: usize) -> f32 {
    f16::from_le_bytes([block[offset], block[offset + 1]]).to_f32()
}

/// The 4-bit code of weight `j` (0..32) of a block whose packed nibbles are `qs`.
fn nibble(qs: &[u8], j: usize) -> u8 {
    if j < 16 {
        qs[j] & 0x0f
    } else {
        qs[j - 16] >> 4
    }
}

/// MXFP4 codes: E2M1 values doubled (ggml's `kvalues_mxfp4`); the block scale is halved to match.
const MXFP4_VALUES: [i8; 16] = [0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12];

/// IQ4_NL's non-linear code book (ggml's `kvalues_iq4nl`).
const IQ4_NL_VALUES: [i8; 16] = [
    -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113,
];

/// The 5-bit code of weight `j` (0..32) of a Q5_0/Q5_1 block: nibble as in Q4_0, bit 4 from bit
/// j of `qh`.
fn q5_code(qs: &[u8], qh: u32, j: usize) -> u8 {
    nibble(qs, j) | ((((qh >> j) & 1) as u8) << 4)
}

fn u32_at(block: &[u8], offset: usize) -> u32 {
    u32::from_le_bytes([
        block[offset],
        block[offset + 1],
        block[offset + 2],
        block[offset + 3],
    ])
}

/// The signed scale `s` (0..16) of a Q3_K block's 12 packed scale bytes: 6 bits, less 32.
fn q3_k_scale(scales: &[u8], s: usize) -> i8 {
    let low = (scales[s % 8] >> (4 * (s / 8))) & 0x0f;
    let high = (scales[8 + s % 4] >> (2 * (s / 4))) & 3;
    (low | (high << 4)) as i8 - 32
}

/// 2^(e − 128): the E8M0 scale halved (ggml's `ggml_e8m0_to_fp32_half`), subnormal for e < 2.
fn e8m0_half(e: u8) -> f32 {
    if e < 2 {
        f32::from_bits(0x0020_0000 << e)
    } else {
        f32::from_bits(u32::from(e - 1) << 23)
    }
}

/// The 6-bit scale and min of sub-block `j` of a Q4_K block (ggml's `get_scale_min_k4`).
fn q4_k_scale_min(scales: &[u8], j: usize) -> (u8, u8) {
    if j < 4 {
        (scales[j] & 63, scales[j + 4] & 63)
    } else {
        (
            (scales[j + 4] & 0x0f) | ((scales[j - 4] >> 6) << 4),
            (scales[j + 4] >> 4) | ((scales[j] >> 6) << 4),
        )
    }
}

/// Dequantizes one block into `out` (`format.block_weights()` weights).
pub fn dequantize_block(format: Format, block: &[u8], out: &mut [f32]) {
    match format {
        Format::Q8_0 => {
            let d = f16_at(block, 0);
            for (j, o) in out.iter_mut().enumerate() {
                *o = d * f32::from(block[2 + j] as i8);
            }
        }
        Format::Q4_0 => {
            let d = f16_at(block, 0);
            for (j, o) in out.iter_mut().enumerate() {
                *o = d * f32::from(nibble(&block[2..], j) as i8 - 8);
            }
        }
        Format::Q4_1 => {
            let (d, m) = (f16_at(block, 0), f16_at(block, 2));
            for (j, o) in out.iter_mut().enumerate() {
                *o = d * f32::from(nibble(&block[4..], j)) + m;
            }
        }
        Format::Mxfp4 => {
            let d = e8m0_half(block[0]);
            for (j, o) in out.iter_mut().enumerate() {
                *o = f32::from(MXFP4_VALUES[usize::from(nibble(&block[1..], j))]) * d;
            }
        }
        Format::Q5_0 => {
            let (d, qh) = (f16_at(block, 0), u32_at(block, 2));
            for (j, o) in out.iter_mut().enumerate() {
                *o = d * f32::from(q5_code(&block[6..], qh, j) as i8 - 16);
            }
        }
        Format::Q5_1 => {
            let (d, m, qh) = (f16_at(block, 0), f16_at(block, 2), u32_at(block, 4));
            for (j, o) in out.iter_mut().enumerate() {
                *o = d * f32::from(q5_code(&block[8..], qh, j)) + m;
            }
        }
        Format::Iq4Nl => {
            let d = f16_at(block, 0);
            for (j, o) in out.iter_mut().enumerate() {
                *o = d * f32::from(IQ4_NL_VALUES[usize::from(nibble(&block[2..], j))]);
            }
        }
        Format::Q4K | Format::Q5K => {
            // Q5_K is Q4_K with 32 bytes of high bits (qh) before the codes.
            let (d, min) = (f16_at(block, 0), f16_at(block, 2));
            let scales = &block[4..16];
            let (qh, qs) = if format == Format::Q5K {
                (Some(&block[16..48]), &block[48..176])
            } else {
                (None, &block[16..144])
            };
            for (p, (out, qs)) in out
                .chunks_exact_mut(64)
                .zip(qs.chunks_exact(32))
                .enumerate()
            {
                let (sc1, m1) = q4_k_scale_min(scales, 2 * p);
                let (sc2, m2) = q4_k_scale_min(scales, 2 * p + 1);
                let (d1, m1) = (d * f32::from(sc1), min * f32::from(m1));
                let (d2, m2) = (d * f32::from(sc2), min * f32::from(m2));
                for (l, &q) in qs.iter().enumerate() {
                    let high = |bit: usize| qh.map_or(0, |h| ((h[l] >> bit) & 1) << 4);
                    out[l] = d1 * f32::from((q & 0x0f) + high(2 * p)) - m1;
                    out[l + 32] = d2 * f32::from((q >> 4) + high(2 * p + 1)) - m2;
                }
            }
        }
        Format::Q3K | Format::Q2K => {
            // Q3_K: [hmask 32][qs 64][scales 12][d]; Q2_K: [scales 16][qs 64][d][dmin].
            for (h, out) in out.chunks_exact_mut(128).enumerate() {
                for (j, out) in out.chunks_exact_mut(32).enumerate() {
                    for (l, o) in out.iter_mut().enumerate() {
                        let s = 8 * h + 2 * j + l / 16;
                        *o = if format == Format::Q3K {
                            let qs = block[32 + 32 * h + l];
                            let q = ((qs >> (2 * j)) & 3) as i8;
                            let high = block[l] & (1 << (4 * h + j)) != 0;
                            let q = q - if high { 0 } else { 4 };
                            let d = f16_at(block, 108) * f32::from(q3_k_scale(&block[96..108], s));
                            d * f32::from(q)
                        } else {
                            let q = (block[16 + 32 * h + l] >> (2 * j)) & 3;
                            let sc = block[s];
                            let dl = f16_at(block, 80) * f32::from(sc & 0x0f);
                            let ml = f16_at(block, 82) * f32::from(sc >> 4);
                            dl * f32::from(q) - ml
                        };
                    }
                }
            }
        }
        Format::Q6K => {
            let d = f16_at(block, 208);
            for (h, out) in out.chunks_exact_mut(128).enumerate() {
                let ql = &block[64 * h..64 * h + 64];
                let qh = &block[128 + 32 * h..128 + 32 * h + 32];
                let sc = &block[192 + 8 * h..192 + 8 * h + 8];
                for l in 0..32 {
                    let is = l / 16;
                    let q = [
                        (ql[l] & 0x0f) | ((qh[l] & 3) << 4),
                        (ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4),
                        (ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4),
                        (ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4),
                    ];
                    for (k, q) in q.into_iter().enumerate() {
                        let scale = f32::from(sc[is + 2 * k] as i8);
                        out[l + 32 * k] = d * scale * f32::from(q as i8 - 32);
                    }
                }
            }
        }
    }
}

/// Dequantizes a `[rows, row_bytes]` tensor of `cols` weights per row to f32, row-major.
pub fn dequantize(format: Format, bytes: &[u8], cols: usize) -> Result<Vec<f32>, Error> {
    let row_bytes = format.row_bytes(cols)?;
    if !bytes.len().is_multiple_of(row_bytes) {
        return Err(Error::invalid(
            "w",
            "byte length",
            format!("a multiple of the row size {row_bytes} ({cols} {format} weights)"),
            bytes.len(),
        ));
    }
    let mut out = vec![0.0f32; bytes.len() / format.block_bytes() * format.block_weights()];
    for (block, o) in bytes
        .chunks_exact(format.block_bytes())
        .zip(out.chunks_exact_mut(format.block_weights()))
    {
        dequantize_block(format, block, o);
    }
    Ok(out)
}

/// The formats [`quantize`] writes.
pub const QUANTIZERS: [Format; 3] = [Format::Q8_0, Format::Q4_0, Format::Q4_1];

/// Quantizes `weights` (a whole number of 32-weight blocks) to Q8_0, Q4_0 or Q4_1 the way
/// ggml's reference quantizers do. The other formats come from converters that pick their
/// scales by search (llama.cpp's `llama-quantize`); squeeze only reads them.
pub fn quantize(format: Format, weights: &[f32]) -> Result<Vec<u8>, Error> {
    let quantize_block: fn(&[f32], &mut Vec<u8>) = match format {
        Format::Q8_0 => quantize_q8_0,
        Format::Q4_0 => quantize_q4_0,
        Format::Q4_1 => quantize_q4_1,
        Format::Q4K
        | Format::Q5K
        | Format::Q6K
        | Format::Mxfp4
        | Format::Q5_0
        | Format::Q5_1
        | Format::Iq4Nl
        | Format::Q3K
        | Format::Q2K => {
            let names: Vec<_> = QUANTIZERS.iter().map(|f| f.name()).collect();
            return Err(Error::invalid(
                "format",
                "quantizer",
                names.join(" | "),
                format,
            ));
        }
    };
    format.row_bytes(weights.len())?;
    let mut out = Vec::with_capacity(weights.len() / 32 * format.block_bytes());
    for x in weights.chunks_exact(32) {
        quantize_block(x, &mut out);
    }
    Ok(out)
}

fn inverse(d: f32) -> f32 {
    if d != 0.0 { 1.0 / d } else { 0.0 }
}

fn quantize_q8_0(x: &[f32], out: &mut Vec<u8>) {
    let amax = x.iter().fold(0.0f32, |a, v| a.max(v.abs()));
    let d = amax / 127.0;
    let id = inverse(d);
    out.extend_from_slice(&f16::from_f32(d).to_le_bytes());
    out.extend(x.iter().map(|v| (v * id).round() as i8 as u8));
}

fn pack_nibbles(q: &[u8; 32], out: &mut Vec<u8>) {
    out.extend((0..16).map(|j| q[j] | (q[j + 16] << 4)));
}

fn quantize_q4_0(x: &[f32], out: &mut Vec<u8>) {
    // The weight of largest magnitude, sign kept: it maps to code 0 (−8·d).
    let max = x
        .iter()
        .fold(0.0f32, |m, &v| if v.abs() > m.abs() { v } else { m });
    let d = max / -8.0;
    let id = inverse(d);
    out.extend_from_slice(&f16::from_f32(d).to_le_bytes());
    let mut q = [0u8; 32];
    for (qj, v) in q.iter_mut().zip(x) {
        *qj = ((v * id + 8.5) as i8).clamp(0, 15) as u8;
    }
    pack_nibbles(&q, out);
}

fn quantize_q4_1(x: &[f32], out: &mut Vec<u8>) {
    let min = x.iter().copied().fold(f32::INFINITY, f32::min);
    let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let d = (max - min) / 15.0;
    let id = inverse(d);
    out.extend_from_slice(&f16::from_f32(d).to_le_bytes());
    out.extend_from_slice(&f16::from_f32(min).to_le_bytes());
    let mut q = [0u8; 32];
    for (qj, v) in q.iter_mut().zip(x) {
        *qj = (((v - min) * id + 0.5) as i8).clamp(0, 15) as u8;
    }
    pack_nibbles(&q, out);
}

/// `y[b, r] = Σ_c w[r, c] · x[b, c]` in f64 for dequantized weights `w` (`[rows, cols]`) and
/// activations `x` (`[batch, cols]`), with `Σ_c |w[r, c] · x[b, c]|` beside each result: the
/// scale a floating-point tolerance is stated against.
pub fn matmul(w: &[f32], cols: usize, x: &[f32]) -> (Vec<f64>, Vec<f64>) {
    let (rows, batch) = (w.len() / cols.max(1), x.len() / cols.max(1));
    let mut y = Vec::with_capacity(batch * rows);
    let mut magnitude = Vec::with_capacity(batch * rows);
    for xb in x.chunks_exact(cols) {
        for wr in w.chunks_exact(cols) {
            let terms = wr
                .iter()
                .zip(xb)
                .map(|(&a, &b)| f64::from(a) * f64::from(b));
            let (sum, abs) = terms.fold((0.0, 0.0), |(s, m), t| (s + t, m + t.abs()));
            y.push(sum);
            magnitude.push(abs);
        }
    }
    (y, magnitude)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_built_blocks_decode_as_gguf_defines() {
        // Q8_0: d = 0.5, q = -128, 1, 127, 0...
        let mut b = f16::from_f32(0.5).to_le_bytes().to_vec();
        b.extend([0x80u8, 1, 127]);
        b.extend([0u8; 29]);
        let w = dequantize(Format::Q8_0, &b, 32).unwrap();
        assert_eq!(&w[..4], &[-64.0, 0.5, 63.5, 0.0]);

        // Q4_0: d = 2, byte 0 = 0xF0 -> weight 0 low nibble 0 (-8), weight 16 high nibble 15 (7).
        let mut b = f16::from_f32(2.0).to_le_bytes().to_vec();
        b.push(0xf0);
        b.extend([0x88u8; 15]);
        let w = dequantize(Format::Q4_0, &b, 32).unwrap();
        assert_eq!((w[0], w[16], w[1], w[17]), (-16.0, 14.0, 0.0, 0.0));

        // Q4_1: d = 1, m = -3, byte 0 = 0x21 -> weight 0 = 1 - 3, weight 16 = 2 - 3.
        let mut b = f16::from_f32(1.0).to_le_bytes().to_vec();
        b.extend(f16::from_f32(-3.0).to_le_bytes());
        b.push(0x21);
        b.extend([0u8; 15]);
        let w = dequantize(Format::Q4_1, &b, 32).unwrap();
        assert_eq!((w[0], w[16], w[1]), (-2.0, -1.0, -3.0));
    }

    #[test]
    fn k_quants_and_mxfp4_follow_ggml_by_hand() {
        // Q4_K: d = dmin = 1. Sub-block 0: sc 2, m 3; sub-block 1: sc 1, m 0; sub-block 4 takes
        // its top scale/min bits from bytes 0 and 4: sc = 1 | 1 << 4 = 17, m = 2 | 0 = 2.
        let mut b = vec![0u8; 144];
        b[0..2].copy_from_slice(&f16::from_f32(1.0).to_le_bytes());
        b[2..4].copy_from_slice(&f16::from_f32(1.0).to_le_bytes());
        b[4] = 2 | 1 << 6;
        b[5] = 1;
        b[8] = 3;
        b[12] = 0x21;
        b[16] = 0x5a; // weight 0 = 10 (low), weight 32 = 5 (high)
        b[16 + 64] = 0x03; // weight 128 = 3
        let w = dequantize(Format::Q4K, &b, 256).unwrap();
        assert_eq!(
            (w[0], w[32], w[128]),
            (2.0 * 10.0 - 3.0, 5.0, 17.0 * 3.0 - 2.0)
        );

        // Q6_K: d = 1; scales 2, −1, 1 for weights 0, 32, 64 of the first half.
        let mut b = vec![0u8; 210];
        b[208..210].copy_from_slice(&f16::from_f32(1.0).to_le_bytes());
        b[192] = 2;
        b[194] = 0xff;
        b[196] = 1;
        b[0] = 0x21; // low nibble 1 (weight 0), high nibble 2 (weight 64)
        b[32] = 0x07; // weight 32 low bits
        b[128] = 0b0000_1001; // qh: weight 0 gets 1 << 4, weight 32 gets 2 << 4
        let w = dequantize(Format::Q6K, &b, 256).unwrap();
        assert_eq!((w[0], w[32], w[64]), (2.0 * -15.0, -(39.0 - 32.0), -30.0));

        // MXFP4: e = 128 is a scale of 1 for the doubled E2M1 codes; e = 0 is 2^-128.
        let mut b = vec![128u8, 0x97];
        b.extend([0u8; 15]);
        b.push(0);
        b.push(0x07);
        b.extend([0u8; 15]);
        let w = dequantize(Format::Mxfp4, &b, 32).unwrap();
        assert_eq!((w[0], w[16], w[1]), (12.0, -1.0, 0.0));
        assert_eq!(w[32], 12.0 * f32::from_bits(0x0020_0000));

        // Q5_0: d = 1, qh bit 0 and bit 16 set; qs[0] = 0x21 -> weight 0 = (1 | 16) − 16 = 1,
        // weight 16 = (2 | 16) − 16 = 2, weight 1 = 0 − 16.
        let mut b = f16::from_f32(1.0).to_le_bytes().to_vec();
        b.extend(0x0001_0001u32.to_le_bytes());
        b.push(0x21);
        b.extend([0u8; 15]);
        let w = dequantize(Format::Q5_0, &b, 32).unwrap();
        assert_eq!((w[0], w[16], w[1]), (1.0, 2.0, -16.0));

        // Q5_1: d = 2, m = −1, qh bit 1 set; qs[1] = 0x03 -> weight 1 = 2·(3 | 16) − 1.
        let mut b = f16::from_f32(2.0).to_le_bytes().to_vec();
        b.extend(f16::from_f32(-1.0).to_le_bytes());
        b.extend(0x0000_0002u32.to_le_bytes());
        b.extend([0x00u8, 0x03]);
        b.extend([0u8; 14]);
        let w = dequantize(Format::Q5_1, &b, 32).unwrap();
        assert_eq!((w[0], w[1]), (-1.0, 2.0 * 19.0 - 1.0));

        // Q5_K: Q4_K's sub-block 0 (sc 2, m 3) with qh[0] bit 0 -> weight 0 = 2·(10 + 16) − 3;
        // qh[0] bit 1 belongs to weight 32 (sub-block 1: sc 1, m 0) -> 5 + 16.
        let mut b = vec![0u8; 176];
        b[0..2].copy_from_slice(&f16::from_f32(1.0).to_le_bytes());
        b[2..4].copy_from_slice(&f16::from_f32(1.0).to_le_bytes());
        b[4] = 2;
        b[5] = 1;
        b[8] = 3;
        b[16] = 0b11;
        b[48] = 0x5a;
        let w = dequantize(Format::Q5K, &b, 256).unwrap();
        assert_eq!((w[0], w[32]), (2.0 * 26.0 - 3.0, 21.0));

        // IQ4_NL: d = 0.5; nibble 0 -> −127, 15 -> 113.
        let mut b = f16::from_f32(0.5).to_le_bytes().to_vec();
        b.push(0xf0);
        b.extend([0u8; 15]);
        let w = dequantize(Format::Iq4Nl, &b, 32).unwrap();
        assert_eq!((w[0], w[16]), (-63.5, 56.5));

        // Q3_K: d = 1. Scale 0 = low nibble of scales[0] (5) | top bits of scales[8] (1) << 4,
        // less 32 = 21 − 32 = −11. Weight 0: q = 3 (bits 0..2 of qs[0]) with hmask bit 0 set.
        // Weight 1: q = 2 without its hmask bit, so 2 − 4 = −2. Scale 1 = 0 − 32 for weight 16.
        let mut b = vec![0u8; 110];
        b[0] = 1;
        b[32] = 3;
        b[33] = 2;
        b[96] = 5;
        b[104] = 1;
        b[108..110].copy_from_slice(&f16::from_f32(1.0).to_le_bytes());
        let w = dequantize(Format::Q3K, &b, 256).unwrap();
        assert_eq!(
            (w[0], w[1], w[16]),
            (-11.0 * 3.0, -11.0 * -2.0, -32.0 * -4.0)
        );

        // Q2_K: d = 2, dmin = 1; scales[0] = 3 | 5 << 4; qs[0] = 0b10_01 -> weight 0 = 1,
        // weight 32 (j = 1, scale byte 2 = 0) = 0 − 0.
        let mut b = vec![0u8; 84];
        b[0] = 3 | 5 << 4;
        b[16] = 0b1001;
        b[80..82].copy_from_slice(&f16::from_f32(2.0).to_le_bytes());
        b[82..84].copy_from_slice(&f16::from_f32(1.0).to_le_bytes());
        let w = dequantize(Format::Q2K, &b, 256).unwrap();
        assert_eq!((w[0], w[32]), (2.0 * 3.0 * 1.0 - 5.0, 0.0));
    }

    /// Largest error the round-to-nearest quantizers allow for a block: half a step, except
    /// Q4_0, whose code range −8..7 clips the extreme of the opposite sign by one step.
    fn tolerance(format: Format, x: &[f32]) -> f32 {
        let amax = x.iter().fold(0.0f32, |a, v| a.max(v.abs()));
        let (min, max) = x
            .iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
                (lo.min(v), hi.max(v))
            });
        let step_error = match format {
            Format::Q8_0 => amax / 127.0 * 0.5,
            Format::Q4_0 => amax / 8.0,
            Format::Q4_1 => (max - min) / 15.0 * 0.5,
            _ => unreachable!("no quantizer for {format}"),
        };
        // The scale is stored as f16: relative error 2^-11 on up to 127 steps.
        step_error + amax * 1e-3
    }

    #[test]
    fn quantize_then_dequantize_is_within_the_format_error() {
        let x: Vec<f32> = (0..96)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 7.0)
            .collect();
        for format in QUANTIZERS {
            let q = quantize(format, &x).unwrap();
            assert_eq!(q.len(), 3 * format.block_bytes());
            let y = dequantize(format, &q, 96).unwrap();
            for (block, (xb, yb)) in x.chunks(32).zip(y.chunks(32)).enumerate() {
                let tol = tolerance(format, xb);
                for (a, b) in xb.iter().zip(yb) {
                    assert!(
                        (a - b).abs() <= tol,
                        "{format} block {block}: {a} vs {b} (tolerance {tol})"
                    );
                }
            }
        }
    }

    #[test]
    fn all_zero_blocks_quantize_to_zero() {
        for format in QUANTIZERS {
            let q = quantize(format, &[0.0; 32]).unwrap();
            assert!(
                dequantize(format, &q, 32)
                    .unwrap()
                    .iter()
                    .all(|v| *v == 0.0)
            );
        }
    }

    #[test]
    fn bad_shapes_are_typed_errors() {
        assert!(matches!(
            dequantize(Format::Q4_0, &[0; 18], 31),
            Err(Error::InvalidArgument { arg: "cols", .. })
        ));
        assert!(matches!(
            dequantize(Format::Q4_0, &[0; 19], 32),
            Err(Error::InvalidArgument { arg: "w", .. })
        ));
        assert!(quantize(Format::Q8_0, &[1.0; 33]).is_err());
        assert!("iq2_xs".parse::<Format>().is_err());
        assert_eq!("Q4_1".parse::<Format>().unwrap(), Format::Q4_1);
    }
}
