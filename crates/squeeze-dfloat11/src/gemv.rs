//! The fused DF11 GEMV (`shaders/dfloat11/gemv.wgsl`, then `gemv_tree.wgsl`):
//! y[b, r] = Σ_c W[r, c] · x[b, c] with W [rows, cols] BF16 given as one DF11 unit, the
//! exponents decoded inside the GEMV so the BF16 weights never reach memory. Batch 1..=8, f32
//! activations and accumulation, added in the order of the BF16 and native GEMVs
//! (`gemv_rows.wgsl`: sequential sums over chunks of 128 columns, then a fixed tree), so the
//! three give the same bits for the same matrix. Pass 1 runs one workgroup per DF11 block: the
//! thread holding a chunk's first weight decodes the chunk's codes from there (past its own bits
//! and its block's end where the chunk goes on) and stores the chunk's sums; pass 2 adds each
//! row's chunk sums. Equal to [`crate::reference::gemv`]
//! within `1e-5 · Σ_c |W[r, c] · x[b, c]|` (f32 sums in a different order than the f64
//! reference).

use squeeze_core::{Binding, DType, Error, Gpu};
use squeeze_shaders::Module;
use squeeze_shaders::dfloat11::{GEMV, GEMV_SUBGROUP, GEMV_TREE};

use crate::decode::Scan;
use crate::device::{
    UnitBindings, UnitBuffers, block_pipeline, check_bindings, check_kernel_layout,
    check_unit_layout,
};
use crate::error::Result;
use crate::format::{Checked, Layout};
use crate::native::device::{WORKGROUP_SIZE as TREE_WORKGROUP, workgroups};

/// Largest batch (activation columns) of one GEMV.
pub const MAX_BATCH: u32 = 8;
/// Block sizes with a registered pipeline (1024 would need more than 16 KiB of workgroup
/// memory).
pub const THREADS_PER_BLOCK: [u32; 2] = [256, 512];
/// Columns of a summation chunk (`GEMV_CHUNK` of `gemv_sums.wgsl`).
pub const CHUNK_COLUMNS: u32 = 128;

/// The `params` uniform of both passes (`gemv_params.wgsl`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct GemvParams {
    /// Weights: `rows · cols`.
    pub n: u32,
    /// Blocks: `len(output_positions) − 1`.
    pub blocks: u32,
    /// Rows of `luts`, the length row included.
    pub n_luts: u32,
    pub rows: u32,
    pub cols: u32,
    /// Activation columns, 1..=8.
    pub batch: u32,
    pub _pad: [u32; 2],
}

impl GemvParams {
    /// Parameters for a `rows × cols` matrix in the validated `unit`, `batch` columns of
    /// activations; checks the shape against the unit and the batch range.
    pub fn new(unit: &Checked<'_>, rows: usize, cols: usize, batch: usize) -> Result<Self> {
        check_shape(unit.n, rows, cols, batch)?;
        Ok(Self {
            n: unit.n as u32,
            blocks: unit.blocks as u32,
            n_luts: unit.n_luts as u32,
            rows: rows as u32,
            cols: cols as u32,
            batch: batch as u32,
            _pad: [0; 2],
        })
    }

    /// Chunk sums of the matrix: `rows × ⌈cols / 128⌉`.
    pub fn chunks(&self) -> u64 {
        u64::from(self.rows) * u64::from(self.cols.div_ceil(CHUNK_COLUMNS))
    }

    /// Bytes of the scratch buffer of chunk sums, for 8 batch columns: `chunks × 8` f32 (a
    /// 32nd of the BF16 matrix's bytes per batch column).
    pub fn partials_bytes(&self) -> u64 {
        self.chunks() * u64::from(MAX_BATCH) * 4
    }
}

/// Checks that `rows × cols` is the unit's `n` weights and `batch` is 1..=8.
pub fn check_shape(n: usize, rows: usize, cols: usize, batch: usize) -> Result<()> {
    if rows.checked_mul(cols) != Some(n) || n == 0 {
        return Err(Error::invalid(
            "shape",
            "rows × cols",
            format!("the unit's {n} weights (nonzero)"),
            format!("{rows} × {cols}"),
        )
        .into());
    }
    if !(1..=MAX_BATCH as usize).contains(&batch) {
        return Err(Error::invalid("batch", "value", format!("1..={MAX_BATCH}"), batch).into());
    }
    Ok(())
}

/// Checks the activation and result bindings of a GEMV: x [batch, cols] and y [batch, rows] f32.
/// Activations of the BF16-weight GEMVs (fused DF11, fused native, plain BF16): `x`
/// `[batch, cols]` in f32, or in f16 two per u32 word (widened exactly in the kernel, so an
/// f16 x gives the same sums as its f32 widening). A plain [`Binding`] is f32.
#[derive(Debug, Clone, Copy)]
pub struct Activations<'a> {
    pub x: Binding<'a>,
    pub dtype: DType,
}

impl<'a> From<Binding<'a>> for Activations<'a> {
    fn from(x: Binding<'a>) -> Self {
        Self {
            x,
            dtype: DType::F32,
        }
    }
}

/// One GEMV's pipelines for f32 and for f16 activations (the `X_F16` override).
pub(crate) struct XPipelines {
    f32: squeeze_core::wgpu::ComputePipeline,
    f16: squeeze_core::wgpu::ComputePipeline,
}

impl XPipelines {
    /// Compiles both with `make`, given the `X_F16` override to add.
    pub(crate) fn new(
        make: impl Fn(&[(&str, f64)]) -> Result<squeeze_core::wgpu::ComputePipeline>,
    ) -> Result<Self> {
        Ok(Self {
            f32: make(&[("X_F16", 0.0)])?,
            f16: make(&[("X_F16", 1.0)])?,
        })
    }

    pub(crate) fn get(&self, f16: bool) -> &squeeze_core::wgpu::ComputePipeline {
        if f16 { &self.f16 } else { &self.f32 }
    }
}

/// Checks `x` and `y` of a GEMV of `[batch, rows, cols]`; returns whether x is f16.
pub(crate) fn check_vectors(
    gpu: &Gpu,
    [batch, rows, cols]: [u32; 3],
    x: &Activations<'_>,
    y: &Binding<'_>,
) -> Result<bool> {
    let f16 = x.dtype.is_f16("x")?;
    let batch = u64::from(batch);
    let x_bytes = (batch * u64::from(cols) * x.dtype.size() as u64).next_multiple_of(4);
    check_bindings(
        gpu,
        &[
            (
                "x",
                &x.x,
                x_bytes,
                if f16 {
                    "batch × cols f16"
                } else {
                    "batch × cols f32"
                },
            ),
            ("y", y, 4 * batch * u64::from(rows), "batch × rows f32"),
        ],
    )?;
    Ok(f16)
}

/// The fused DF11 GEMV for one layout on one device.
pub struct Gemv {
    gpu: Gpu,
    layout: Layout,
    gemv: XPipelines,
    tree: squeeze_core::wgpu::ComputePipeline,
}

impl Gemv {
    pub const SHADER: &'static Module = &GEMV;
    pub const TREE_SHADER: &'static Module = &GEMV_TREE;

    /// The pass-1 module of `scan`.
    pub fn shader(scan: Scan) -> &'static Module {
        match scan {
            Scan::Workgroup => &GEMV,
            Scan::Subgroup => &GEMV_SUBGROUP,
        }
    }

    /// Compiles the GEMV for `layout` on the fastest scan `gpu` has.
    pub fn new(gpu: &Gpu, layout: Layout) -> Result<Self> {
        Self::with_scan(gpu, layout, Scan::best(gpu))
    }

    /// Compiles the GEMV for `layout` with `scan`: `threads_per_block` must be 256 or 512.
    pub fn with_scan(gpu: &Gpu, layout: Layout, scan: Scan) -> Result<Self> {
        let layout = check_kernel_layout(gpu, layout, &THREADS_PER_BLOCK)?;
        let tpb = layout.threads_per_block;
        let gemv = XPipelines::new(|x| block_pipeline(gpu, Self::shader(scan), "gemv", tpb, x))?;
        let tree = gpu.pipeline(
            &GEMV_TREE,
            "tree",
            &[
                ("WORKGROUP_SIZE", f64::from(TREE_WORKGROUP)),
                ("X_F16", 0.0),
            ],
        )?;
        Ok(Self {
            gpu: gpu.clone(),
            layout,
            gemv,
            tree,
        })
    }

    /// Records y = W·x: `x` [batch, cols] f32 or f16 ([`Activations`]), `y` [batch, rows]
    /// f32, `partials` scratch of
    /// [`GemvParams::partials_bytes`]. Only sizes are checked — the kernels stay in bounds and
    /// terminate on any contents; [`crate::Unit::validate`] rejects malformed units.
    pub fn encode<'a>(
        &self,
        encoder: &mut squeeze_core::wgpu::CommandEncoder,
        params: GemvParams,
        unit: UnitBindings<'a>,
        x: impl Into<Activations<'a>>,
        y: Binding<'a>,
        partials: Binding<'a>,
    ) -> Result<()> {
        let x = x.into();
        let gpu = &self.gpu;
        check_shape(
            params.n as usize,
            params.rows as usize,
            params.cols as usize,
            params.batch as usize,
        )?;
        unit.check(gpu, params.n, params.blocks, params.n_luts)?;
        let f16 = check_vectors(gpu, [params.batch, params.rows, params.cols], &x, &y)?;
        check_bindings(
            gpu,
            &[(
                "partials",
                &partials,
                params.partials_bytes().max(4),
                "rows × ⌈cols / 128⌉ × 8 f32",
            )],
        )?;
        if params.blocks == 0 {
            return Ok(());
        }
        let [luts, codes, sign_mantissa, positions, gaps] = unit.into_array();
        let pass1 = [
            (1, luts),
            (2, codes),
            (3, sign_mantissa),
            (4, positions),
            (5, gaps),
            (6, x.x),
            (8, partials),
        ];
        gpu.dispatch_slots(
            encoder,
            "dfloat11 gemv",
            self.gemv.get(f16),
            &params,
            &pass1,
            params.blocks,
        )?;
        let rows_per_group = (TREE_WORKGROUP / params.cols.div_ceil(CHUNK_COLUMNS).max(1)).max(1);
        gpu.dispatch_slots(
            encoder,
            "dfloat11 gemv tree",
            &self.tree,
            &params,
            &[(7, y), (8, partials)],
            workgroups(gpu, params.rows.div_ceil(rows_per_group)),
        )?;
        Ok(())
    }

    /// Uploads a validated unit holding W [rows, cols] and `x` [batch, cols], runs the GEMV and
    /// reads back y [batch, rows].
    pub fn run(
        &self,
        unit: &Checked<'_>,
        rows: usize,
        cols: usize,
        x: &[f32],
        batch: usize,
    ) -> Result<Vec<f32>> {
        check_unit_layout("GEMV", self.layout, unit.layout)?;
        let params = GemvParams::new(unit, rows, cols, batch)?;
        if x.len() != batch * cols {
            return Err(Error::invalid("x", "length", "batch × cols", x.len()).into());
        }
        let gpu = &self.gpu;
        let buffers = UnitBuffers::upload(gpu, unit)?;
        let x_buffer = gpu.upload("x", x)?;
        let y = gpu.storage_buffer("y", 4 * (batch * rows) as u64)?;
        let partials = gpu.storage_buffer("partials", params.partials_bytes().max(4))?;
        let mut encoder = gpu.encoder("dfloat11 gemv");
        self.encode(
            &mut encoder,
            params,
            buffers.bindings(),
            Binding::whole(&x_buffer),
            Binding::whole(&y),
            Binding::whole(&partials),
        )?;
        gpu.submit_and_wait(encoder)?;
        Ok(gpu.read_back("y", &y, 0, batch * rows)?)
    }
}
