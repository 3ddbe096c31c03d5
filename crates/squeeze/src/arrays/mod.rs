//! Kernels on host arrays: the checks and glue that `squeeze run` (tensors of a safetensors
//! file) and the Python package (NumPy arrays) share, so both accept the same inputs, give the
//! same results and fail with the same messages.
//!
//! Every array carries the name its caller knows it by (`k_pages` for `squeeze run`, `k` for
//! Python), so an error names what the user passed. Dtypes are the front ends' business (each
//! names them its own way); these functions take typed slices and check shapes, the relations
//! between arrays, and the parameters.

pub mod attention;
pub mod quant;
pub mod topk;

use squeeze_core::{Error, Result};

/// A host array: the argument name used in errors, its shape (outermost first) and its elements
/// in row-major order.
#[derive(Debug, Clone, Copy)]
pub struct Array<'a, T> {
    pub name: &'static str,
    pub shape: &'a [usize],
    pub data: &'a [T],
}

impl<'a, T> Array<'a, T> {
    pub fn new(name: &'static str, shape: &'a [usize], data: &'a [T]) -> Self {
        Self { name, shape, data }
    }

    /// The shape, which must have `N` dimensions and describe exactly the elements given.
    pub fn dims<const N: usize>(&self) -> Result<[usize; N]> {
        let dims: [usize; N] = self.shape.try_into().map_err(|_| {
            Error::invalid(
                self.name,
                "shape",
                format!("{N} dimensions"),
                format!("{:?}", self.shape),
            )
        })?;
        let count = dims.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
        if count != Some(self.data.len()) {
            return Err(Error::invalid(
                self.name,
                "element count",
                format!("the product of its shape {:?}", self.shape),
                self.data.len(),
            ));
        }
        Ok(dims)
    }
}

/// `value` as a u32 size of argument `arg`.
fn to_u32(value: usize, arg: &'static str) -> Result<u32> {
    u32::try_from(value).map_err(|_| Error::invalid(arg, "size", "< 2^32", value))
}

/// Signed entries (page indices, row lengths) as u32; a negative one is an error naming `arg`.
fn non_negative(arg: &'static str, values: &[i32]) -> Result<Vec<u32>> {
    values
        .iter()
        .map(|&v| u32::try_from(v).map_err(|_| Error::invalid(arg, "entry", "≥ 0", v)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dims_checks_rank_and_element_count() {
        let data = [0u8; 6];
        assert_eq!(Array::new("x", &[2, 3], &data).dims::<2>().unwrap(), [2, 3]);
        let rank = Array::new("x", &[6], &data).dims::<2>().unwrap_err();
        assert!(
            rank.to_string().contains("shape must be 2 dimensions"),
            "{rank}"
        );
        let count = Array::new("x", &[4, 2], &data).dims::<2>().unwrap_err();
        assert!(count.to_string().contains("element count"), "{count}");
        let overflow = Array::new("x", &[usize::MAX, 2], &data).dims::<2>();
        assert!(overflow.is_err());
    }

    #[test]
    fn negative_entries_are_named() {
        assert_eq!(non_negative("lengths", &[0, 3]).unwrap(), vec![0, 3]);
        let e = non_negative("lengths", &[1, -2]).unwrap_err().to_string();
        assert!(e.contains("`lengths`") && e.contains("-2"), "{e}");
    }
}
