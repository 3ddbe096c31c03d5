//! Quantized GEMV (`shaders/quant/gemv.wgsl` with `gemv_workgroup.wgsl` or `gemv_subgroup.wgsl`):
//! `y[b, r] = Σ_c W[r, c] · x[b, c]` for a batch of 1 to 8 activation rows, W in a GGUF block
//! format or an affine int4/int8 scheme, x f32 or f16, f32 accumulation and output. Every weight
//! is read once for the whole batch.

use half::f16;
use squeeze_core::{Binding, DType, Error, Gpu, Result};
use squeeze_shaders::{
    Module,
    quant::{GEMV, GEMV_AFFINE, GEMV_AFFINE_SUBGROUP, GEMV_SUBGROUP},
};

use crate::matrix::{HostWeights, QuantWeights, Scheme, Shape, Uploaded};

/// Threads per row (the `WORKGROUP_SIZE` override).
pub const WORKGROUP_SIZE: u32 = 64;
/// Largest batch one dispatch handles.
pub const MAX_BATCH: usize = 8;

/// How a workgroup adds up its threads' partial sums.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reduction {
    /// Core WGSL: a tree in workgroup memory. Runs everywhere.
    Workgroup,
    /// `subgroupAdd`, then one sum per subgroup; needs the SUBGROUP feature.
    Subgroup,
}

impl Reduction {
    /// The fastest path `gpu` can run.
    pub fn best(gpu: &Gpu) -> Self {
        if gpu.has_subgroups() {
            Reduction::Subgroup
        } else {
            Reduction::Workgroup
        }
    }

    /// Rows one workgroup takes at a time: one per subgroup (at least this many, where the
    /// adapter's subgroups are smaller than its largest), or one per `ROW_THREADS` = 16 threads.
    fn rows_per_workgroup(self, gpu: &Gpu) -> u32 {
        match self {
            Reduction::Subgroup => (WORKGROUP_SIZE / gpu.info().subgroup_max_size.max(1)).max(1),
            Reduction::Workgroup => WORKGROUP_SIZE / 16,
        }
    }

    fn shader(self, scheme: Scheme) -> &'static Module {
        match (self, scheme) {
            (Reduction::Workgroup, Scheme::Gguf(_)) => &GEMV,
            (Reduction::Subgroup, Scheme::Gguf(_)) => &GEMV_SUBGROUP,
            (Reduction::Workgroup, Scheme::Affine(_)) => &GEMV_AFFINE,
            (Reduction::Subgroup, Scheme::Affine(_)) => &GEMV_AFFINE_SUBGROUP,
        }
    }
}

/// Activations for [`Gemv::run`]: `[batch, cols]`, row-major.
#[derive(Debug, Clone, Copy)]
pub enum Activations<'a> {
    F32(&'a [f32]),
    F16(&'a [f16]),
}

impl Activations<'_> {
    fn len(&self) -> usize {
        match self {
            Activations::F32(x) => x.len(),
            Activations::F16(x) => x.len(),
        }
    }

    fn dtype(&self) -> DType {
        match self {
            Activations::F32(_) => DType::F32,
            Activations::F16(_) => DType::F16,
        }
    }
}

/// GEMV for one weight scheme and reduction path on one device.
pub struct Gemv {
    gpu: Gpu,
    scheme: Scheme,
    reduction: Reduction,
    /// One pipeline per activation dtype.
    f32_pipeline: squeeze_core::wgpu::ComputePipeline,
    f16_pipeline: squeeze_core::wgpu::ComputePipeline,
}

impl Gemv {
    /// The fastest path the device has.
    pub fn new(gpu: &Gpu, scheme: impl Into<Scheme>) -> Result<Self> {
        Self::with_reduction(gpu, scheme, Reduction::best(gpu))
    }

    pub fn with_reduction(
        gpu: &Gpu,
        scheme: impl Into<Scheme>,
        reduction: Reduction,
    ) -> Result<Self> {
        let scheme = scheme.into();
        let pipeline = |x_f16: bool| {
            let overrides = scheme.overrides(&[
                ("WORKGROUP_SIZE", f64::from(WORKGROUP_SIZE)),
                ("X_F16", f64::from(u8::from(x_f16))),
            ]);
            gpu.pipeline(reduction.shader(scheme), "gemv", &overrides)
        };
        Ok(Self {
            gpu: gpu.clone(),
            scheme,
            reduction,
            f32_pipeline: pipeline(false)?,
            f16_pipeline: pipeline(true)?,
        })
    }

    pub fn reduction(&self) -> Reduction {
        self.reduction
    }

    /// Records `y = x · Wᵀ`: `w` holds the `rows × cols` weights (GGUF block binding or affine
    /// bindings), `x` is `[batch, cols]` of `x_dtype` (f32 or f16), `y` receives `[batch, rows]`
    /// f32.
    #[allow(clippy::too_many_arguments)] // the matrix shape, then the bindings in shader order
    pub fn encode<'a>(
        &self,
        encoder: &mut squeeze_core::wgpu::CommandEncoder,
        rows: usize,
        cols: usize,
        batch: usize,
        x_dtype: DType,
        w: impl Into<QuantWeights<'a>>,
        x: Binding<'a>,
        y: Binding<'a>,
    ) -> Result<()> {
        let shape = Shape::new(self.scheme, rows, cols)?;
        if !(1..=MAX_BATCH).contains(&batch) {
            return Err(Error::invalid(
                "batch",
                "size",
                format!("1..={MAX_BATCH}"),
                batch,
            ));
        }
        if !matches!(x_dtype, DType::F32 | DType::F16) {
            return Err(Error::invalid("x", "dtype", "f32 | f16", x_dtype));
        }
        if rows == 0 {
            return Ok(());
        }
        let mut bindings = shape.weight_bindings(&self.gpu, w.into())?;
        self.gpu.check_storage_binding("x", &x)?;
        self.gpu.check_storage_binding("y", &y)?;
        let x_bytes = (batch * cols * x_dtype.size()) as u64;
        self.gpu.check_binding_holds(
            "x",
            &x,
            x_bytes,
            format_args!("{batch} × {cols} {x_dtype}"),
        )?;
        let y_bytes = (batch * rows * 4) as u64;
        self.gpu
            .check_binding_holds("y", &y, y_bytes, format_args!("{batch} × {rows} f32"))?;
        // Enough workgroups for one row per team, with a row stride past MAX_GRID_WORKGROUPS.
        bindings.extend([x, y]);
        let groups = squeeze_core::dispatch::grid_stride_workgroups(
            u64::from(shape.rows),
            self.reduction.rows_per_workgroup(&self.gpu),
            self.gpu.limits().max_compute_workgroups_per_dimension,
        );
        let pipeline = if x_dtype == DType::F16 {
            &self.f16_pipeline
        } else {
            &self.f32_pipeline
        };
        self.gpu.dispatch(
            encoder,
            "gemv",
            pipeline,
            &shape.params(batch as u32),
            &bindings,
            groups,
        )
    }

    /// Uploads weights (GGUF blocks as `&[u8]`, or an [`crate::AffineRef`]) of `cols`-weight
    /// rows and activations, runs on the device and reads back `y` as `[batch, rows]`, where
    /// `batch = x.len() / cols`.
    pub fn run<'w>(
        &self,
        w: impl Into<HostWeights<'w>>,
        cols: usize,
        x: Activations<'_>,
    ) -> Result<Vec<f32>> {
        let uploaded = Uploaded::new(&self.gpu, self.scheme, w.into(), cols)?;
        if cols == 0 || !x.len().is_multiple_of(cols) {
            return Err(Error::invalid(
                "x",
                "length",
                format!("a multiple of cols = {cols}"),
                x.len(),
            ));
        }
        let (rows, batch) = (uploaded.rows, x.len() / cols);
        let x_buf = match x {
            Activations::F32(v) => self.gpu.upload("x", v)?,
            Activations::F16(v) => self.gpu.upload("x", v)?,
        };
        let y_buf = self
            .gpu
            .storage_buffer("y", (batch * rows * 4).max(4) as u64)?;
        let mut encoder = self.gpu.encoder("gemv");
        self.encode(
            &mut encoder,
            rows,
            cols,
            batch,
            x.dtype(),
            uploaded.bindings(),
            Binding::whole(&x_buf),
            Binding::whole(&y_buf),
        )?;
        self.gpu.submit_and_wait(encoder)?;
        self.gpu.read_back("y", &y_buf, 0, batch * rows)
    }
}
