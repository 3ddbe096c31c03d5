//! CPU references of the glue kernels, written plainly: reductions in f64, results rounded to
//! f32 once. The GPU kernels are compared against these in the conformance suite, and the CPU
//! forward pass ([`crate::cpu`]) is built from them.

use crate::rope::Pairing;

/// Rows `tokens[t]` of the `[vocab, cols]` table `table`; an id past the table gives zeros.
pub fn embedding_rows(table: &[f32], cols: usize, tokens: &[u32]) -> Vec<f32> {
    let vocab = table.len() / cols.max(1);
    tokens
        .iter()
        .flat_map(|&t| {
            let t = t as usize;
            (0..cols).map(move |c| if t < vocab { table[t * cols + c] } else { 0.0 })
        })
        .collect()
}

/// `y = x / sqrt(mean(x²) + eps) · weight` for each row of `weight.len()` values.
pub fn rms_norm(x: &[f32], weight: &[f32], eps: f32) -> Vec<f32> {
    let cols = weight.len();
    let mut y = Vec::with_capacity(x.len());
    for row in x.chunks_exact(cols) {
        let mean = row
            .iter()
            .map(|&v| f64::from(v) * f64::from(v))
            .sum::<f64>()
            / cols as f64;
        let inv = 1.0 / (mean + f64::from(eps)).sqrt();
        y.extend(
            row.iter()
                .zip(weight)
                .map(|(&v, &w)| (f64::from(v) * inv * f64::from(w)) as f32),
        );
    }
    y
}

/// The f32 frequency of each rotated pair: `theta^(−2i / head_dim)`, computed in f64. The GPU
/// kernel reads this table, so both sides turn by the same f32 angle.
pub fn rope_inv_freq(head_dim: u32, theta: f32) -> Vec<f32> {
    (0..head_dim / 2)
        .map(|i| f64::from(theta).powf(-2.0 * f64::from(i) / f64::from(head_dim)) as f32)
        .collect()
}

/// What a rotary embedding applies to: `x` is `[positions.len(), heads, head_dim]`.
#[derive(Debug, Clone, Copy)]
pub struct RopeInput<'a> {
    pub positions: &'a [u32],
    pub heads: usize,
    pub head_dim: usize,
    pub theta: f32,
    pub pairing: Pairing,
}

/// Rotates `x` in place: pair i of each head by `f32(position) · inv_freq[i]` (the product in
/// f32, as the GPU forms it; cos, sin and the rotation in f64).
pub fn rope(x: &mut [f32], input: &RopeInput<'_>) {
    let RopeInput {
        positions,
        heads,
        head_dim,
        theta,
        pairing,
    } = *input;
    let inv_freq = rope_inv_freq(head_dim as u32, theta);
    let half = head_dim / 2;
    for (row, &pos) in x.chunks_exact_mut(heads * head_dim).zip(positions) {
        for head in row.chunks_exact_mut(head_dim) {
            for (i, &f) in inv_freq.iter().enumerate() {
                let (a, b) = match pairing {
                    Pairing::Adjacent => (2 * i, 2 * i + 1),
                    Pairing::Halves => (i, i + half),
                };
                let angle = f64::from(pos as f32 * f);
                let (s, c) = angle.sin_cos();
                let (x0, x1) = (f64::from(head[a]), f64::from(head[b]));
                head[a] = (x0 * c - x1 * s) as f32;
                head[b] = (x0 * s + x1 * c) as f32;
            }
        }
    }
}

/// `silu(gate) · up`, elementwise.
pub fn swiglu(gate: &[f32], up: &[f32]) -> Vec<f32> {
    gate.iter()
        .zip(up)
        .map(|(&g, &u)| {
            let g = f64::from(g);
            (g / (1.0 + (-g).exp()) * f64::from(u)) as f32
        })
        .collect()
}

/// The f16 bits nearest each value (ties to even), as the append kernel stores an f16 cache.
pub fn narrow_f16(x: &[f32]) -> Vec<u16> {
    x.iter()
        .map(|&v| half::f16::from_f32(v).to_bits())
        .collect()
}

/// `h += delta`, elementwise.
pub fn residual_add(h: &mut [f32], delta: &[f32]) {
    for (h, &d) in h.iter_mut().zip(delta) {
        *h += d;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rope_pairings_rotate_the_pairs_they_name() {
        // Position 0 is the identity; a quarter turn on pair 0 (inv_freq[0] = 1) at the angle
        // that position gives.
        let x: Vec<f32> = (1..=4).map(|v| v as f32).collect();
        let mut same = x.clone();
        let input = RopeInput {
            positions: &[0],
            heads: 1,
            head_dim: 4,
            theta: 10000.0,
            pairing: Pairing::Adjacent,
        };
        rope(&mut same, &input);
        assert_eq!(same, x);
        let mut adjacent = x.clone();
        rope(
            &mut adjacent,
            &RopeInput {
                positions: &[1],
                ..input
            },
        );
        let (s, c) = 1f64.sin_cos();
        assert!((f64::from(adjacent[0]) - (c - 2.0 * s)).abs() < 1e-6);
        assert!((f64::from(adjacent[1]) - (s + 2.0 * c)).abs() < 1e-6);
        let mut halves = x.clone();
        rope(
            &mut halves,
            &RopeInput {
                positions: &[1],
                pairing: Pairing::Halves,
                ..input
            },
        );
        assert!((f64::from(halves[0]) - (c - 3.0 * s)).abs() < 1e-6);
        assert!((f64::from(halves[2]) - (s + 3.0 * c)).abs() < 1e-6);
    }

    #[test]
    fn rms_norm_of_a_constant_row_is_the_weight() {
        let y = rms_norm(&[3.0; 4], &[1.0, 2.0, 3.0, 4.0], 0.0);
        assert_eq!(y, vec![1.0, 2.0, 3.0, 4.0]);
    }

    #[test]
    fn embedding_past_the_table_is_zero() {
        let table = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(
            embedding_rows(&table, 2, &[1, 7, 0]),
            vec![3.0, 4.0, 0.0, 0.0, 1.0, 2.0]
        );
    }
}
