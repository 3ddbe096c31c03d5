//! CPU reference: dequantization exactly as GGUF defines each block, and the round-to-nearest
//! quantizers ggml uses to write Q8_0, Q4_0 and Q4_1 (`quantize_row_*_ref`).

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

/// Dequantizes one block into `out` (32 weights).
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

/// Quantizes `weights` (a whole number of 32-weight blocks) the way ggml's reference
/// quantizers do.
pub fn quantize(format: Format, weights: &[f32]) -> Result<Vec<u8>, Error> {
    format.row_bytes(weights.len())?;
    let mut out = Vec::with_capacity(weights.len() / 32 * format.block_bytes());
    for x in weights.chunks_exact(32) {
        match format {
            Format::Q8_0 => quantize_q8_0(x, &mut out),
            Format::Q4_0 => quantize_q4_0(x, &mut out),
            Format::Q4_1 => quantize_q4_1(x, &mut out),
        }
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
        };
        // The scale is stored as f16: relative error 2^-11 on up to 127 steps.
        step_error + amax * 1e-3
    }

    #[test]
    fn quantize_then_dequantize_is_within_the_format_error() {
        let x: Vec<f32> = (0..96)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 7.0)
            .collect();
        for format in Format::ALL {
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
        for format in Format::ALL {
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
        assert!("q5_k".parse::<Format>().is_err());
        assert_eq!("Q4_1".parse::<Format>().unwrap(), Format::Q4_1);
    }
}
