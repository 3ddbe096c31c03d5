//! What the matmul kernels (GEMV, GEMM) share on the host, as `shaders/quant/activations.wgsl`
//! does on the device: activations in (f32 or f16, one pipeline each), results out, the checks
//! of a call and the upload-run-read-back convenience.

use half::f16;
use squeeze_core::pipeline::PipelineOptions;
use squeeze_core::wgpu::{CommandEncoder, ComputePipeline};
use squeeze_core::{Binding, DType, Error, Gpu, Result};
use squeeze_shaders::Module;

use crate::matrix::{HostWeights, QuantWeights, Scheme, Shape, Uploaded, in_place};

/// Activations for the `run` conveniences: `[batch, cols]`, row-major.
#[derive(Debug, Clone, Copy)]
pub enum Activations<'a> {
    F32(&'a [f32]),
    F16(&'a [f16]),
}

impl Activations<'_> {
    pub fn len(&self) -> usize {
        match self {
            Activations::F32(x) => x.len(),
            Activations::F16(x) => x.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn dtype(&self) -> DType {
        match self {
            Activations::F32(_) => DType::F32,
            Activations::F16(_) => DType::F16,
        }
    }
}

/// One matmul call: `y[batch, rows] = x[batch, cols] · W[rows, cols]ᵀ` with `x` of `x_dtype`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Problem {
    pub rows: usize,
    pub cols: usize,
    pub batch: usize,
    pub x_dtype: DType,
}

/// Where and how a GEMV or GEMM writes `y`: batch row b at `b · row_stride` elements into `y`
/// (`None`: `rows`, a dense `[batch, rows]` output), so products of row blocks of one matrix
/// write into one output; in f32, or in f16 (two per word, rounded to nearest even — then
/// rows and the row stride must be even, so each word belongs to one dispatch). `y` may start
/// at any 4-byte offset of its buffer. A plain [`Binding`] is a dense f32 output.
#[derive(Debug, Clone, Copy)]
pub struct YRows<'a> {
    pub y: Binding<'a>,
    pub row_stride: Option<usize>,
    pub dtype: DType,
}

impl<'a> From<Binding<'a>> for YRows<'a> {
    fn from(y: Binding<'a>) -> Self {
        Self {
            y,
            row_stride: None,
            dtype: DType::F32,
        }
    }
}

impl Problem {
    /// Checks the call on `gpu` and returns the matrix shape and every binding in shader order
    /// (weights, x, y).
    pub(crate) fn bindings<'a>(
        &self,
        gpu: &Gpu,
        scheme: Scheme,
        w: QuantWeights<'a>,
        x: Binding<'a>,
        y: YRows<'a>,
    ) -> Result<(Shape, Vec<Binding<'a>>)> {
        let Problem {
            rows,
            cols,
            batch,
            x_dtype,
        } = *self;
        let mut shape = Shape::new(scheme, rows, cols)?;
        x_dtype.is_f16("x")?;
        u32::try_from(batch)
            .ok()
            .and_then(|b| b.checked_mul(shape.cols.max(shape.rows)))
            .ok_or_else(|| Error::invalid("batch", "size", "batch × cols in u32", batch))?;
        let mut bindings = shape.weight_bindings(gpu, w)?;
        gpu.check_storage_binding("x", &x)?;
        let x_bytes = (batch * cols * x_dtype.size()) as u64;
        gpu.check_binding_holds("x", &x, x_bytes, format_args!("{batch} × {cols} {x_dtype}"))?;
        let stride = y.row_stride.unwrap_or(rows);
        if stride < rows {
            return Err(Error::invalid(
                "y",
                "row stride",
                format!("at least rows = {rows} (batch rows must not overlap)"),
                stride,
            ));
        }
        let y_f16 = y.dtype.is_f16("y")?;
        if y_f16 && (!rows.is_multiple_of(2) || !stride.is_multiple_of(2)) {
            return Err(Error::invalid(
                "y",
                "rows and row stride",
                "even for f16 results (a word holds two)",
                format!("{rows} rows, stride {stride}"),
            ));
        }
        // The last batch row ends (batch − 1) · stride + rows elements in.
        let y_elements = (batch.saturating_sub(1) as u64)
            .checked_mul(stride as u64)
            .and_then(|n| n.checked_add(rows as u64))
            .filter(|&n| u32::try_from(n).is_ok())
            .ok_or_else(|| Error::invalid("y", "row stride", "batch × stride in u32", stride))?;
        let y_size = y.dtype.size() as u64;
        gpu.check_binding_holds(
            "y",
            &y.y,
            (y_elements * y_size).next_multiple_of(4),
            format_args!("{batch} rows of {rows} {}, {stride} apart", y.dtype),
        )?;
        let (y_binding, y_words) = in_place(gpu, "y", y.y)?;
        gpu.check_storage_binding("y", &y_binding)?;
        shape.y_offset = y_words * (4 / y_size as u32);
        shape.y_stride = stride as u32;
        shape.y_f16 = y_f16;
        bindings.extend([x, y_binding]);
        Ok((shape, bindings))
    }
}

/// A kernel's pipelines for f32 or f16 activations and f32 or f16 results (the `X_F16` and
/// `Y_F16` overrides), indexed `[x is f16][y is f16]`.
pub(crate) struct ActivationPipelines {
    gpu: Gpu,
    entry: &'static str,
    pipelines: [[ComputePipeline; 2]; 2],
}

impl ActivationPipelines {
    pub fn new(
        gpu: &Gpu,
        module: &'static Module,
        entry: &'static str,
        scheme: Scheme,
        kernel_overrides: &[(&'static str, f64)],
    ) -> Result<Self> {
        // GEMV and GEMM write every workgroup word before reading it, so the zeroing WGSL
        // would add (and Mesa's GL compiler takes seconds over) is left out.
        let options = PipelineOptions {
            zero_initialize_workgroup_memory: false,
        };
        let pipeline = |x_f16: bool, y_f16: bool| {
            let mut overrides = kernel_overrides.to_vec();
            overrides.push(("X_F16", f64::from(u8::from(x_f16))));
            overrides.push(("Y_F16", f64::from(u8::from(y_f16))));
            gpu.pipeline_with_options(module, entry, &scheme.overrides(&overrides), options)
        };
        Ok(Self {
            gpu: gpu.clone(),
            entry,
            pipelines: [
                [pipeline(false, false)?, pipeline(false, true)?],
                [pipeline(true, false)?, pipeline(true, true)?],
            ],
        })
    }

    /// Records one pass of `problem` (checked by [`Problem::bindings`], which gave `shape` and
    /// `bindings`) over `items` work items, `per_group` to a workgroup, with an item stride past
    /// `MAX_GRID_WORKGROUPS`.
    pub fn dispatch(
        &self,
        encoder: &mut CommandEncoder,
        problem: &Problem,
        shape: &Shape,
        bindings: &[Binding<'_>],
        items: u64,
        per_group: u32,
    ) -> Result<()> {
        let groups = self.gpu.row_workgroups(items, per_group);
        let pipeline =
            &self.pipelines[usize::from(problem.x_dtype == DType::F16)][usize::from(shape.y_f16)];
        self.gpu.dispatch(
            encoder,
            self.entry,
            pipeline,
            &shape.params(problem.batch as u32),
            bindings,
            groups,
        )
    }
}

/// Uploads `w` and `x`, records `encode` for the whole problem, and reads back `[batch, rows]`.
pub(crate) fn run<'w>(
    gpu: &Gpu,
    scheme: Scheme,
    w: HostWeights<'w>,
    cols: usize,
    x: Activations<'_>,
    encode: impl FnOnce(
        &mut CommandEncoder,
        Problem,
        QuantWeights<'_>,
        Binding<'_>,
        Binding<'_>,
    ) -> Result<()>,
) -> Result<Vec<f32>> {
    let uploaded = Uploaded::new(gpu, scheme, w, cols)?;
    if cols == 0 || !x.len().is_multiple_of(cols) {
        return Err(Error::invalid(
            "x",
            "length",
            format!("a multiple of cols = {cols}"),
            x.len(),
        ));
    }
    let problem = Problem {
        rows: uploaded.rows,
        cols,
        batch: x.len() / cols,
        x_dtype: x.dtype(),
    };
    let x_buf = match x {
        Activations::F32(v) => gpu.upload("x", v)?,
        Activations::F16(v) => gpu.upload("x", v)?,
    };
    let outputs = problem.batch * problem.rows;
    let y_buf = gpu.storage_buffer("y", (outputs * 4).max(4) as u64)?;
    let mut encoder = gpu.encoder("matmul");
    encode(
        &mut encoder,
        problem,
        uploaded.bindings(),
        Binding::whole(&x_buf),
        Binding::whole(&y_buf),
    )?;
    gpu.submit_and_wait(encoder)?;
    gpu.read_back("y", &y_buf, 0, outputs)
}
