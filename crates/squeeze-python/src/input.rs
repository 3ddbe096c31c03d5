//! Python arrays in: anything NumPy can view as an array (NumPy arrays, PyTorch CPU tensors and
//! other objects with `__array__`, nested lists), made C-contiguous (a non-contiguous input is
//! copied once), dispatched on its dtype, and borrowed as a typed slice without a further copy.

use half::f16;
use numpy::{Element, PyArrayDyn, PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyAnyMethods;
use squeeze::arrays::Array;

use crate::errors::invalid;

/// A contiguous NumPy array of element type `T`, borrowed read-only, with its argument name.
pub struct Named<'py, T: Element> {
    pub name: &'static str,
    array: PyReadonlyArrayDyn<'py, T>,
}

impl<T: Element> Named<'_, T> {
    /// The array as squeeze's host array.
    pub fn array(&self) -> PyResult<Array<'_, T>> {
        let data = self
            .array
            .as_slice()
            .map_err(|e| invalid(self.name, "layout", "C-contiguous", e))?;
        Ok(Array::new(self.name, self.array.shape(), data))
    }
}

/// The dtypes squeeze reads, by NumPy's name for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    F32,
    F16,
    /// `ml_dtypes.bfloat16`.
    Bf16,
    /// uint16 words taken as bfloat16 bit patterns.
    Bf16Bits,
    I32,
    U32,
    U8,
    I64,
}

impl Kind {
    fn numpy_name(self) -> &'static str {
        match self {
            Kind::F32 => "float32",
            Kind::F16 => "float16",
            Kind::Bf16 => "bfloat16",
            Kind::Bf16Bits => "uint16",
            Kind::I32 => "int32",
            Kind::U32 => "uint32",
            Kind::U8 => "uint8",
            Kind::I64 => "int64",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Kind::Bf16 => "bfloat16 (ml_dtypes)",
            Kind::Bf16Bits => "uint16 (bfloat16 bit patterns)",
            other => other.numpy_name(),
        }
    }
}

/// An input array: its kind among the accepted ones, as a contiguous NumPy array.
pub struct Input<'py> {
    pub name: &'static str,
    pub kind: Kind,
    array: Bound<'py, PyAny>,
}

impl<'py> Input<'py> {
    /// `obj` as a C-contiguous array whose dtype is one of `accepted`; anything else is a
    /// `ValueError` naming the argument, the accepted dtypes and the given one.
    pub fn new(name: &'static str, obj: &Bound<'py, PyAny>, accepted: &[Kind]) -> PyResult<Self> {
        // Looked up once: a small call's cost is mostly this glue.
        static ASCONTIGUOUSARRAY: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
        static UINT16: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
        let py = obj.py();
        let array = ASCONTIGUOUSARRAY
            .import(py, "numpy", "ascontiguousarray")?
            .call1((obj,))
            .map_err(|e| {
                invalid(
                    name,
                    "value",
                    "an array (NumPy, or anything with __array__)",
                    e,
                )
            })?;
        let dtype: String = array.getattr("dtype")?.getattr("name")?.extract()?;
        let kind = accepted
            .iter()
            .copied()
            .find(|k| k.numpy_name() == dtype)
            .ok_or_else(|| {
                let names: Vec<_> = accepted.iter().map(|k| k.describe()).collect();
                invalid(name, "dtype", names.join(" | "), &dtype)
            })?;
        let array = if kind == Kind::Bf16 {
            array.call_method1("view", (UINT16.import(py, "numpy", "uint16")?,))?
        } else {
            array
        };
        Ok(Self { name, kind, array })
    }

    /// The elements as `T`, which must be the element type of [`Input::kind`].
    pub fn typed<T: Element>(&self) -> PyResult<Named<'py, T>> {
        let array = self
            .array
            .cast::<PyArrayDyn<T>>()
            .map_err(|e| invalid(self.name, "dtype", self.kind.describe(), e))?
            .readonly();
        Ok(Named {
            name: self.name,
            array,
        })
    }
}

/// `obj` as an array of exactly one kind.
pub fn typed<'py, T: Element>(
    name: &'static str,
    obj: &Bound<'py, PyAny>,
    kind: Kind,
) -> PyResult<Named<'py, T>> {
    Input::new(name, obj, &[kind])?.typed()
}

/// An f32 or f16 array.
pub enum Floats<'py> {
    F32(Named<'py, f32>),
    F16(Named<'py, f16>),
}

impl<'py> Floats<'py> {
    pub fn new(name: &'static str, obj: &Bound<'py, PyAny>) -> PyResult<Self> {
        let input = Input::new(name, obj, &[Kind::F32, Kind::F16])?;
        Ok(match input.kind {
            Kind::F16 => Floats::F16(input.typed()?),
            _ => Floats::F32(input.typed()?),
        })
    }
}
