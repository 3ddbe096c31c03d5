//! The copy kernel (`shaders/core/copy.wgsl`): `dst = src` in 16-byte words. Its read+write
//! throughput is the bandwidth every squeeze benchmark is reported against.

use squeeze_shaders::{Module, core::COPY};

use crate::buffer::Binding;
use crate::error::{Error, Result};
use crate::gpu::Gpu;

/// Invocations per workgroup (the `WORKGROUP_SIZE` override).
pub const WORKGROUP_SIZE: u32 = 256;
/// Bytes one invocation moves per step; bindings are multiples of it.
pub const WORD_BYTES: u64 = 16;

/// The copy kernel on one device.
pub struct Copy {
    gpu: Gpu,
    pipeline: wgpu::ComputePipeline,
}

impl Copy {
    pub const SHADER: &'static Module = &COPY;

    pub fn new(gpu: &Gpu) -> Result<Self> {
        let pipeline = gpu.pipeline(
            Self::SHADER,
            "copy_vec4",
            &[("WORKGROUP_SIZE", f64::from(WORKGROUP_SIZE))],
        )?;
        Ok(Self {
            gpu: gpu.clone(),
            pipeline,
        })
    }

    /// Records `dst = src`. Both bindings must have the same size, a multiple of 16 bytes.
    pub fn encode(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        src: Binding<'_>,
        dst: Binding<'_>,
    ) -> Result<()> {
        self.gpu.check_storage_binding("src", &src)?;
        self.gpu.check_storage_binding("dst", &dst)?;
        if !src.size.is_multiple_of(WORD_BYTES) {
            return Err(Error::invalid(
                "src",
                "size",
                "a multiple of 16 bytes",
                src.size,
            ));
        }
        if dst.size != src.size {
            return Err(Error::invalid(
                "dst",
                "size",
                format!("{} bytes (the size of src)", src.size),
                dst.size,
            ));
        }
        let words = u32::try_from(src.size / WORD_BYTES).map_err(|_| {
            Error::invalid("src", "size", "at most u32::MAX 16-byte words", src.size)
        })?;
        self.gpu.dispatch_grid_stride(
            encoder,
            "copy_vec4",
            &self.pipeline,
            &[src, dst],
            words,
            WORKGROUP_SIZE,
        )
    }

    /// Uploads `src` (a multiple of 4 words), copies it on the device and reads the copy back.
    pub fn run(&self, src: &[u32]) -> Result<Vec<u32>> {
        let bytes = std::mem::size_of_val(src) as u64;
        if bytes == 0 || !bytes.is_multiple_of(WORD_BYTES) {
            return Err(Error::invalid(
                "src",
                "length",
                "a non-zero multiple of 4 u32 words",
                src.len(),
            ));
        }
        let input = self.gpu.upload("src", src)?;
        let output = self.gpu.storage_buffer("dst", bytes)?;
        let mut encoder = self.gpu.encoder("copy");
        self.encode(
            &mut encoder,
            Binding::whole(&input),
            Binding::whole(&output),
        )?;
        self.gpu.submit_and_wait(encoder)?;
        self.gpu.read_back("dst", &output, 0, src.len())
    }
}
