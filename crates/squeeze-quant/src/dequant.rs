//! GPU dequantization (`shaders/quant/dequant.wgsl`): GGUF blocks or affine int4/int8 weights to
//! f32, equal to the CPU reference ([`crate::reference::dequantize`],
//! [`crate::affine::dequantize`]) bit for bit.

use squeeze_core::{Binding, Gpu, Result};
use squeeze_shaders::{
    Module,
    quant::{DEQUANT, DEQUANT_AFFINE},
};

use crate::matrix::{CHUNK, HostWeights, QuantWeights, Scheme, Shape, Uploaded};

/// Invocations per workgroup (the `WORKGROUP_SIZE` override).
pub const WORKGROUP_SIZE: u32 = 256;

/// Dequantization of one weight scheme on one device.
pub struct Dequantize {
    gpu: Gpu,
    scheme: Scheme,
    pipeline: squeeze_core::wgpu::ComputePipeline,
}

impl Dequantize {
    pub const SHADER: &'static Module = &DEQUANT;
    pub const AFFINE_SHADER: &'static Module = &DEQUANT_AFFINE;

    /// For a GGUF [`crate::Format`] or an [`crate::Affine`] scheme.
    pub fn new(gpu: &Gpu, scheme: impl Into<Scheme>) -> Result<Self> {
        let scheme = scheme.into();
        let shader = match scheme {
            Scheme::Gguf(_) => Self::SHADER,
            Scheme::Affine(_) => Self::AFFINE_SHADER,
        };
        let overrides = scheme.overrides(&[("WORKGROUP_SIZE", f64::from(WORKGROUP_SIZE))]);
        let pipeline = gpu.pipeline(shader, "dequant", &overrides)?;
        Ok(Self {
            gpu: gpu.clone(),
            scheme,
            pipeline,
        })
    }

    /// Records `dst = dequantize(w)` for `rows` rows of `cols` weights into `dst` (at least
    /// `rows × cols` f32). `w` is the GGUF block binding, or the affine bindings.
    pub fn encode<'a>(
        &self,
        encoder: &mut squeeze_core::wgpu::CommandEncoder,
        rows: usize,
        cols: usize,
        w: impl Into<QuantWeights<'a>>,
        dst: Binding<'a>,
    ) -> Result<()> {
        let mut shape = Shape::new(self.scheme, rows, cols)?;
        if rows == 0 {
            return Ok(());
        }
        let mut bindings = shape.weight_bindings(&self.gpu, w.into())?;
        self.gpu.check_storage_binding("y", &dst)?;
        self.gpu.check_binding_holds(
            "y",
            &dst,
            shape.weights() * 4,
            format_args!("{rows} × {cols} f32"),
        )?;
        bindings.push(dst);
        let chunks = shape.weights() / CHUNK as u64;
        let groups = self.gpu.grid_workgroups(chunks, WORKGROUP_SIZE);
        self.gpu.dispatch(
            encoder,
            "dequant",
            &self.pipeline,
            &shape.params(0),
            &bindings,
            groups,
        )
    }

    /// Uploads weights (GGUF blocks as `&[u8]`, or an [`crate::AffineRef`]) of `cols`-weight
    /// rows, dequantizes them on the device and reads back the f32 weights, row-major.
    pub fn run<'w>(&self, w: impl Into<HostWeights<'w>>, cols: usize) -> Result<Vec<f32>> {
        let uploaded = Uploaded::new(&self.gpu, self.scheme, w.into(), cols)?;
        let rows = uploaded.rows;
        if rows == 0 {
            return Ok(Vec::new());
        }
        let output = self.gpu.storage_buffer("y", (rows * cols * 4) as u64)?;
        let mut encoder = self.gpu.encoder("dequant");
        self.encode(
            &mut encoder,
            rows,
            cols,
            uploaded.bindings(),
            Binding::whole(&output),
        )?;
        self.gpu.submit_and_wait(encoder)?;
        self.gpu.read_back("y", &output, 0, rows * cols)
    }
}
