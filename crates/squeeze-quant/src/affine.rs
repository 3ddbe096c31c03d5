//! Group-wise affine int4 / int8 weights (the GPTQ / AWQ family): layout, CPU reference
//! dequantization and a round-to-nearest quantizer.
//!
//! ```text
//! qweight  u32 [rows, cols·bits/32]   int4: weight 8i + k of a row = bits 4k .. 4k+4 of word i
//!                                     int8: weight 4i + k of a row = byte k of word i
//!          word i (int4):  | w8i+7 | w8i+6 | … | w8i+1 | w8i |   (bit 31 … bit 0)
//! scales   f16 [rows, cols/group]
//! zeros    f16 [rows, cols/group]     optional zero points in code units; absent = symmetric,
//!                                     zero point 2^(bits−1) (8 or 128)
//! w[r, c] = scale[r, c/group] · (q[r, c] − zero[r, c/group])
//! ```
//!
//! Codes are unsigned. Rows are output features, so a row is contiguous along the input
//! dimension that a GEMV sums over.
//!
//! Mapping checkpoints onto this layout (done once, on the host, at load time):
//! - **GPTQ** (`qweight` i32 `[in/8, out]`, packed along the input dimension, nibble k of a word
//!   = input 8i + k; `qzeros` i32 `[in/group, out/8]`; `scales` f16 `[in/group, out]`):
//!   transpose `qweight` to `[out, in/8]` (words unchanged), `scales` to `[out, in/group]`, and
//!   unpack `qzeros` to one zero per (group, output), adding 1 for checkpoints written by
//!   GPTQ-for-LLaMa / AutoGPTQ before v0.3's "zero-point fix", then transpose and store as f16.
//!   `g_idx` act-order checkpoints need their input columns permuted first (x permuted alike).
//! - **AWQ** (`qweight` i32 `[in, out/8]`, packed along the output dimension in the nibble
//!   order 0, 2, 4, 6, 1, 3, 5, 7; `qzeros` alike; `scales` f16 `[in/group, out]`): unpack with
//!   that order, then repack along the input dimension as above.

use half::f16;
use squeeze_core::Error;

/// An affine scheme: code width, group size, and whether zero points are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Affine {
    bits: u32,
    group: u32,
    zeros: bool,
}

/// Borrowed affine weights of a `[rows, cols]` matrix.
#[derive(Debug, Clone, Copy)]
pub struct AffineRef<'a> {
    pub qweight: &'a [u32],
    pub scales: &'a [f16],
    pub zeros: Option<&'a [f16]>,
}

/// Owned affine weights, as [`quantize`] makes them.
#[derive(Debug, Clone, PartialEq)]
pub struct AffineWeights {
    pub qweight: Vec<u32>,
    pub scales: Vec<f16>,
    pub zeros: Option<Vec<f16>>,
}

impl AffineWeights {
    pub fn as_ref(&self) -> AffineRef<'_> {
        AffineRef {
            qweight: &self.qweight,
            scales: &self.scales,
            zeros: self.zeros.as_deref(),
        }
    }
}

impl Affine {
    /// Group sizes the kernels are built for.
    pub const GROUPS: [u32; 3] = [32, 64, 128];

    /// `bits` 4 or 8, `group` 32, 64 or 128; `zeros` for asymmetric weights.
    pub fn new(bits: u32, group: u32, zeros: bool) -> Result<Self, Error> {
        if bits != 4 && bits != 8 {
            return Err(Error::invalid("bits", "code width", "4 | 8", bits));
        }
        if !Self::GROUPS.contains(&group) {
            return Err(Error::invalid("group", "size", "32 | 64 | 128", group));
        }
        Ok(Self { bits, group, zeros })
    }

    pub fn bits(self) -> u32 {
        self.bits
    }

    pub fn group(self) -> u32 {
        self.group
    }

    pub fn has_zeros(self) -> bool {
        self.zeros
    }

    /// Checks `cols` is a positive multiple of the group and returns the groups per row.
    pub fn groups_per_row(self, cols: usize) -> Result<usize, Error> {
        if cols == 0 || !cols.is_multiple_of(self.group as usize) {
            return Err(Error::invalid(
                "cols",
                "count",
                format!("a positive multiple of the group size {}", self.group),
                cols,
            ));
        }
        Ok(cols / self.group as usize)
    }

    /// u32 words of `qweight` per row.
    pub fn row_words(self, cols: usize) -> Result<usize, Error> {
        self.groups_per_row(cols)?;
        Ok(cols * self.bits as usize / 32)
    }

    /// Checks that `w` is a whole number of `cols`-wide rows with matching scales and zeros, and
    /// returns the row count.
    pub fn rows(self, w: AffineRef<'_>, cols: usize) -> Result<usize, Error> {
        let row_words = self.row_words(cols)?;
        if !w.qweight.len().is_multiple_of(row_words) {
            return Err(Error::invalid(
                "qweight",
                "length",
                format!("a multiple of {row_words} words ({cols} {self} weights per row)"),
                w.qweight.len(),
            ));
        }
        let rows = w.qweight.len() / row_words;
        let groups = rows * self.groups_per_row(cols)?;
        if w.scales.len() != groups {
            return Err(Error::invalid(
                "scales",
                "length",
                format!("{groups} ({rows} rows × {cols}/{})", self.group),
                w.scales.len(),
            ));
        }
        match (w.zeros, self.zeros) {
            (Some(z), true) if z.len() != groups => Err(Error::invalid(
                "zeros",
                "length",
                format!("{groups}, one per scale"),
                z.len(),
            )),
            (None, true) => Err(Error::invalid("zeros", "tensor", "present", "absent")),
            (Some(_), false) => Err(Error::invalid(
                "zeros",
                "tensor",
                "absent for a symmetric scheme",
                "present",
            )),
            _ => Ok(rows),
        }
    }

    fn code(self, w: AffineRef<'_>, row_words: usize, r: usize, c: usize) -> u32 {
        let per_word = (32 / self.bits) as usize;
        let word = w.qweight[r * row_words + c / per_word];
        (word >> ((c % per_word) as u32 * self.bits)) & ((1 << self.bits) - 1)
    }

    fn symmetric_zero(self) -> f32 {
        (1u32 << (self.bits - 1)) as f32
    }
}

impl std::fmt::Display for Affine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = if self.zeros { "asym" } else { "sym" };
        write!(f, "int{} g{} {kind}", self.bits, self.group)
    }
}

/// Dequantizes `[rows, cols]` affine weights to f32, row-major.
pub fn dequantize(scheme: Affine, w: AffineRef<'_>, cols: usize) -> Result<Vec<f32>, Error> {
    let rows = scheme.rows(w, cols)?;
    let (row_words, groups) = (scheme.row_words(cols)?, scheme.groups_per_row(cols)?);
    let mut out = Vec::with_capacity(rows * cols);
    for r in 0..rows {
        for c in 0..cols {
            let g = r * groups + c / scheme.group as usize;
            let zero = w.zeros.map_or(scheme.symmetric_zero(), |z| z[g].to_f32());
            let q = scheme.code(w, row_words, r, c) as f32;
            out.push(w.scales[g].to_f32() * (q - zero));
        }
    }
    Ok(out)
}

/// Round-to-nearest quantization of `[rows, cols]` weights: per group, a symmetric scale
/// `amax / (2^(bits−1) − 1)` around the fixed zero point, or (with zeros) the scale
/// `(max − min) / (2^bits − 1)` over the group's range widened to include 0, and the integer
/// zero point that maps `min` nearest to code 0.
/// The f16-rounded scale is the one codes are computed with.
pub fn quantize(scheme: Affine, weights: &[f32], cols: usize) -> Result<AffineWeights, Error> {
    scheme.groups_per_row(cols)?;
    if !weights.len().is_multiple_of(cols) {
        return Err(Error::invalid(
            "weights",
            "length",
            format!("a multiple of cols = {cols}"),
            weights.len(),
        ));
    }
    let top = ((1u32 << scheme.bits) - 1) as f32;
    let per_word = (32 / scheme.bits) as usize;
    let mut qweight = vec![0u32; weights.len() / per_word];
    let mut scales = Vec::with_capacity(weights.len() / scheme.group as usize);
    let mut zeros = Vec::with_capacity(if scheme.zeros { scales.capacity() } else { 0 });
    for (g, x) in weights.chunks_exact(scheme.group as usize).enumerate() {
        let (scale, zero) = if scheme.zeros {
            let min = x.iter().copied().fold(0.0f32, f32::min);
            let max = x.iter().copied().fold(0.0f32, f32::max);
            let scale = f16::from_f32((max - min) / top);
            let zero = if scale.to_f32() > 0.0 {
                (-min / scale.to_f32()).round().clamp(0.0, top)
            } else {
                0.0
            };
            zeros.push(f16::from_f32(zero));
            (scale, zero)
        } else {
            let amax = x.iter().fold(0.0f32, |a, v| a.max(v.abs()));
            (
                f16::from_f32(amax / (scheme.symmetric_zero() - 1.0)),
                scheme.symmetric_zero(),
            )
        };
        scales.push(scale);
        let inverse = if scale.to_f32() > 0.0 {
            1.0 / scale.to_f32()
        } else {
            0.0
        };
        for (k, v) in x.iter().enumerate() {
            let q = (v * inverse + zero).round().clamp(0.0, top) as u32;
            let i = g * scheme.group as usize + k;
            qweight[i / per_word] |= q << ((i % per_word) as u32 * scheme.bits);
        }
    }
    Ok(AffineWeights {
        qweight,
        scales,
        zeros: scheme.zeros.then_some(zeros),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nibbles_are_lsb_first_and_zero_points_apply() {
        let scheme = Affine::new(4, 32, false).unwrap();
        // Word 0 holds weights 0..8: codes 0, 1, …, 7; code 8 is zero.
        let mut qweight = vec![0x7654_3210u32];
        qweight.extend([0x8888_8888u32; 3]);
        let scales = [f16::from_f32(0.5)];
        let w = AffineRef {
            qweight: &qweight,
            scales: &scales,
            zeros: None,
        };
        let y = dequantize(scheme, w, 32).unwrap();
        assert_eq!(&y[..8], &[-4.0, -3.5, -3.0, -2.5, -2.0, -1.5, -1.0, -0.5]);
        assert!(y[8..].iter().all(|&v| v == 0.0));

        let scheme = Affine::new(8, 32, true).unwrap();
        let qweight = [0x0302_0100u32, 0, 0, 0, 0, 0, 0, 0];
        let zeros = [f16::from_f32(2.0)];
        let w = AffineRef {
            qweight: &qweight,
            scales: &scales,
            zeros: Some(&zeros),
        };
        let y = dequantize(scheme, w, 32).unwrap();
        assert_eq!(&y[..5], &[-1.0, -0.5, 0.0, 0.5, -1.0]);
    }

    #[test]
    fn quantize_round_trips_within_half_a_step() {
        let cols = 128;
        let x: Vec<f32> = (0..2 * cols)
            .map(|i| ((i * 37 % 101) as f32 - 40.0) / 9.0)
            .collect();
        for bits in [4, 8] {
            for group in Affine::GROUPS {
                for zeros in [false, true] {
                    let scheme = Affine::new(bits, group, zeros).unwrap();
                    let q = quantize(scheme, &x, cols).unwrap();
                    let y = dequantize(scheme, q.as_ref(), cols).unwrap();
                    for (g, (xg, yg)) in x
                        .chunks(group as usize)
                        .zip(y.chunks(group as usize))
                        .enumerate()
                    {
                        // Half a step, plus the f16 rounding of the scale over the code range.
                        let step = q.scales[g].to_f32();
                        let tol = 0.5 * step + step * 2f32.powi(-10) * (1 << bits) as f32 + 1e-6;
                        for (a, b) in xg.iter().zip(yg) {
                            assert!((a - b).abs() <= tol, "{scheme} group {g}: {a} vs {b}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn bad_schemes_and_shapes_are_typed_errors() {
        assert!(Affine::new(3, 32, false).is_err());
        assert!(Affine::new(4, 48, false).is_err());
        let scheme = Affine::new(4, 64, true).unwrap();
        assert!(scheme.groups_per_row(96).is_err());
        let q = quantize(scheme, &[0.5; 128], 128).unwrap();
        let mut w = q.as_ref();
        assert_eq!(scheme.rows(w, 128).unwrap(), 1);
        w.zeros = None;
        assert!(scheme.rows(w, 128).is_err());
        w.zeros = Some(&q.scales[..1]);
        assert!(scheme.rows(w, 128).is_err());
        assert!(scheme.rows(q.as_ref(), 32).is_err());
        // The same tensors read as two rows of 64 are consistent, and accepted.
        assert_eq!(scheme.rows(q.as_ref(), 64).unwrap(), 2);
    }
}
