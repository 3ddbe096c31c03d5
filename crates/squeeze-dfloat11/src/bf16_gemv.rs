//! The plain BF16 GEMV (`shaders/dfloat11/bf16_gemv.wgsl`), the baseline of the fused GEMVs
//! and the second half of decode-then-GEMV: y[b, r] = Σ_c W[r, c] · x[b, c] with W
//! [rows, cols] BF16 row-major (two per u32 word, as the decoder writes them), batch 1..=8,
//! f32 activations and accumulation. It adds in the fused native GEMV's order
//! (`gemv_rows.wgsl`), so the two give the same bits for the same matrix. Equal to
//! [`crate::reference::gemv`] within `1e-5 · Σ_c |W[r, c] · x[b, c]|`.

use squeeze_core::{Binding, Error, Gpu};
use squeeze_shaders::Module;
use squeeze_shaders::dfloat11::BF16_GEMV;

use crate::device::check_bindings;
use crate::error::Result;
use crate::gemv::{Activations, GemvParams, XPipelines, check_shape, check_vectors};
use crate::native::CHUNK_SYMBOLS;
use crate::native::device::{WORKGROUP_SIZE, workgroups};

/// The BF16 GEMV on one device.
pub struct Bf16Gemv {
    gpu: Gpu,
    pipelines: XPipelines,
}

impl Bf16Gemv {
    pub const SHADER: &'static Module = &BF16_GEMV;

    pub fn new(gpu: &Gpu) -> Result<Self> {
        let pipelines = XPipelines::new(|x| {
            let mut overrides = vec![("WORKGROUP_SIZE", f64::from(WORKGROUP_SIZE))];
            overrides.extend_from_slice(x);
            Ok(gpu.pipeline(&BF16_GEMV, "bf16_gemv", &overrides)?)
        })?;
        Ok(Self {
            gpu: gpu.clone(),
            pipelines,
        })
    }

    /// The parameters of a `rows × cols` GEMV of `batch` columns (unit fields zero).
    pub fn params(rows: usize, cols: usize, batch: usize) -> Result<GemvParams> {
        let n = rows.checked_mul(cols).unwrap_or(0);
        check_shape(n, rows, cols, batch)?;
        let n = u32::try_from(n)
            .map_err(|_| Error::invalid("shape", "rows × cols", "at most u32::MAX weights", n))?;
        Ok(GemvParams {
            n,
            blocks: 0,
            n_luts: 0,
            rows: rows as u32,
            cols: cols as u32,
            batch: batch as u32,
            _pad: [0; 2],
        })
    }

    /// Records y = W·x: `weights` BF16 [rows, cols], `x` [batch, cols] f32 or f16
    /// ([`Activations`]), `y` [batch, rows] f32.
    pub fn encode<'a>(
        &self,
        encoder: &mut squeeze_core::wgpu::CommandEncoder,
        params: GemvParams,
        weights: Binding<'a>,
        x: impl Into<Activations<'a>>,
        y: Binding<'a>,
    ) -> Result<()> {
        let x = x.into();
        let gpu = &self.gpu;
        let checked = Self::params(
            params.rows as usize,
            params.cols as usize,
            params.batch as usize,
        )?;
        let f16 = check_vectors(gpu, [checked.batch, checked.rows, checked.cols], &x, &y)?;
        check_bindings(
            gpu,
            &[(
                "weights",
                &weights,
                2 * u64::from(checked.n),
                "rows × cols BF16",
            )],
        )?;
        // Whole rows per workgroup, as the native GEMV (gemv_rows.wgsl).
        let chunks = checked.cols.div_ceil(CHUNK_SYMBOLS as u32);
        let rows_per_group = (WORKGROUP_SIZE / chunks.max(1)).max(1);
        let groups = workgroups(gpu, checked.rows.div_ceil(rows_per_group));
        gpu.dispatch(
            encoder,
            "bf16 gemv",
            self.pipelines.get(f16),
            &checked,
            &[weights, x.x, y],
            groups,
        )?;
        Ok(())
    }

    /// Uploads `weights` (BF16 bits [rows, cols]) and `x` [batch, cols], runs the GEMV and reads
    /// back y [batch, rows].
    pub fn run(
        &self,
        weights: &[u16],
        rows: usize,
        cols: usize,
        x: &[f32],
        batch: usize,
    ) -> Result<Vec<f32>> {
        if weights.len() != rows.saturating_mul(cols) {
            return Err(Error::invalid(
                "weights",
                "length",
                format!("rows × cols = {rows} × {cols}"),
                weights.len(),
            )
            .into());
        }
        let params = Self::params(rows, cols, batch)?;
        if x.len() != batch * cols {
            return Err(Error::invalid("x", "length", "batch × cols", x.len()).into());
        }
        let gpu = &self.gpu;
        let words: Vec<u32> = weights
            .chunks(2)
            .map(|p| u32::from(p[0]) | (u32::from(p.get(1).copied().unwrap_or(0)) << 16))
            .collect();
        let w = gpu.upload("weights", &words)?;
        let x_buffer = gpu.upload("x", x)?;
        let y = gpu.storage_buffer("y", 4 * (batch * rows) as u64)?;
        let mut encoder = gpu.encoder("bf16 gemv");
        self.encode(
            &mut encoder,
            params,
            Binding::whole(&w),
            Binding::whole(&x_buffer),
            Binding::whole(&y),
        )?;
        gpu.submit_and_wait(encoder)?;
        Ok(gpu.read_back("y", &y, 0, batch * rows)?)
    }
}
