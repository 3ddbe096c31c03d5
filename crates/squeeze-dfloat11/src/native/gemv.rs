//! The fused native GEMV (`shaders/dfloat11/native_gemv.wgsl`): y[b, r] = Σ_c W[r, c] · x[b, c]
//! with W [rows, cols] BF16 given as one native unit, decoded inside the GEMV in one pass.
//! Batch 1..=8, f32 activations and accumulation. Equal to [`crate::reference::gemv`] within
//! `1e-5 · Σ_c |W[r, c] · x[b, c]|` (f32 sums in a different order than the f64 reference).

use squeeze_core::{Binding, Error, Gpu};
use squeeze_shaders::Module;
use squeeze_shaders::dfloat11::NATIVE_GEMV;

use crate::error::Result;
use crate::gemv::{Activations, MAX_BATCH, XPipelines, check_vectors};
use crate::native::device::{
    NativeBindings, NativeBuffers, NativeParams, WORKGROUP_SIZE, pipeline, workgroups,
};
use crate::native::format::CheckedNative;

/// The fused native GEMV on one device.
pub struct NativeGemv {
    gpu: Gpu,
    pipelines: XPipelines,
}

impl NativeGemv {
    pub const SHADER: &'static Module = &NATIVE_GEMV;

    pub fn new(gpu: &Gpu) -> Result<Self> {
        Ok(Self {
            gpu: gpu.clone(),
            pipelines: XPipelines::new(|x| pipeline(gpu, &NATIVE_GEMV, "gemv", x))?,
        })
    }

    /// Records y = W·x: `x` [batch, cols] f32 or f16 ([`Activations`]), `y` [batch, rows]
    /// f32. Only sizes are checked —
    /// the kernel stays in bounds and terminates on any contents.
    pub fn encode<'a>(
        &self,
        encoder: &mut squeeze_core::wgpu::CommandEncoder,
        params: NativeParams,
        unit: NativeBindings<'a>,
        x: impl Into<Activations<'a>>,
        y: Binding<'a>,
    ) -> Result<()> {
        let x = x.into();
        let gpu = &self.gpu;
        params.check()?;
        if params.n == 0 {
            return Err(Error::invalid("shape", "rows × cols", "nonzero", 0).into());
        }
        if !(1..=MAX_BATCH).contains(&params.batch) {
            return Err(
                Error::invalid("batch", "value", format!("1..={MAX_BATCH}"), params.batch).into(),
            );
        }
        unit.check(gpu, &params)?;
        let f16 = check_vectors(gpu, [params.batch, params.rows, params.cols], &x, &y)?;
        let rows_per_group = (WORKGROUP_SIZE / params.chunks_per_row.max(1)).max(1);
        let groups = workgroups(gpu, params.rows.div_ceil(rows_per_group));
        gpu.dispatch(
            encoder,
            "native gemv",
            self.pipelines.get(f16),
            &params,
            &[unit.into_array().as_slice(), &[x.x, y]].concat(),
            groups,
        )?;
        Ok(())
    }

    /// Uploads a validated unit and `x` [batch, cols], runs the GEMV and reads back
    /// y [batch, rows].
    pub fn run(&self, unit: &CheckedNative<'_>, x: &[f32], batch: usize) -> Result<Vec<f32>> {
        let (rows, cols) = (unit.unit.rows, unit.unit.cols);
        if !(1..=MAX_BATCH as usize).contains(&batch) {
            return Err(Error::invalid("batch", "value", format!("1..={MAX_BATCH}"), batch).into());
        }
        if x.len() != batch * cols {
            return Err(Error::invalid(
                "x",
                "length",
                format!("batch × cols = {batch} × {cols}"),
                x.len(),
            )
            .into());
        }
        let gpu = &self.gpu;
        let buffers = NativeBuffers::upload(gpu, unit)?;
        let x_buffer = gpu.upload("x", x)?;
        let y = gpu.storage_buffer("y", 4 * (batch * rows) as u64)?;
        let mut encoder = gpu.encoder("native gemv");
        self.encode(
            &mut encoder,
            NativeParams::new(unit, batch),
            buffers.bindings(),
            Binding::whole(&x_buffer),
            Binding::whole(&y),
        )?;
        gpu.submit_and_wait(encoder)?;
        Ok(gpu.read_back("y", &y, 0, batch * rows)?)
    }
}
