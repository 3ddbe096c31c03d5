//! Results out as NumPy arrays of their shape.

use numpy::ndarray::{ArrayD, IxDyn};
use numpy::{Element, PyArray};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

/// `values` as a NumPy array of `shape` (moved, not copied; no Python-level reshape).
pub fn array<'py, T: Element>(
    py: Python<'py>,
    values: Vec<T>,
    shape: &[usize],
) -> PyResult<Bound<'py, PyAny>> {
    let array = ArrayD::from_shape_vec(IxDyn(shape), values)
        .map_err(|e| PyRuntimeError::new_err(format!("result of shape {shape:?}: {e}")))?;
    Ok(PyArray::from_owned_array(py, array).into_any())
}

/// bfloat16 bit patterns as a NumPy array of `shape`: of dtype `ml_dtypes.bfloat16` when
/// `ml_dtypes` is wanted, else the uint16 words.
pub fn bf16<'py>(
    py: Python<'py>,
    bits: Vec<u16>,
    shape: &[usize],
    ml_dtypes: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let words = array(py, bits, shape)?;
    if !ml_dtypes {
        return Ok(words);
    }
    let bfloat16 = py.import("ml_dtypes")?.getattr("bfloat16")?;
    words.call_method1("view", (bfloat16,))
}

/// Whether `ml_dtypes` can be imported.
pub fn has_ml_dtypes(py: Python<'_>) -> bool {
    py.import("ml_dtypes").is_ok()
}
