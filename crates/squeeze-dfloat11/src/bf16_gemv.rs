//! The plain GEMV (`shaders/dfloat11/bf16_gemv.wgsl`), the baseline of the fused GEMVs and the
//! second half of decode-then-GEMV: y[b, r] = Σ_c W[r, c] · x[b, c] with W [rows, cols]
//! row-major in a [`WeightFormat`] (BF16 two per u32 word, as the decoder writes them; f16 two
//! per word; f32 one per word — checkpoints that keep matrices unquantized), batch 1..=8, f32
//! activations and accumulation. It adds in the fused native GEMV's order (`gemv_rows.wgsl`)
//! whatever the format, so BF16 weights give the fused GEMVs' bits. Equal to an f64 GEMV of the
//! widened weights ([`crate::reference::gemv`] for BF16) within `1e-5 · Σ_c |W[r, c] · x[b, c]|`.

use squeeze_core::{Binding, Error, Gpu};
use squeeze_shaders::Module;
use squeeze_shaders::dfloat11::BF16_GEMV;

use crate::device::check_bindings;
use crate::error::Result;
use crate::gemv::{Activations, GemvParams, XPipelines, check_shape, check_vectors};
use crate::native::CHUNK_SYMBOLS;
use crate::native::device::{WORKGROUP_SIZE, workgroups};

/// How the plain GEMV's weights are stored (the shader's `W_FORMAT`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WeightFormat {
    /// bfloat16, two per little-endian u32 word (element 2k in the low half).
    Bf16,
    /// IEEE binary16, two per word like BF16, widened exactly (subnormals, NaN payloads).
    F16,
    /// IEEE binary32, one per word.
    F32,
}

impl WeightFormat {
    /// Bytes per weight.
    pub fn bytes(self) -> u64 {
        match self {
            Self::Bf16 | Self::F16 => 2,
            Self::F32 => 4,
        }
    }

    /// The shader's `W_FORMAT` value.
    fn code(self) -> f64 {
        match self {
            Self::Bf16 => 0.0,
            Self::F16 => 1.0,
            Self::F32 => 2.0,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Bf16 => "BF16",
            Self::F16 => "F16",
            Self::F32 => "F32",
        }
    }
}

/// The plain GEMV on one device, for one [`WeightFormat`].
pub struct Bf16Gemv {
    gpu: Gpu,
    pipelines: XPipelines,
    format: WeightFormat,
}

impl Bf16Gemv {
    pub const SHADER: &'static Module = &BF16_GEMV;

    /// The GEMV of BF16 weights.
    pub fn new(gpu: &Gpu) -> Result<Self> {
        Self::with_weights(gpu, WeightFormat::Bf16)
    }

    /// The GEMV of weights stored as `format`.
    pub fn with_weights(gpu: &Gpu, format: WeightFormat) -> Result<Self> {
        let pipelines = XPipelines::new(|x| {
            let mut overrides = vec![
                ("WORKGROUP_SIZE", f64::from(WORKGROUP_SIZE)),
                ("W_FORMAT", format.code()),
            ];
            overrides.extend_from_slice(x);
            Ok(gpu.pipeline(&BF16_GEMV, "bf16_gemv", &overrides)?)
        })?;
        Ok(Self {
            gpu: gpu.clone(),
            pipelines,
            format,
        })
    }

    /// The weight format this GEMV reads.
    pub fn format(&self) -> WeightFormat {
        self.format
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

    /// Records y = W·x: `weights` [rows, cols] in [`Self::format`], `x` [batch, cols] f32 or f16
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
        let what = match self.format {
            WeightFormat::Bf16 => "rows × cols BF16",
            WeightFormat::F16 => "rows × cols F16",
            WeightFormat::F32 => "rows × cols F32",
        };
        check_bindings(
            gpu,
            &[(
                "weights",
                &weights,
                self.format.bytes() * u64::from(checked.n),
                what,
            )],
        )?;
        // Whole rows per workgroup, as the native GEMV (gemv_rows.wgsl).
        let chunks = checked.cols.div_ceil(CHUNK_SYMBOLS as u32);
        let rows_per_group = (WORKGROUP_SIZE / chunks.max(1)).max(1);
        let groups = workgroups(gpu, checked.rows.div_ceil(rows_per_group));
        gpu.dispatch(
            encoder,
            "plain gemv",
            self.pipelines.get(f16),
            &checked,
            &[weights, x.x, y],
            groups,
        )?;
        Ok(())
    }

    /// Uploads `weights` (BF16 or f16 bits [rows, cols], as [`Self::format`]) and `x`
    /// [batch, cols], runs the GEMV and reads back y [batch, rows].
    pub fn run(
        &self,
        weights: &[u16],
        rows: usize,
        cols: usize,
        x: &[f32],
        batch: usize,
    ) -> Result<Vec<f32>> {
        if self.format == WeightFormat::F32 {
            return Err(Error::invalid(
                "weights",
                "format",
                "16-bit weights (run_f32 for F32)",
                "u16",
            )
            .into());
        }
        check_len(weights.len(), rows, cols)?;
        let words: Vec<u32> = weights
            .chunks(2)
            .map(|p| u32::from(p[0]) | (u32::from(p.get(1).copied().unwrap_or(0)) << 16))
            .collect();
        self.run_words(&words, rows, cols, x, batch)
    }

    /// [`Self::run`] for an F32 GEMV: `weights` f32 [rows, cols].
    pub fn run_f32(
        &self,
        weights: &[f32],
        rows: usize,
        cols: usize,
        x: &[f32],
        batch: usize,
    ) -> Result<Vec<f32>> {
        if self.format != WeightFormat::F32 {
            return Err(Error::invalid("weights", "format", self.format.name(), "f32").into());
        }
        check_len(weights.len(), rows, cols)?;
        let words: Vec<u32> = weights.iter().map(|w| w.to_bits()).collect();
        self.run_words(&words, rows, cols, x, batch)
    }

    fn run_words(
        &self,
        words: &[u32],
        rows: usize,
        cols: usize,
        x: &[f32],
        batch: usize,
    ) -> Result<Vec<f32>> {
        let params = Self::params(rows, cols, batch)?;
        if x.len() != batch * cols {
            return Err(Error::invalid("x", "length", "batch × cols", x.len()).into());
        }
        let gpu = &self.gpu;
        let w = gpu.upload("weights", words)?;
        let x_buffer = gpu.upload("x", x)?;
        let y = gpu.storage_buffer("y", 4 * (batch * rows) as u64)?;
        let mut encoder = gpu.encoder("plain gemv");
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

/// `weights` holds rows × cols values.
fn check_len(len: usize, rows: usize, cols: usize) -> Result<()> {
    if len != rows.saturating_mul(cols) {
        return Err(Error::invalid(
            "weights",
            "length",
            format!("rows × cols = {rows} × {cols}"),
            len,
        )
        .into());
    }
    Ok(())
}
