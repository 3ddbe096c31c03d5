//! `squeeze.dequantize`, `matmul` (GGUF block bytes) and `dequantize_affine`, `matmul_affine`
//! (group-wise int4/int8), as `squeeze run dequant|matmul`.

use half::f16;
use pyo3::prelude::*;
use squeeze::arrays::Array;
use squeeze::arrays::quant::{
    Activations, Matrix, Weights, dequantize as run_dequantize, matmul as run_matmul,
};
use squeeze::quant::Format;

use crate::device::{Device, resolve};
use crate::errors::to_py;
use crate::input::{Floats, Input, Kind, Named, typed};
use crate::output;
use crate::params::count;

/// The result as an f32 NumPy array.
fn out<'py>(py: Python<'py>, m: Matrix) -> PyResult<Bound<'py, PyAny>> {
    output::array(py, m.values, &m.shape)
}

/// GGUF weights: the format by name and the raw block bytes.
struct Gguf<'py> {
    format: Format,
    cols: usize,
    w: Named<'py, u8>,
}

impl<'py> Gguf<'py> {
    fn new(w: &Bound<'py, PyAny>, format: &str, cols: i64) -> PyResult<Self> {
        Ok(Self {
            format: format.parse().map_err(to_py)?,
            cols: count("cols", cols)?,
            w: typed("w", w, Kind::U8)?,
        })
    }

    fn weights(&self) -> PyResult<Weights<'_>> {
        Ok(Weights::Gguf {
            format: self.format,
            w: self.w.array()?,
            cols: self.cols,
        })
    }
}

/// Affine weights: packed codes (uint32, or int32 as GPTQ/AWQ checkpoints store them), f16
/// scales and optional f16 zero points.
struct Affine<'py> {
    bits: u32,
    group: u32,
    qweight: Input<'py>,
    scales: Named<'py, f16>,
    zeros: Option<Named<'py, f16>>,
}

impl<'py> Affine<'py> {
    fn new(
        qweight: &Bound<'py, PyAny>,
        scales: &Bound<'py, PyAny>,
        zeros: Option<&Bound<'py, PyAny>>,
        bits: i64,
        group: i64,
    ) -> PyResult<Self> {
        Ok(Self {
            bits: count("bits", bits)?,
            group: count("group", group)?,
            qweight: Input::new("qweight", qweight, &[Kind::U32, Kind::I32])?,
            scales: typed("scales", scales, Kind::F16)?,
            zeros: zeros.map(|z| typed("zeros", z, Kind::F16)).transpose()?,
        })
    }

    /// Runs `f` on the weights (int32 codes reinterpreted as the same bits in uint32).
    fn with<T>(&self, f: impl FnOnce(Weights<'_>) -> PyResult<T>) -> PyResult<T> {
        let (codes_i32, codes_u32);
        let qweight = if self.qweight.kind == Kind::I32 {
            codes_i32 = self.qweight.typed::<i32>()?;
            let a = codes_i32.array()?;
            Array::new(a.name, a.shape, bytemuck::cast_slice(a.data))
        } else {
            codes_u32 = self.qweight.typed::<u32>()?;
            codes_u32.array()?
        };
        f(Weights::Affine {
            bits: self.bits,
            group: self.group,
            qweight,
            scales: self.scales.array()?,
            zeros: self.zeros.as_ref().map(Named::array).transpose()?,
            cols: None,
        })
    }
}

/// Runs `y = x · Wᵀ` without the GIL.
fn matmul_with(
    py: Python<'_>,
    device: Option<&Bound<'_, Device>>,
    w: Weights<'_>,
    x: &Floats<'_>,
) -> PyResult<Matrix> {
    let gpu = resolve(py, device)?;
    let x = match x {
        Floats::F32(a) => Activations::F32(a.array()?),
        Floats::F16(a) => Activations::F16(a.array()?),
    };
    py.detach(|| run_matmul(&gpu, w, x)).map_err(to_py)
}

/// GGUF block bytes `w` uint8 `[rows, row_bytes]` of `format` (q8_0, q4_0, q4_1, q5_0, q5_1,
/// q2_k, q3_k, q4_k, q5_k, q6_k, iq4_nl, mxfp4) with `cols` weights per row, to float32
/// `[rows, cols]`, bit-exact.
#[pyfunction]
#[pyo3(signature = (w, format, cols, *, device=None))]
pub fn dequantize<'py>(
    py: Python<'py>,
    w: &Bound<'py, PyAny>,
    format: &str,
    cols: i64,
    device: Option<&Bound<'py, Device>>,
) -> PyResult<Bound<'py, PyAny>> {
    let g = Gguf::new(w, format, cols)?;
    let weights = g.weights()?;
    let gpu = resolve(py, device)?;
    let m = py.detach(|| run_dequantize(&gpu, weights)).map_err(to_py)?;
    out(py, m)
}

/// `y = x · Wᵀ` float32 `[batch, rows]` for GGUF weights `w` (as [`dequantize`]) and
/// activations `x` `[batch, cols]` float32 or float16 (GEMV for batch ≤ 8, GEMM above).
#[pyfunction]
#[pyo3(signature = (w, x, format, cols, *, device=None))]
pub fn matmul<'py>(
    py: Python<'py>,
    w: &Bound<'py, PyAny>,
    x: &Bound<'py, PyAny>,
    format: &str,
    cols: i64,
    device: Option<&Bound<'py, Device>>,
) -> PyResult<Bound<'py, PyAny>> {
    let g = Gguf::new(w, format, cols)?;
    let x = Floats::new("x", x)?;
    let m = matmul_with(py, device, g.weights()?, &x)?;
    out(py, m)
}

/// Group-wise affine weights to float32 `[rows, cols]`, bit-exact: `qweight` uint32 or int32
/// `[rows, cols·bits/32]` (codes packed LSB-first), `scales` and optional `zeros` float16
/// `[rows, cols/group]` (zero points in code units; None = symmetric), `bits` 4 or 8, `group`
/// 32, 64 or 128.
#[pyfunction]
#[pyo3(signature = (qweight, scales, zeros, bits, group, *, device=None))]
pub fn dequantize_affine<'py>(
    py: Python<'py>,
    qweight: &Bound<'py, PyAny>,
    scales: &Bound<'py, PyAny>,
    zeros: Option<&Bound<'py, PyAny>>,
    bits: i64,
    group: i64,
    device: Option<&Bound<'py, Device>>,
) -> PyResult<Bound<'py, PyAny>> {
    let a = Affine::new(qweight, scales, zeros, bits, group)?;
    let gpu = resolve(py, device)?;
    let m = a.with(|w| py.detach(|| run_dequantize(&gpu, w)).map_err(to_py))?;
    out(py, m)
}

/// `y = x · Wᵀ` float32 `[batch, rows]` for affine weights (as [`dequantize_affine`]) and
/// activations `x` `[batch, cols]` float32 or float16.
#[pyfunction]
#[pyo3(signature = (qweight, scales, zeros, bits, group, x, *, device=None))]
#[allow(clippy::too_many_arguments)] // the Python signature, plus `device`
pub fn matmul_affine<'py>(
    py: Python<'py>,
    qweight: &Bound<'py, PyAny>,
    scales: &Bound<'py, PyAny>,
    zeros: Option<&Bound<'py, PyAny>>,
    bits: i64,
    group: i64,
    x: &Bound<'py, PyAny>,
    device: Option<&Bound<'py, Device>>,
) -> PyResult<Bound<'py, PyAny>> {
    let a = Affine::new(qweight, scales, zeros, bits, group)?;
    let x = Floats::new("x", x)?;
    let m = a.with(|w| matmul_with(py, device, w, &x))?;
    out(py, m)
}
