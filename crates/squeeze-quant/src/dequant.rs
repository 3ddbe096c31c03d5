//! GPU dequantization (`shaders/quant/dequant.wgsl`): GGUF blocks to f32, equal to
//! [`crate::reference::dequantize`] bit for bit.

use squeeze_core::{Binding, Error, Gpu, Result};
use squeeze_shaders::{Module, quant::DEQUANT};

use crate::format::Format;
use crate::matrix::{CHUNK, Shape};

/// Invocations per workgroup (the `WORKGROUP_SIZE` override).
pub const WORKGROUP_SIZE: u32 = 256;

/// Dequantization of one format on one device.
pub struct Dequantize {
    gpu: Gpu,
    format: Format,
    pipeline: squeeze_core::wgpu::ComputePipeline,
}

impl Dequantize {
    pub const SHADER: &'static Module = &DEQUANT;

    pub fn new(gpu: &Gpu, format: Format) -> Result<Self> {
        let pipeline = gpu.pipeline(
            Self::SHADER,
            "dequant",
            &[
                ("WORKGROUP_SIZE", f64::from(WORKGROUP_SIZE)),
                ("FORMAT", format.shader_constant()),
            ],
        )?;
        Ok(Self {
            gpu: gpu.clone(),
            format,
            pipeline,
        })
    }

    /// Records `dst = dequantize(w)` for `rows` rows of `cols` weights: `w` holds at least
    /// `rows × row_bytes(cols)` bytes, `dst` at least `rows × cols` f32.
    pub fn encode(
        &self,
        encoder: &mut squeeze_core::wgpu::CommandEncoder,
        rows: usize,
        cols: usize,
        w: Binding<'_>,
        dst: Binding<'_>,
    ) -> Result<()> {
        let shape = Shape::new(self.format, rows, cols)?;
        if rows == 0 {
            return Ok(());
        }
        shape.check_weights(&self.gpu, &w)?;
        self.gpu.check_storage_binding("y", &dst)?;
        self.gpu.check_binding_holds(
            "y",
            &dst,
            shape.weights() * 4,
            format_args!("{rows} × {cols} f32"),
        )?;
        let chunks = shape.weights() / CHUNK as u64;
        let groups = squeeze_core::dispatch::grid_stride_workgroups(
            chunks,
            WORKGROUP_SIZE,
            self.gpu.limits().max_compute_workgroups_per_dimension,
        );
        self.gpu.dispatch(
            encoder,
            "dequant",
            &self.pipeline,
            &shape.params(0),
            &[w, dst],
            groups,
        )
    }

    /// Uploads raw blocks of `cols`-weight rows, dequantizes them on the device and reads back
    /// the f32 weights, row-major.
    pub fn run(&self, blocks: &[u8], cols: usize) -> Result<Vec<f32>> {
        let row_bytes = self.format.row_bytes(cols)?;
        if !blocks.len().is_multiple_of(row_bytes) {
            return Err(Error::invalid(
                "w",
                "byte length",
                format!("a multiple of the row size {row_bytes}"),
                blocks.len(),
            ));
        }
        let rows = blocks.len() / row_bytes;
        if rows == 0 {
            return Ok(Vec::new());
        }
        let input = self.gpu.upload("w", blocks)?;
        let output = self.gpu.storage_buffer("y", (rows * cols * 4) as u64)?;
        let mut encoder = self.gpu.encoder("dequant");
        self.encode(
            &mut encoder,
            rows,
            cols,
            Binding::whole(&input),
            Binding::whole(&output),
        )?;
        self.gpu.submit_and_wait(encoder)?;
        self.gpu.read_back("y", &output, 0, rows * cols)
    }
}
