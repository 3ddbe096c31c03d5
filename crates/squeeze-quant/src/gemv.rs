//! Quantized GEMV (`shaders/quant/gemv.wgsl` with `gemv_workgroup.wgsl` or `gemv_subgroup.wgsl`):
//! `y[b, r] = Σ_c W[r, c] · x[b, c]` for a batch of 1 to 8 activation rows, W in a GGUF block
//! format or an affine int4/int8 scheme, x f32 or f16, f32 accumulation and output. Every weight
//! is read once for the whole batch.

use squeeze_core::wgpu::CommandEncoder;
use squeeze_core::{Binding, Error, Gpu, Result};
use squeeze_shaders::{
    Module,
    quant::{GEMV, GEMV_AFFINE, GEMV_AFFINE_SUBGROUP, GEMV_SUBGROUP},
};

use crate::activations::{self, ActivationPipelines, Activations, Problem, YRows};
use crate::matrix::{HostWeights, QuantWeights, Scheme};

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

    /// Rows one workgroup takes at a time: four per subgroup, 32 on the batch-1 pipelines
    /// (`8 · OCTETS` in gemv.wgsl: each octet shares its activation loads, and the lanes split
    /// the octets' units evenly; at least this many, where the adapter's subgroups are smaller
    /// than its largest), or one per `ROW_THREADS` = 16 threads.
    fn rows_per_workgroup(self, gpu: &Gpu, batch_one: bool) -> u32 {
        match self {
            Reduction::Subgroup => {
                let per_subgroup = if batch_one { 32 } else { 4 };
                per_subgroup * (WORKGROUP_SIZE / gpu.info().subgroup_max_size.max(1)).max(1)
            }
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

/// GEMV for one weight scheme and reduction path on one device.
pub struct Gemv {
    gpu: Gpu,
    scheme: Scheme,
    reduction: Reduction,
    /// One pipeline set per class of batch sizes ([`BATCH_CLASSES`], the `BATCH_COLUMNS`
    /// override): columns past the class are compiled out, since lavapipe runs both sides of a
    /// uniform branch (one pipeline for all batches made batch 2 cost nearly batch 8). The
    /// subgroup path's batch-1 class also takes 32 rows per subgroup, activations loaded
    /// once per unit and rows taken one at a time.
    classes: [ActivationPipelines; 4],
}

/// The batch sizes each pipeline class is compiled for (the most columns it sums).
const BATCH_CLASSES: [usize; 4] = [1, 2, 4, 8];

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
        let pipelines = |columns: usize| {
            ActivationPipelines::new(
                gpu,
                reduction.shader(scheme),
                "gemv",
                scheme,
                &[
                    ("WORKGROUP_SIZE", f64::from(WORKGROUP_SIZE)),
                    ("BATCH_COLUMNS", columns as f64),
                ],
            )
        };
        let [a, b, c, d] = BATCH_CLASSES;
        Ok(Self {
            gpu: gpu.clone(),
            scheme,
            reduction,
            classes: [pipelines(a)?, pipelines(b)?, pipelines(c)?, pipelines(d)?],
        })
    }

    pub fn reduction(&self) -> Reduction {
        self.reduction
    }

    /// Records `y = x · Wᵀ` for `problem` (batch 1 to 8): `w` holds the weights (GGUF block
    /// binding or affine bindings), `x` is `[batch, cols]` f32 or f16, `y` receives
    /// `[batch, rows]` f32 — or, given as [`YRows`] with a row stride, each batch row of a
    /// wider output (a block of a matrix's rows written into the full output).
    pub fn encode<'a>(
        &self,
        encoder: &mut CommandEncoder,
        problem: Problem,
        w: impl Into<QuantWeights<'a>>,
        x: Binding<'a>,
        y: impl Into<YRows<'a>>,
    ) -> Result<()> {
        if !(1..=MAX_BATCH).contains(&problem.batch) {
            return Err(Error::invalid(
                "batch",
                "size",
                format!("1..={MAX_BATCH}"),
                problem.batch,
            ));
        }
        let (shape, bindings) = problem.bindings(&self.gpu, self.scheme, w.into(), x, y.into())?;
        if shape.rows == 0 {
            return Ok(());
        }
        // The smallest class that holds the batch (checked above to be at most the last).
        let class = BATCH_CLASSES
            .iter()
            .position(|&columns| problem.batch <= columns)
            .unwrap_or(BATCH_CLASSES.len() - 1);
        let pipelines = &self.classes[class];
        // Enough workgroups for one row per team.
        let per_group = self
            .reduction
            .rows_per_workgroup(&self.gpu, problem.batch == 1);
        pipelines.dispatch(
            encoder,
            &problem,
            &shape,
            &bindings,
            u64::from(shape.rows),
            per_group,
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
        activations::run(
            &self.gpu,
            self.scheme,
            w.into(),
            cols,
            x,
            |e, p, w, x, y| self.encode(e, p, w, x, y),
        )
    }
}
