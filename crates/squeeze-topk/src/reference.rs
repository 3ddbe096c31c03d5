//! The CPU reference: exact top-k of each row, plainly. Every row's valid elements are sorted by
//! (rank key descending, index ascending) and the first k kept; the GPU kernels must return the
//! same values (bit for bit) and indices.
//!
//! Ranking: NaN above +inf when largest first (as torch.topk), so last when smallest first;
//! -0.0 and +0.0 are equal; equal keys go to the lower index. A row shorter than k (per-row
//! lengths) is padded with index -1 and value -inf (largest first) or +inf (smallest first).

use squeeze_core::{DType, Element, Error, Result};

use crate::Order;
use crate::keys::rank_key;

/// A score type top-k reads: its f32 bit pattern (exact widening) and its infinities.
pub trait Score: Element {
    /// The score's value as f32 bits (16-bit formats widen exactly).
    fn f32_bits(self) -> u32;
    /// +inf, or -inf when `negative`.
    fn infinity(negative: bool) -> Self;
}

impl Score for f32 {
    fn f32_bits(self) -> u32 {
        self.to_bits()
    }
    fn infinity(negative: bool) -> Self {
        if negative {
            f32::NEG_INFINITY
        } else {
            f32::INFINITY
        }
    }
}

impl Score for half::f16 {
    fn f32_bits(self) -> u32 {
        squeeze_core::reference::f16_bits_to_f32_bits(self.to_bits())
    }
    fn infinity(negative: bool) -> Self {
        if negative {
            half::f16::NEG_INFINITY
        } else {
            half::f16::INFINITY
        }
    }
}

impl Score for half::bf16 {
    fn f32_bits(self) -> u32 {
        squeeze_core::reference::bf16_bits_to_f32_bits(self.to_bits())
    }
    fn infinity(negative: bool) -> Self {
        if negative {
            half::bf16::NEG_INFINITY
        } else {
            half::bf16::INFINITY
        }
    }
}

/// The padding value of a row shorter than k: the worst non-NaN value of `order`.
pub fn padding<T: Score>(order: Order) -> T {
    T::infinity(order == Order::Largest)
}

/// Whether `dtype` is a score type top-k reads.
pub fn is_score(dtype: DType) -> bool {
    matches!(dtype, DType::F32 | DType::F16 | DType::Bf16)
}

/// Top-k of each of the `x.len() / n` rows of `x`: (values, indices), each `[rows, k]`
/// row-major, best first. `lengths`, if given, holds each row's valid length (at most `n`).
pub fn top_k<T: Score>(
    x: &[T],
    n: usize,
    k: usize,
    order: Order,
    lengths: Option<&[u32]>,
) -> Result<(Vec<T>, Vec<i32>)> {
    if n == 0 || !x.len().is_multiple_of(n) {
        return Err(Error::invalid(
            "x",
            "length",
            format!("a multiple of n = {n} (n ≥ 1)"),
            x.len(),
        ));
    }
    if k == 0 || k > n {
        return Err(Error::invalid("k", "value", format!("1 ≤ k ≤ n = {n}"), k));
    }
    let rows = x.len() / n;
    if let Some(lengths) = lengths {
        check_lengths(lengths, rows, n)?;
    }
    let mut values = Vec::with_capacity(rows * k);
    let mut indices = Vec::with_capacity(rows * k);
    for (r, row) in x.chunks_exact(n).enumerate() {
        let valid = lengths.map_or(n, |l| l[r] as usize);
        let mut order_of: Vec<usize> = (0..valid).collect();
        // A stable sort by descending key keeps equal keys in index order.
        order_of.sort_by_key(|&i| std::cmp::Reverse(rank_key(row[i].f32_bits(), order)));
        for j in 0..k {
            match order_of.get(j) {
                Some(&i) => {
                    values.push(row[i]);
                    indices.push(i as i32);
                }
                None => {
                    values.push(padding(order));
                    indices.push(-1);
                }
            }
        }
    }
    Ok((values, indices))
}

/// Fails unless `lengths` has one entry per row, each at most `n`.
pub fn check_lengths(lengths: &[u32], rows: usize, n: usize) -> Result<()> {
    if lengths.len() != rows {
        return Err(Error::invalid(
            "lengths",
            "length",
            format!("one entry per row ({rows})"),
            lengths.len(),
        ));
    }
    if let Some((r, &l)) = lengths.iter().enumerate().find(|(_, l)| **l as usize > n) {
        return Err(Error::invalid(
            "lengths",
            "entry",
            format!("at most n = {n} (row {r})"),
            l,
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn largest_and_smallest_with_nan_inf_zero_and_ties() {
        let x = [
            1.0f32,
            f32::NAN,
            -0.0,
            f32::INFINITY,
            0.0,
            1.0,
            f32::NEG_INFINITY,
        ];
        let (v, i) = top_k(&x, 7, 7, Order::Largest, None).unwrap();
        assert_eq!(i, vec![1, 3, 0, 5, 2, 4, 6]);
        assert!(v[0].is_nan());
        assert_eq!(
            v[4].to_bits(),
            (-0.0f32).to_bits(),
            "value bits are the input's"
        );
        let (_, i) = top_k(&x, 7, 4, Order::Smallest, None).unwrap();
        assert_eq!(i, vec![6, 2, 4, 0]);
        let (_, i) = top_k(&x, 7, 7, Order::Smallest, None).unwrap();
        assert_eq!(i[6], 1, "NaN comes last when smallest first");
    }

    #[test]
    fn rows_lengths_and_padding() {
        let x = [3.0f32, 1.0, 2.0, 5.0, 4.0, 6.0];
        let (v, i) = top_k(&x, 3, 2, Order::Largest, Some(&[1, 3])).unwrap();
        assert_eq!(i, vec![0, -1, 2, 0]);
        assert_eq!(v, vec![3.0, f32::NEG_INFINITY, 6.0, 5.0]);
        let (v, _) = top_k(&x, 3, 2, Order::Smallest, Some(&[0, 3])).unwrap();
        assert_eq!(v[..2], [f32::INFINITY, f32::INFINITY]);
    }

    #[test]
    fn half_formats_rank_by_their_value() {
        let x: Vec<half::bf16> = [1.0f32, -3.0, 2.0]
            .iter()
            .map(|&v| half::bf16::from_f32(v))
            .collect();
        assert_eq!(top_k(&x, 3, 2, Order::Largest, None).unwrap().1, vec![2, 0]);
        let x: Vec<half::f16> = [half::f16::NAN, half::f16::from_f32(-1.0)].to_vec();
        assert_eq!(top_k(&x, 2, 1, Order::Smallest, None).unwrap().1, vec![1]);
    }

    #[test]
    fn bad_arguments_are_typed_errors() {
        let x = [1.0f32; 6];
        assert!(matches!(
            top_k(&x, 3, 0, Order::Largest, None),
            Err(Error::InvalidArgument { arg: "k", .. })
        ));
        assert!(matches!(
            top_k(&x, 3, 4, Order::Largest, None),
            Err(Error::InvalidArgument { arg: "k", .. })
        ));
        assert!(matches!(
            top_k(&x, 4, 1, Order::Largest, None),
            Err(Error::InvalidArgument { arg: "x", .. })
        ));
        assert!(matches!(
            top_k(&x, 3, 1, Order::Largest, Some(&[4, 1])),
            Err(Error::InvalidArgument { arg: "lengths", .. })
        ));
        assert!(matches!(
            top_k(&x, 3, 1, Order::Largest, Some(&[1])),
            Err(Error::InvalidArgument { arg: "lengths", .. })
        ));
    }
}
