//! The widening kernel (`shaders/core/widen.wgsl`): f16 or bf16 tensors to f32, bit for bit
//! (NaN payloads, signed zeros and subnormals preserved).

use squeeze_shaders::{Module, core::WIDEN};

use crate::buffer::{Binding, DType};
use crate::error::{Error, Result};
use crate::gpu::Gpu;

/// Invocations per workgroup (the `WORKGROUP_SIZE` override).
pub const WORKGROUP_SIZE: u32 = 256;

/// The 16-bit float formats the kernel reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Half {
    F16,
    Bf16,
}

impl Half {
    /// The shader's `FORMAT` override.
    fn format_constant(self) -> f64 {
        match self {
            Half::F16 => 0.0,
            Half::Bf16 => 1.0,
        }
    }

    pub fn dtype(self) -> DType {
        match self {
            Half::F16 => DType::F16,
            Half::Bf16 => DType::Bf16,
        }
    }
}

/// The widening kernel for one input format on one device.
pub struct Widen {
    gpu: Gpu,
    format: Half,
    pipeline: wgpu::ComputePipeline,
}

impl Widen {
    pub const SHADER: &'static Module = &WIDEN;

    pub fn new(gpu: &Gpu, format: Half) -> Result<Self> {
        let pipeline = gpu.pipeline(
            Self::SHADER,
            "widen",
            &[
                ("WORKGROUP_SIZE", f64::from(WORKGROUP_SIZE)),
                ("FORMAT", format.format_constant()),
            ],
        )?;
        Ok(Self {
            gpu: gpu.clone(),
            format,
            pipeline,
        })
    }

    /// Records `dst[i] = f32(src[i])` for `n` elements: `src` holds at least `n` 16-bit values
    /// (two per word), `dst` at least `n` f32.
    pub fn encode(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        n: u32,
        src: Binding<'_>,
        dst: Binding<'_>,
    ) -> Result<()> {
        if n == 0 {
            return Ok(());
        }
        self.gpu.check_storage_binding("src", &src)?;
        self.gpu.check_storage_binding("dst", &dst)?;
        let dtype = self.format.dtype();
        self.gpu.check_binding_holds(
            "src",
            &src,
            u64::from(n).div_ceil(2) * 4,
            format_args!("{n} {dtype} values"),
        )?;
        self.gpu.check_binding_holds(
            "dst",
            &dst,
            u64::from(n) * 4,
            format_args!("{n} f32 values"),
        )?;
        self.gpu.dispatch_grid_stride(
            encoder,
            "widen",
            &self.pipeline,
            &[src, dst],
            n,
            WORKGROUP_SIZE,
        )
    }

    /// Widens `src` (raw 16-bit patterns of the kernel's format) on the device.
    pub fn run(&self, src: &[u16]) -> Result<Vec<f32>> {
        let n = u32::try_from(src.len())
            .map_err(|_| Error::invalid("src", "length", "at most u32::MAX", src.len()))?;
        if n == 0 {
            return Ok(Vec::new());
        }
        let input = self.gpu.upload::<u8>("src", bytemuck::cast_slice(src))?;
        let output = self.gpu.storage_buffer("dst", u64::from(n) * 4)?;
        let mut encoder = self.gpu.encoder("widen");
        self.encode(
            &mut encoder,
            n,
            Binding::whole(&input),
            Binding::whole(&output),
        )?;
        self.gpu.submit_and_wait(encoder)?;
        self.gpu.read_back("dst", &output, 0, src.len())
    }
}
