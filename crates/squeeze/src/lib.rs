//! squeeze: portable GPU kernels for compressed LLM inference, dispatched through wgpu on
//! Vulkan, Metal, DX12 and GL. This is the crate an engine depends on; it re-exports the runtime
//! and every kernel family.
//!
//! ```no_run
//! use squeeze::{Gpu, GpuOptions};
//! let gpu = Gpu::new(GpuOptions::default())?;
//! let copy = squeeze::core::copy::Copy::new(&gpu)?;
//! assert_eq!(copy.run(&[1, 2, 3, 4])?, vec![1, 2, 3, 4]);
//! # Ok::<(), squeeze::Error>(())
//! ```

pub use squeeze_core as core;
pub use squeeze_core::{
    AdapterEntry, Backend, Binding, Clock, DType, Element, Error, Gpu, GpuOptions, Profiler,
    Result, Timing, enumerate_adapters, select_adapter, wgpu,
};
pub use squeeze_shaders as shaders;
