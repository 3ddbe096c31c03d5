//! squeeze: portable GPU kernels for compressed LLM inference, dispatched through wgpu on
//! Vulkan, Metal, DX12 and GL. This is the crate an engine depends on; it re-exports the runtime
//! and every kernel family.
//!
//! A kernel is built once per device and records into the engine's command encoder:
//!
//! ```no_run
//! use squeeze::core::copy::Copy;
//! use squeeze::{Binding, Gpu, GpuOptions};
//!
//! // Or Gpu::from_wgpu(adapter_info, device, queue) to use the engine's own device.
//! let gpu = Gpu::new(GpuOptions::default())?;
//! let copy = Copy::new(&gpu)?; // compiles and caches its pipeline once
//! let src = gpu.upload("src", &[1u32, 2, 3, 4])?;
//! let dst = gpu.storage_buffer("dst", 16)?;
//! let mut encoder = gpu.encoder("engine step");
//! copy.encode(&mut encoder, Binding::whole(&src), Binding::whole(&dst))?; // record only
//! gpu.submit_and_wait(encoder)?;
//! assert_eq!(gpu.read_back::<u32>("dst", &dst, 0, 4)?, vec![1, 2, 3, 4]);
//! # Ok::<(), squeeze::Error>(())
//! ```

pub mod arrays;
pub mod files;

pub use squeeze_attention as attention;
pub use squeeze_core as core;
pub use squeeze_core::{
    AdapterEntry, AllocationCounts, Backend, Binding, Clock, DType, Element, Error, Gpu,
    GpuOptions, Profiler, Result, Timing, enumerate_adapters, select_adapter, wgpu,
};
pub use squeeze_dfloat11 as dfloat11;
pub use squeeze_quant as quant;
pub use squeeze_shaders as shaders;
pub use squeeze_topk as topk;
