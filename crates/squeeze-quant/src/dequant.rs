//! GPU dequantization (`shaders/quant/dequant.wgsl`): GGUF Q8_0, Q4_0 and Q4_1 blocks to f32,
//! equal to [`crate::reference::dequantize`] bit for bit.

use squeeze_core::{Binding, Error, Gpu, Result};
use squeeze_shaders::{Module, quant::DEQUANT};

use crate::format::Format;

/// Invocations per workgroup (the `WORKGROUP_SIZE` override).
pub const WORKGROUP_SIZE: u32 = 256;

/// Dequantization of one format on one device.
pub struct Dequantize {
    gpu: Gpu,
    format: Format,
    pipeline: squeeze_core::wgpu::ComputePipeline,
}

fn format_constant(format: Format) -> f64 {
    match format {
        Format::Q8_0 => 0.0,
        Format::Q4_0 => 1.0,
        Format::Q4_1 => 2.0,
    }
}

impl Dequantize {
    pub const SHADER: &'static Module = &DEQUANT;

    pub fn new(gpu: &Gpu, format: Format) -> Result<Self> {
        let pipeline = gpu.pipeline(
            Self::SHADER,
            "dequant",
            &[
                ("WORKGROUP_SIZE", f64::from(WORKGROUP_SIZE)),
                ("FORMAT", format_constant(format)),
            ],
        )?;
        Ok(Self {
            gpu: gpu.clone(),
            format,
            pipeline,
        })
    }

    /// Records `dst = dequantize(blocks)` for `rows` rows of `cols` weights: `blocks` holds at
    /// least `rows × row_bytes(cols)` bytes, `dst` at least `rows × cols` f32.
    pub fn encode(
        &self,
        encoder: &mut squeeze_core::wgpu::CommandEncoder,
        rows: u32,
        cols: u32,
        blocks: Binding<'_>,
        dst: Binding<'_>,
    ) -> Result<()> {
        let row_bytes = self.format.row_bytes(cols as usize)? as u64;
        let n = u64::from(rows) * u64::from(cols);
        if rows == 0 {
            return Ok(());
        }
        let n32 = u32::try_from(n)
            .map_err(|_| Error::invalid("rows × cols", "weights", "at most u32::MAX", n))?;
        self.gpu.check_storage_binding("w", &blocks)?;
        self.gpu.check_storage_binding("y", &dst)?;
        self.gpu.check_binding_holds(
            "w",
            &blocks,
            u64::from(rows) * row_bytes,
            format_args!("{rows} rows of {cols} {} weights", self.format),
        )?;
        self.gpu
            .check_binding_holds("y", &dst, n * 4, format_args!("{rows} × {cols} f32"))?;
        self.gpu.dispatch_grid_stride(
            encoder,
            "dequant",
            &self.pipeline,
            &[blocks, dst],
            n32,
            WORKGROUP_SIZE,
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
        let too_big = |what| Error::invalid("w", what, "at most u32::MAX", rows * cols);
        let (rows32, cols32) = (
            u32::try_from(rows).map_err(|_| too_big("rows"))?,
            u32::try_from(cols).map_err(|_| too_big("cols"))?,
        );
        let input = self.gpu.upload("w", blocks)?;
        let output = self.gpu.storage_buffer("y", (rows * cols * 4) as u64)?;
        let mut encoder = self.gpu.encoder("dequant");
        self.encode(
            &mut encoder,
            rows32,
            cols32,
            Binding::whole(&input),
            Binding::whole(&output),
        )?;
        self.gpu.submit_and_wait(encoder)?;
        self.gpu.read_back("y", &output, 0, rows * cols)
    }
}
