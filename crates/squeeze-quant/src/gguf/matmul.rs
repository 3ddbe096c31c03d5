//! `y = x · Wᵀ` for a block-quantized GGUF weight matrix W (`dims = [cols, rows]`, so W is
//! `[rows, cols]` row-major) and activations x `[batch, cols]` (f32 or f16), on the GPU with
//! [`Matmul`]: GEMV for up to 8 activation rows, tiled GEMM above. W is split by rows into as
//! many dispatches as the binding limit needs, so an output projection larger than one storage
//! binding still runs; x is split by rows only if it alone exceeds a binding.

use half::f16;
use squeeze_core::wgpu::Buffer;
use squeeze_core::{Binding, Error, Gpu};

use crate::activations::{Activations, Problem};
use crate::format::Format;
use crate::gguf::Tensor;
use crate::gguf::error::GgufError;
use crate::gguf::row_chunks;
use crate::matmul::Matmul;

/// Matrix products with GGUF weight tensors on one device.
pub struct TensorMatmul {
    gpu: Gpu,
    max_chunk_bytes: u64,
}

impl TensorMatmul {
    /// Chunks as large as one binding allows ([`row_chunks::device_limit`]).
    pub fn new(gpu: &Gpu) -> Self {
        Self {
            gpu: gpu.clone(),
            max_chunk_bytes: row_chunks::device_limit(gpu),
        }
    }

    /// Caps each dispatch's weights, and each chunk's outputs, at `bytes` (at most the device
    /// limit): tests use it to exercise the row split on small matrices.
    pub fn with_max_chunk_bytes(mut self, bytes: u64) -> Self {
        self.max_chunk_bytes = self.max_chunk_bytes.min(bytes);
        self
    }

    /// Rows of `w` per chunk for `batch` activation rows: the chunk's weights fit one binding,
    /// and so do its `batch` outputs per row together.
    pub fn rows_per_dispatch(&self, w: &Tensor<'_>, batch: u64) -> Result<u64, GgufError> {
        let row_bytes = w.data.len() as u64 / w.rows();
        row_chunks::rows_per_dispatch(w, row_bytes.max(batch * 4), self.max_chunk_bytes)
    }

    /// The format, rows and columns of `w`, if it is a weight matrix this can multiply: a
    /// 2-D tensor in a block format squeeze has.
    pub fn matrix(w: &Tensor<'_>) -> Result<(Format, usize, usize), GgufError> {
        let format = w.ggml_type.format().ok_or_else(|| GgufError::Unsupported {
            tensor: w.name.into(),
            ggml_type: w.ggml_type.to_string(),
            op: "multiply (matmul takes block-quantized weights)",
        })?;
        match *w.dims {
            [cols, rows] => Ok((format, rows as usize, cols as usize)),
            _ => Err(GgufError::NotAMatrix {
                tensor: w.name.into(),
                dims: w.dims.to_vec(),
            }),
        }
    }

    /// `y = x · Wᵀ` as `[batch, rows]` f32, row-major, where `batch = x.len() / cols`.
    pub fn run(&self, w: &Tensor<'_>, x: Activations<'_>) -> Result<Vec<f32>, GgufError> {
        let kernel = |source| GgufError::Kernel {
            tensor: w.name.into(),
            source,
        };
        let (format, rows, cols) = Self::matrix(w)?;
        let len = x.len();
        if len == 0 || !len.is_multiple_of(cols) {
            return Err(kernel(Error::invalid(
                "x",
                "length",
                format!("a positive multiple of cols = {cols}"),
                len,
            )));
        }
        let batch = len / cols;
        let matmul = Matmul::new(&self.gpu, format).map_err(kernel)?;
        let groups = self.upload_groups(x, cols, batch).map_err(kernel)?;
        let row_bytes = w.data.len() / rows;
        let chunk = self.rows_per_dispatch(w, batch as u64)? as usize;

        let mut y = vec![0.0f32; batch * rows];
        for r0 in (0..rows).step_by(chunk) {
            let n = chunk.min(rows - r0);
            let w_buf = self
                .gpu
                .upload("w", &w.data[r0 * row_bytes..(r0 + n) * row_bytes])
                .map_err(kernel)?;
            let mut encoder = self.gpu.encoder("gguf matmul");
            let mut outputs = Vec::with_capacity(groups.len());
            for (b0, size, x_buf) in &groups {
                let y_buf = self
                    .gpu
                    .storage_buffer("y", (size * n * 4) as u64)
                    .map_err(kernel)?;
                let problem = Problem {
                    rows: n,
                    cols,
                    batch: *size,
                    x_dtype: x.dtype(),
                };
                matmul
                    .encode(
                        &mut encoder,
                        problem,
                        Binding::whole(&w_buf),
                        Binding::whole(x_buf),
                        Binding::whole(&y_buf),
                    )
                    .map_err(kernel)?;
                outputs.push((*b0, *size, y_buf));
            }
            self.gpu.submit_and_wait(encoder).map_err(kernel)?;
            for (b0, size, y_buf) in outputs {
                let part: Vec<f32> = self
                    .gpu
                    .read_back("y", &y_buf, 0, size * n)
                    .map_err(kernel)?;
                for (b, values) in part.chunks_exact(n).enumerate() {
                    let at = (b0 + b) * rows + r0;
                    y[at..at + n].copy_from_slice(values);
                }
            }
        }
        Ok(y)
    }

    /// The activations in groups of rows that each fit one binding (one group unless x alone
    /// exceeds the limit), each uploaded once for every row chunk: `(first row, rows, buffer)`.
    fn upload_groups(
        &self,
        x: Activations<'_>,
        cols: usize,
        batch: usize,
    ) -> squeeze_core::Result<Vec<(usize, usize, Buffer)>> {
        let row_bytes = (cols * x.dtype().size()) as u64;
        let per_group = (self.max_chunk_bytes / row_bytes).max(1) as usize;
        (0..batch)
            .step_by(per_group)
            .map(|b0| {
                let size = per_group.min(batch - b0);
                let range = b0 * cols..(b0 + size) * cols;
                let buf = match x {
                    Activations::F32(v) => self.gpu.upload("x", &v[range])?,
                    Activations::F16(v) => self.gpu.upload::<f16>("x", &v[range])?,
                };
                Ok((b0, size, buf))
            })
            .collect()
    }
}
