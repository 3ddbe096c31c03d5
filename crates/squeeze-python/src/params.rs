//! Scalar arguments checked as `squeeze run` checks its `--set` values, so a negative count or an
//! infinite scale is a `ValueError` with the same words, not a Python `OverflowError`.

use pyo3::PyResult;

use crate::errors::invalid;
use crate::input::{Input, Kind};
use pyo3::prelude::*;

/// A non-negative integer parameter.
pub fn count<T: TryFrom<i64>>(name: &'static str, value: i64) -> PyResult<T> {
    T::try_from(value).map_err(|_| {
        invalid(
            name,
            "value",
            "a non-negative integer",
            format!("`{value}`"),
        )
    })
}

/// A finite number parameter.
pub fn finite(name: &'static str, value: f64) -> PyResult<f64> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(invalid(
            name,
            "value",
            "a finite number",
            format!("`{value}`"),
        ))
    }
}

/// Integer entries (row lengths, page indices) given as int32 or int64 (NumPy's default integer),
/// as i32; an int64 entry outside i32 is an error naming it.
pub fn int32_entries(
    name: &'static str,
    obj: &Bound<'_, PyAny>,
) -> PyResult<(Vec<usize>, Vec<i32>)> {
    let input = Input::new(name, obj, &[Kind::I32, Kind::I64])?;
    if input.kind == Kind::I32 {
        let a = input.typed::<i32>()?;
        let a = a.array()?;
        return Ok((a.shape.to_vec(), a.data.to_vec()));
    }
    let a = input.typed::<i64>()?;
    let a = a.array()?;
    let data = a
        .data
        .iter()
        .map(|&v| i32::try_from(v).map_err(|_| invalid(name, "entry", "within int32", v)))
        .collect::<PyResult<Vec<i32>>>()?;
    Ok((a.shape.to_vec(), data))
}
