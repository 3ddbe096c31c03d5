//! GPU decoding of one native unit (`shaders/dfloat11/native_decode.wgsl`), equal to
//! [`crate::native::reference::decode`] bit for bit: one pass, one invocation per chunk, the
//! decode table in workgroup memory.

use squeeze_core::{Binding, Gpu};
use squeeze_shaders::Module;
use squeeze_shaders::dfloat11::NATIVE_DECODE;

use crate::device::{check_bindings, read_back_bf16};
use crate::error::Result;
use crate::native::device::{
    NativeBindings, NativeBuffers, NativeParams, WORKGROUP_SIZE, pipeline, workgroups,
};
use crate::native::format::CheckedNative;

/// The native decoder on one device.
pub struct NativeDecode {
    gpu: Gpu,
    pipeline: squeeze_core::wgpu::ComputePipeline,
}

impl NativeDecode {
    pub const SHADER: &'static Module = &NATIVE_DECODE;

    pub fn new(gpu: &Gpu) -> Result<Self> {
        Ok(Self {
            gpu: gpu.clone(),
            pipeline: pipeline(gpu, &NATIVE_DECODE, "decode", &[])?,
        })
    }

    /// Records the decode of the unit described by `params` into `out` (BF16, two per u32
    /// word). Only sizes are checked — the kernel stays in bounds and terminates on any
    /// contents; [`crate::native::NativeUnit::validate`] rejects malformed units.
    pub fn encode(
        &self,
        encoder: &mut squeeze_core::wgpu::CommandEncoder,
        params: NativeParams,
        unit: NativeBindings<'_>,
        out: Binding<'_>,
    ) -> Result<()> {
        let gpu = &self.gpu;
        params.check()?;
        unit.check(gpu, &params)?;
        check_bindings(
            gpu,
            &[("out", &out, 2 * u64::from(params.n), "n BF16 values")],
        )?;
        if params.chunks == 0 {
            return Ok(());
        }
        gpu.dispatch(
            encoder,
            "native decode",
            &self.pipeline,
            &params,
            &[unit.into_array().as_slice(), &[out]].concat(),
            workgroups(gpu, params.chunks.div_ceil(WORKGROUP_SIZE)),
        )?;
        Ok(())
    }

    /// Uploads a validated unit, decodes it on the device and reads back the BF16 bits.
    pub fn run(&self, unit: &CheckedNative<'_>) -> Result<Vec<u16>> {
        if unit.n == 0 {
            return Ok(Vec::new());
        }
        let gpu = &self.gpu;
        let buffers = NativeBuffers::upload(gpu, unit)?;
        let out = gpu.storage_buffer("out", 2 * unit.n as u64)?;
        let mut encoder = gpu.encoder("native decode");
        self.encode(
            &mut encoder,
            NativeParams::new(unit, 1),
            buffers.bindings(),
            Binding::whole(&out),
        )?;
        gpu.submit_and_wait(encoder)?;
        read_back_bf16(gpu, &out, unit.n)
    }
}
