//! GPU decoding of one DF11 unit (`shaders/dfloat11/decode.wgsl` with `scan_workgroup.wgsl` or
//! `scan_subgroup.wgsl`), equal to [`crate::reference::decode`] bit for bit: one workgroup per
//! block, one invocation per thread, tables in workgroup memory, a workgroup prefix sum of the
//! threads' code counts.

use squeeze_core::{Binding, Gpu};
use squeeze_shaders::Module;
use squeeze_shaders::dfloat11::{DECODE, DECODE_SUBGROUP};

use crate::device::{
    UnitBindings, UnitBuffers, block_pipeline, check_bindings, check_kernel_layout,
    check_unit_layout, read_back_bf16,
};
use crate::error::Result;
use crate::format::{Checked, Layout};

/// The `params` uniform of `decode.wgsl`.
#[repr(C)]
#[derive(Debug, Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
pub struct DecodeParams {
    /// Weights to produce.
    pub n: u32,
    /// Blocks (workgroups): `len(output_positions) − 1`.
    pub blocks: u32,
    /// Rows of `luts`, the length row included.
    pub n_luts: u32,
    pub _pad: u32,
}

impl DecodeParams {
    /// Parameters for `n` weights in `blocks` blocks with `n_luts` table rows.
    pub fn new(n: u32, blocks: u32, n_luts: u32) -> Self {
        Self {
            n,
            blocks,
            n_luts,
            _pad: 0,
        }
    }
}

/// Block sizes with a registered pipeline.
pub const THREADS_PER_BLOCK: [u32; 3] = [256, 512, 1024];

/// How a workgroup sums its threads' code counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scan {
    /// Core WGSL: a raking scan in workgroup memory. Runs everywhere.
    Workgroup,
    /// Subgroup sums, one total per subgroup; needs the SUBGROUP feature.
    Subgroup,
}

impl Scan {
    /// The fastest path `gpu` can run.
    pub fn best(gpu: &Gpu) -> Self {
        if gpu.has_subgroups() {
            Scan::Subgroup
        } else {
            Scan::Workgroup
        }
    }

    pub fn shader(self) -> &'static Module {
        match self {
            Scan::Workgroup => &DECODE,
            Scan::Subgroup => &DECODE_SUBGROUP,
        }
    }
}

/// The DF11 decoder for one layout on one device.
pub struct Decode {
    gpu: Gpu,
    layout: Layout,
    pipeline: squeeze_core::wgpu::ComputePipeline,
}

impl Decode {
    pub const SHADER: &'static Module = &DECODE;

    /// Compiles the decoder for `layout` on the fastest scan `gpu` has.
    pub fn new(gpu: &Gpu, layout: Layout) -> Result<Self> {
        Self::with_scan(gpu, layout, Scan::best(gpu))
    }

    /// Compiles the decoder for `layout` with `scan`: `threads_per_block` must be a registered
    /// block size within the device's workgroup limits.
    pub fn with_scan(gpu: &Gpu, layout: Layout, scan: Scan) -> Result<Self> {
        let layout = check_kernel_layout(gpu, layout, &THREADS_PER_BLOCK)?;
        let tpb = layout.threads_per_block;
        let pipeline = block_pipeline(gpu, scan.shader(), "decode", tpb, &[])?;
        Ok(Self {
            gpu: gpu.clone(),
            layout,
            pipeline,
        })
    }

    /// Records the decode of one unit described by `params` into `out` (BF16, two per u32
    /// word). Only sizes are checked here — the kernel stays in bounds and terminates on any
    /// contents; [`crate::Unit::validate`] is what rejects malformed units.
    pub fn encode(
        &self,
        encoder: &mut squeeze_core::wgpu::CommandEncoder,
        params: DecodeParams,
        unit: UnitBindings<'_>,
        out: Binding<'_>,
    ) -> Result<()> {
        let gpu = &self.gpu;
        unit.check(gpu, params.n, params.blocks, params.n_luts)?;
        check_bindings(
            gpu,
            &[("out", &out, 2 * u64::from(params.n), "n BF16 values")],
        )?;
        if params.blocks == 0 || params.n == 0 {
            return Ok(());
        }
        gpu.dispatch(
            encoder,
            "dfloat11 decode",
            &self.pipeline,
            &params,
            &[unit.into_array().as_slice(), &[out]].concat(),
            params.blocks,
        )?;
        Ok(())
    }

    /// Uploads a validated unit, decodes it on the device and reads back the BF16 bits.
    pub fn run(&self, unit: &Checked<'_>) -> Result<Vec<u16>> {
        check_unit_layout("decoder", self.layout, unit.layout)?;
        if unit.n == 0 {
            return Ok(Vec::new());
        }
        let gpu = &self.gpu;
        let buffers = UnitBuffers::upload(gpu, unit)?;
        let out = gpu.storage_buffer("out", 2 * unit.n as u64)?;
        let params = DecodeParams::new(unit.n as u32, unit.blocks as u32, unit.n_luts as u32);
        let mut encoder = gpu.encoder("dfloat11 decode");
        self.encode(
            &mut encoder,
            params,
            buffers.bindings(),
            Binding::whole(&out),
        )?;
        gpu.submit_and_wait(encoder)?;
        read_back_bf16(gpu, &out, unit.n)
    }
}
