//! `squeeze.topk`: exact top-k of each row, as `squeeze run topk`.

use half::{bf16, f16};
use pyo3::prelude::*;
use squeeze::arrays::Array;
use squeeze::arrays::topk::topk as run_topk;
use squeeze::topk::reference::Score;

use crate::device::{Device, resolve};
use crate::errors::to_py;
use crate::input::{Input, Kind};
use crate::output;
use crate::params::{count, int32_entries};

/// The k best elements of each row of `x` `[rows, n]`, best first, as torch.topk orders them
/// (NaN above +inf, ties to the lower index): `(values, indices)`, values in `x`'s dtype,
/// indices int32. `lengths` `[rows]` limits each row to its first `lengths[r]` elements; rows
/// shorter than k are padded with −inf (largest) or +inf and index −1.
#[pyfunction]
#[pyo3(signature = (x, k, largest=true, lengths=None, *, device=None))]
pub fn topk<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    k: i64,
    largest: bool,
    lengths: Option<&Bound<'py, PyAny>>,
    device: Option<&Bound<'py, Device>>,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    let k: usize = count("k", k)?;
    let x = Input::new("x", x, &[Kind::F32, Kind::F16, Kind::Bf16, Kind::Bf16Bits])?;
    let lengths = lengths.map(|l| int32_entries("lengths", l)).transpose()?;
    let lengths = lengths
        .as_ref()
        .map(|(shape, data)| Array::new("lengths", shape, data));
    let gpu = resolve(py, device)?;
    match x.kind {
        Kind::F32 => {
            let x = x.typed::<f32>()?;
            let (values, indices, shape) = select(py, &gpu, x.array()?, k, largest, lengths)?;
            Ok((output::array(py, values, &shape)?, indices))
        }
        Kind::F16 => {
            let x = x.typed::<f16>()?;
            let (values, indices, shape) = select(py, &gpu, x.array()?, k, largest, lengths)?;
            Ok((output::array(py, values, &shape)?, indices))
        }
        kind => {
            let x = x.typed::<u16>()?;
            let x = x.array()?;
            let data: &[bf16] = bytemuck::cast_slice(x.data);
            let x = Array::new(x.name, x.shape, data);
            let (values, indices, shape) = select(py, &gpu, x, k, largest, lengths)?;
            let bits = values.iter().map(|v| v.to_bits()).collect();
            let values = output::bf16(py, bits, &shape, kind == Kind::Bf16)?;
            Ok((values, indices))
        }
    }
}

/// Runs the kernel without the GIL; values as `T`, indices already a NumPy array.
fn select<'py, T: Score + Send + Sync>(
    py: Python<'py>,
    gpu: &squeeze::Gpu,
    x: Array<'_, T>,
    k: usize,
    largest: bool,
    lengths: Option<Array<'_, i32>>,
) -> PyResult<(Vec<T>, Bound<'py, PyAny>, [usize; 2])> {
    let top = py
        .detach(|| run_topk(gpu, x, k, largest, lengths))
        .map_err(to_py)?;
    let indices = output::array(py, top.indices, &top.shape)?;
    Ok((top.values, indices, top.shape))
}
