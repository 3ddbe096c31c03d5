//! Adapters and devices: `squeeze.adapters()`, `squeeze.Device(backend=None, adapter=None)`, and
//! the default device every function uses when it is given none, opened once on first use.

use std::sync::Mutex;

use pyo3::prelude::*;
use pyo3::types::PyDict;
use squeeze::core::gpu::WANTED_FEATURES;
use squeeze::{Backend, Gpu, GpuOptions, enumerate_adapters, select_adapter};

use crate::errors::to_py;

/// One opened GPU device (adapter, device and queue, with its compiled pipelines).
#[pyclass(frozen, module = "squeeze")]
pub struct Device {
    pub gpu: Gpu,
}

#[pymethods]
impl Device {
    /// Opens the adapter `backend` ("vulkan", "metal", "dx12", "gl") and/or `adapter` (an index
    /// from `adapters()`) select; unset ones fall back to `SQUEEZE_BACKEND` and
    /// `SQUEEZE_ADAPTER`, then to the best adapter (real GPUs first), as `squeeze --backend
    /// --adapter` does.
    #[new]
    #[pyo3(signature = (backend=None, adapter=None))]
    fn new(py: Python<'_>, backend: Option<&str>, adapter: Option<usize>) -> PyResult<Self> {
        let backend = backend
            .map(str::parse::<Backend>)
            .transpose()
            .map_err(to_py)?;
        let options = GpuOptions { backend, adapter };
        let gpu = py.detach(|| Gpu::new(options)).map_err(to_py)?;
        Ok(Self { gpu })
    }

    /// The adapter's name.
    #[getter]
    fn name(&self) -> String {
        self.gpu.info().name.clone()
    }

    /// The backend: "vulkan", "metal", "dx12" or "gl".
    #[getter]
    fn backend(&self) -> String {
        backend_name(self.gpu.info().backend)
    }

    /// The optional features squeeze uses that this device has.
    #[getter]
    fn features(&self) -> Vec<&'static str> {
        let have = self.gpu.features();
        WANTED_FEATURES
            .iter()
            .filter(|(_, f)| have.contains(*f))
            .map(|(name, _)| *name)
            .collect()
    }

    fn __repr__(&self) -> String {
        format!("<squeeze.Device {}>", self.gpu.label())
    }
}

fn backend_name(backend: squeeze::wgpu::Backend) -> String {
    Backend::from_wgpu(backend).map_or_else(
        || format!("{backend:?}").to_lowercase(),
        |b| b.name().to_string(),
    )
}

/// The device a call runs on: the one given, else the default.
pub fn resolve(py: Python<'_>, device: Option<&Bound<'_, Device>>) -> PyResult<Gpu> {
    match device {
        Some(d) => Ok(d.get().gpu.clone()),
        None => default_gpu(py),
    }
}

/// The default device, opened on first use (`SQUEEZE_BACKEND` / `SQUEEZE_ADAPTER`, else the best
/// adapter) and kept for the life of the process; a failed open is retried by the next call.
fn default_gpu(py: Python<'_>) -> PyResult<Gpu> {
    static DEFAULT: Mutex<Option<Gpu>> = Mutex::new(None);
    py.detach(|| {
        let mut slot = DEFAULT
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(gpu) = slot.as_ref() {
            return Ok(gpu.clone());
        }
        let gpu = Gpu::new(GpuOptions::default())?;
        *slot = Some(gpu.clone());
        Ok(gpu)
    })
    .map_err(to_py)
}

/// The device functions use when given none (opened now if it is not open yet).
#[pyfunction]
pub fn default_device(py: Python<'_>) -> PyResult<Device> {
    Ok(Device {
        gpu: default_gpu(py)?,
    })
}

/// Every adapter on this machine, as `squeeze info` lists them: a dict each with `index`,
/// `backend`, `name`, `device_type`, `driver`, `features` (those squeeze uses), `limits` (the
/// ones kernels check) and `default` (the one a `Device()` without arguments opens).
#[pyfunction]
pub fn adapters(py: Python<'_>) -> PyResult<Vec<Bound<'_, PyDict>>> {
    let found = py.detach(enumerate_adapters);
    let default = GpuOptions::default()
        .or_env()
        .ok()
        .and_then(|options| select_adapter(&found, &options).ok())
        .map(|d| d.index);
    found
        .iter()
        .map(|entry| {
            let info = &entry.info;
            let have = entry.adapter.features();
            let limits = entry.adapter.limits();
            let dict = PyDict::new(py);
            dict.set_item("index", entry.index)?;
            dict.set_item("backend", backend_name(info.backend))?;
            dict.set_item("name", &info.name)?;
            dict.set_item("device_type", format!("{:?}", info.device_type))?;
            dict.set_item(
                "driver",
                format!("{} {}", info.driver, info.driver_info).trim(),
            )?;
            let features: Vec<&str> = WANTED_FEATURES
                .iter()
                .filter(|(_, f)| have.contains(*f))
                .map(|(name, _)| *name)
                .collect();
            dict.set_item("features", features)?;
            let limit = PyDict::new(py);
            limit.set_item("max_buffer_size", limits.max_buffer_size)?;
            limit.set_item(
                "max_storage_buffer_binding_size",
                limits.max_storage_buffer_binding_size,
            )?;
            limit.set_item(
                "max_compute_workgroup_storage_size",
                limits.max_compute_workgroup_storage_size,
            )?;
            limit.set_item(
                "max_compute_invocations_per_workgroup",
                limits.max_compute_invocations_per_workgroup,
            )?;
            dict.set_item("limits", limit)?;
            dict.set_item("default", default == Some(entry.index))?;
            Ok(dict)
        })
        .collect()
}
