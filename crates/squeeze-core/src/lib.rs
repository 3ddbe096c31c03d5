//! The GPU runtime every squeeze kernel family stands on: [`Gpu`] (device, queue, adapter facts,
//! limits), the pipeline cache, typed buffers and bindings with host-side checks, the
//! [`Profiler`], the one [`Error`] type, and the core kernels ([`copy::Copy`], the bandwidth
//! reference, and [`widen::Widen`]).

pub mod bind_cache;
pub mod buffer;
pub mod copy;
pub mod dispatch;
pub mod error;
pub mod gpu;
pub mod pipeline;
pub mod profiler;
pub mod reference;
pub mod widen;

pub use bind_cache::AllocationCounts;
pub use buffer::{Binding, DType, Element};
pub use error::{Error, Result};
pub use gpu::{
    AdapterEntry, BROADCAST_LANES, Backend, Gpu, GpuOptions, enumerate_adapters, select_adapter,
};
pub use profiler::{Clock, Profiler, Timing};
pub use squeeze_shaders as shaders;
pub use wgpu;
