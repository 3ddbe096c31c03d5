//! Typed buffers: upload, zeroed storage, uniforms, readback, bindings (buffer + offset + size)
//! and bind groups, with every size, alignment and limit checked on the host first.

use std::fmt;

use wgpu::util::DeviceExt;

use crate::error::{Error, Result};
use crate::gpu::Gpu;

/// Element types a tensor may hold on the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DType {
    F32,
    F16,
    Bf16,
    U32,
    I32,
    U8,
}

impl DType {
    pub fn size(self) -> usize {
        match self {
            DType::F32 | DType::U32 | DType::I32 => 4,
            DType::F16 | DType::Bf16 => 2,
            DType::U8 => 1,
        }
    }
}

impl DType {
    /// Whether `self` (the dtype of argument `arg`) is f16, for the kernels that take f32 or
    /// f16 at a seam; any other dtype is an error naming the argument.
    pub fn is_f16(self, arg: &'static str) -> Result<bool> {
        match self {
            DType::F32 => Ok(false),
            DType::F16 => Ok(true),
            other => Err(Error::invalid(arg, "dtype", "f32 | f16", other)),
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DType::F32 => "f32",
            DType::F16 => "f16",
            DType::Bf16 => "bf16",
            DType::U32 => "u32",
            DType::I32 => "i32",
            DType::U8 => "u8",
        })
    }
}

/// A plain-data element with a known [`DType`].
pub trait Element: bytemuck::Pod {
    const DTYPE: DType;
}

impl Element for f32 {
    const DTYPE: DType = DType::F32;
}
impl Element for half::f16 {
    const DTYPE: DType = DType::F16;
}
impl Element for half::bf16 {
    const DTYPE: DType = DType::Bf16;
}
impl Element for u32 {
    const DTYPE: DType = DType::U32;
}
impl Element for i32 {
    const DTYPE: DType = DType::I32;
}
impl Element for u8 {
    const DTYPE: DType = DType::U8;
}

/// A byte range of a buffer bound to a kernel.
#[derive(Debug, Clone, Copy)]
pub struct Binding<'a> {
    pub buffer: &'a wgpu::Buffer,
    pub offset: u64,
    pub size: u64,
}

impl<'a> Binding<'a> {
    /// The whole buffer.
    pub fn whole(buffer: &'a wgpu::Buffer) -> Self {
        Self {
            buffer,
            offset: 0,
            size: buffer.size(),
        }
    }

    pub fn new(buffer: &'a wgpu::Buffer, offset: u64, size: u64) -> Self {
        Self {
            buffer,
            offset,
            size,
        }
    }

    fn as_entry(&self, binding: u32) -> Result<wgpu::BindGroupEntry<'a>> {
        let size = std::num::NonZeroU64::new(self.size)
            .ok_or_else(|| Error::invalid("binding", "size", "> 0 bytes", 0))?;
        Ok(wgpu::BindGroupEntry {
            binding,
            resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                buffer: self.buffer,
                offset: self.offset,
                size: Some(size),
            }),
        })
    }
}

/// Rounds up to wgpu's copy alignment (4 bytes); an empty buffer still gets 4 bytes.
fn padded(bytes: u64) -> u64 {
    bytes.div_ceil(wgpu::COPY_BUFFER_ALIGNMENT).max(1) * wgpu::COPY_BUFFER_ALIGNMENT
}

impl Gpu {
    /// Fails unless a buffer of `bytes` fits `max_buffer_size`.
    pub fn check_buffer_size(&self, arg: &'static str, bytes: u64) -> Result<()> {
        let max = self.limits().max_buffer_size;
        if bytes > max {
            return Err(Error::OverLimit {
                arg,
                bytes,
                limit: "max_buffer_size",
                max,
            });
        }
        Ok(())
    }

    /// Fails unless `binding` can be bound as storage: inside its buffer, offset aligned to
    /// `min_storage_buffer_offset_alignment`, size a non-zero multiple of 4 and at most
    /// `max_storage_buffer_binding_size`, buffer usage including `STORAGE`.
    pub fn check_storage_binding(&self, arg: &'static str, binding: &Binding<'_>) -> Result<()> {
        let limits = self.limits();
        if !binding.buffer.usage().contains(wgpu::BufferUsages::STORAGE) {
            return Err(Error::invalid(
                arg,
                "buffer usage",
                "to include STORAGE",
                format!("{:?}", binding.buffer.usage()),
            ));
        }
        let align = u64::from(limits.min_storage_buffer_offset_alignment);
        if !binding.offset.is_multiple_of(align) {
            return Err(Error::invalid(
                arg,
                "offset",
                format!("a multiple of min_storage_buffer_offset_alignment = {align}"),
                binding.offset,
            ));
        }
        if binding.size == 0 || !binding.size.is_multiple_of(4) {
            return Err(Error::invalid(
                arg,
                "size",
                "a non-zero multiple of 4 bytes",
                binding.size,
            ));
        }
        let max = limits.max_storage_buffer_binding_size;
        if binding.size > max {
            return Err(Error::OverLimit {
                arg,
                bytes: binding.size,
                limit: "max_storage_buffer_binding_size",
                max,
            });
        }
        let end = binding.offset.checked_add(binding.size);
        if end.is_none_or(|end| end > binding.buffer.size()) {
            return Err(Error::invalid(
                arg,
                "offset + size",
                format!("at most the buffer size {}", binding.buffer.size()),
                format!("{} + {}", binding.offset, binding.size),
            ));
        }
        Ok(())
    }

    /// Fails unless `binding` holds at least `bytes` bytes, the size of `what`.
    pub fn check_binding_holds(
        &self,
        arg: &'static str,
        binding: &Binding<'_>,
        bytes: u64,
        what: impl fmt::Display,
    ) -> Result<()> {
        if binding.size < bytes {
            return Err(Error::invalid(
                arg,
                "size",
                format!("at least {bytes} bytes for {what}"),
                binding.size,
            ));
        }
        Ok(())
    }

    /// A storage buffer holding `data`, usable as kernel input or output and as a copy source
    /// or destination. Its size is padded to a multiple of 4 bytes.
    pub fn upload<T: Element>(&self, arg: &'static str, data: &[T]) -> Result<wgpu::Buffer> {
        let bytes: &[u8] = bytemuck::cast_slice(data);
        let size = padded(bytes.len() as u64);
        self.check_buffer_size(arg, size)?;
        let mut contents = bytes.to_vec();
        contents.resize(size as usize, 0);
        self.counters().buffer();
        Ok(self
            .device()
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(arg),
                contents: &contents,
                usage: storage_usage(),
            }))
    }

    /// A zero-filled storage buffer of `bytes` (padded to a multiple of 4).
    pub fn storage_buffer(&self, arg: &'static str, bytes: u64) -> Result<wgpu::Buffer> {
        let size = padded(bytes);
        self.check_buffer_size(arg, size)?;
        self.counters().buffer();
        Ok(self.device().create_buffer(&wgpu::BufferDescriptor {
            label: Some(arg),
            size,
            usage: storage_usage(),
            mapped_at_creation: false,
        }))
    }

    /// A read-only storage buffer holding `data`, made once per distinct content and shared
    /// by later calls (through the bind cache's store): for small per-dispatch tables that
    /// repeat every step, such as attention's per-head policies.
    pub fn constant<T: Element>(&self, arg: &'static str, data: &[T]) -> Result<wgpu::Buffer> {
        let bytes: &[u8] = bytemuck::cast_slice(data);
        self.bind_cache().constant(bytes, || self.upload(arg, data))
    }

    /// A uniform buffer holding one parameter block.
    pub fn uniform<T: bytemuck::Pod>(&self, label: &str, params: &T) -> wgpu::Buffer {
        self.counters().buffer();
        self.device()
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(label),
                contents: bytemuck::bytes_of(params),
                usage: wgpu::BufferUsages::UNIFORM,
            })
    }

    /// The bind group of a squeeze kernel: binding 0 is the `params` uniform, then `bindings`
    /// at 1, 2, … in the order the shader declares them.
    pub fn bind_group(
        &self,
        pipeline: &wgpu::ComputePipeline,
        params: &wgpu::Buffer,
        bindings: &[Binding<'_>],
    ) -> Result<wgpu::BindGroup> {
        let slotted = bindings.iter().enumerate().map(|(i, b)| (i as u32 + 1, *b));
        self.bind_group_slots(pipeline, params, slotted)
    }

    /// [`Gpu::bind_group`] with each binding at an explicit slot.
    pub fn bind_group_slots<'b>(
        &self,
        pipeline: &wgpu::ComputePipeline,
        params: &wgpu::Buffer,
        bindings: impl Iterator<Item = (u32, Binding<'b>)>,
    ) -> Result<wgpu::BindGroup> {
        let mut entries = vec![wgpu::BindGroupEntry {
            binding: 0,
            resource: params.as_entire_binding(),
        }];
        for (slot, b) in bindings {
            entries.push(b.as_entry(slot)?);
        }
        self.counters().bind_group();
        Ok(self.device().create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &pipeline.get_bind_group_layout(0),
            entries: &entries,
        }))
    }

    /// Copies `count` elements starting `offset` bytes into `buffer` back to the host.
    pub fn read_back<T: Element>(
        &self,
        arg: &'static str,
        buffer: &wgpu::Buffer,
        offset: u64,
        count: usize,
    ) -> Result<Vec<T>> {
        let bytes = (count * T::DTYPE.size()) as u64;
        if count == 0 {
            return Ok(Vec::new());
        }
        if !offset.is_multiple_of(wgpu::COPY_BUFFER_ALIGNMENT) {
            return Err(Error::invalid(arg, "offset", "a multiple of 4", offset));
        }
        let size = padded(bytes);
        if offset
            .checked_add(size)
            .is_none_or(|end| end > buffer.size())
        {
            return Err(Error::invalid(
                arg,
                "offset + size",
                format!("at most the buffer size {}", buffer.size()),
                format!("{offset} + {size}"),
            ));
        }
        self.counters().buffer();
        let staging = self.device().create_buffer(&wgpu::BufferDescriptor {
            label: Some("squeeze readback"),
            size,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut encoder = self.encoder("squeeze readback");
        encoder.copy_buffer_to_buffer(buffer, offset, &staging, 0, size);
        self.submit_and_wait(encoder)?;
        let (tx, rx) = std::sync::mpsc::channel();
        staging.map_async(wgpu::MapMode::Read, .., move |r| {
            // The receiver waits below; a send can only fail if it is gone, which it is not.
            let _ = tx.send(r);
        });
        self.device().poll(wgpu::PollType::wait_indefinitely())?;
        let readback = |message: String| Error::Readback { arg, message };
        rx.recv()
            .map_err(|e| readback(e.to_string()))?
            .map_err(|e| readback(e.to_string()))?;
        let view = staging
            .get_mapped_range(..)
            .map_err(|e| readback(e.to_string()))?;
        // The mapped bytes need not be aligned for T: copy them out with an unaligned read.
        let out = bytemuck::pod_collect_to_vec(&view[..bytes as usize]);
        drop(view);
        staging.unmap();
        Ok(out)
    }
}

fn storage_usage() -> wgpu::BufferUsages {
    wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST
}
