//! Row-wise top-k on a host matrix, as `squeeze run topk` and Python's `squeeze.topk` run it:
//! torch.topk's order (NaN above +inf, ties to the lower index), values in the input dtype.

use squeeze_core::{Error, Gpu, Result};
use squeeze_topk::reference::Score;
use squeeze_topk::{Order, TopK};

use super::{Array, non_negative};

/// The k best of each row, best first: `values` and `indices` are `shape` = `[rows, k]`.
/// Rows shorter than k (by `lengths`) are padded with −inf (largest) or +inf and index −1.
#[derive(Debug, Clone, PartialEq)]
pub struct Selected<T> {
    pub values: Vec<T>,
    pub indices: Vec<i32>,
    pub shape: [usize; 2],
}

/// Top-k of each row of `x` `[rows, n]`, `1 ≤ k ≤ n`; `lengths` `[rows]` limits each row to
/// its first `lengths[r]` elements (0..=n).
pub fn topk<T: Score>(
    gpu: &Gpu,
    x: Array<'_, T>,
    k: usize,
    largest: bool,
    lengths: Option<Array<'_, i32>>,
) -> Result<Selected<T>> {
    let [rows, n] = x.dims()?;
    let lengths = lengths.map(|l| row_lengths(l, rows)).transpose()?;
    let order = if largest {
        Order::Largest
    } else {
        Order::Smallest
    };
    let (values, indices) =
        TopK::new(gpu, T::DTYPE)?.run(x.data, n, k, order, lengths.as_deref())?;
    Ok(Selected {
        values,
        indices,
        shape: [rows, k],
    })
}

/// One non-negative length per row.
fn row_lengths(lengths: Array<'_, i32>, rows: usize) -> Result<Vec<u32>> {
    let [count] = lengths.dims()?;
    if count != rows {
        return Err(Error::invalid(
            lengths.name,
            "shape",
            format!("[{rows}] (one per row of x)"),
            format!("[{count}]"),
        ));
    }
    non_negative(lengths.name, lengths.data)
}
