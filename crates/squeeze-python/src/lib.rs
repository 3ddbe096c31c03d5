//! The Python module `squeeze`: squeeze's kernels on NumPy arrays (and anything with
//! `__array__`, such as PyTorch CPU tensors), on any adapter wgpu finds, with the names,
//! semantics and error messages of `squeeze run`. Built into an abi3 wheel by maturin
//! (`pip install ./crates/squeeze-python`); `squeeze.pyi` beside this crate is the typed API.
//!
//! Each function checks its arrays, runs on the given `device` (or the default device, opened
//! once), releases the GIL while the GPU works, and returns NumPy arrays. Bad input is a
//! `ValueError` and a device failure a `RuntimeError`, with squeeze's own message.
//!
//! `generate` runs a whole model as `squeeze generate` does (squeeze-llama).

mod attention;
mod device;
mod dfloat11;
mod errors;
mod generate;
mod gguf;
mod input;
mod output;
mod params;
mod quant;
mod topk;

use pyo3::prelude::*;

/// `import squeeze`.
#[pymodule]
#[pyo3(name = "squeeze")]
fn squeeze_module(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<device::Device>()?;
    m.add_function(wrap_pyfunction!(device::adapters, m)?)?;
    m.add_function(wrap_pyfunction!(device::default_device, m)?)?;
    m.add_function(wrap_pyfunction!(topk::topk, m)?)?;
    m.add_function(wrap_pyfunction!(quant::dequantize, m)?)?;
    m.add_function(wrap_pyfunction!(quant::matmul, m)?)?;
    m.add_function(wrap_pyfunction!(quant::dequantize_affine, m)?)?;
    m.add_function(wrap_pyfunction!(quant::matmul_affine, m)?)?;
    m.add_function(wrap_pyfunction!(attention::attention_decode, m)?)?;
    m.add_function(wrap_pyfunction!(generate::generate, m)?)?;
    let modules = py.import("sys")?.getattr("modules")?;
    for sub in [dfloat11::module(py)?, gguf::module(py)?] {
        m.add_submodule(&sub)?;
        // `import squeeze.dfloat11` (and `.gguf`) finds the submodule too.
        modules.set_item(format!("squeeze.{}", sub.name()?), sub)?;
    }
    Ok(())
}
