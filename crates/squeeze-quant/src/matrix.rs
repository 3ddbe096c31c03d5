//! What the quantized-matrix kernels share on the host: the `MatrixParams` uniform
//! (`shaders/quant/matrix.wgsl`) and the checks of a GGUF weight binding.

use squeeze_core::{Binding, Error, Gpu, Result};

use crate::format::Format;

/// Rust twin of WGSL `MatrixParams`; the validation suite holds the layouts equal.
#[repr(C)]
#[derive(Debug, Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
pub struct MatrixParams {
    pub rows: u32,
    pub cols: u32,
    pub row_bytes: u32,
    pub batch: u32,
}

/// Weights per chunk (`CHUNK` in matrix.wgsl).
pub const CHUNK: usize = 8;

/// A `rows × cols` matrix of one GGUF format, checked to fit the device's 32-bit indexing.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub format: Format,
    pub rows: u32,
    pub cols: u32,
    pub row_bytes: u32,
}

impl Shape {
    pub fn new(format: Format, rows: usize, cols: usize) -> Result<Self> {
        let row_bytes = format.row_bytes(cols)?;
        let fits = |n: Option<usize>| n.filter(|&n| u32::try_from(n).is_ok());
        fits(rows.checked_mul(cols)).ok_or_else(|| {
            Error::invalid(
                "rows × cols",
                "weights",
                "at most u32::MAX",
                format!("{rows} × {cols}"),
            )
        })?;
        fits(rows.checked_mul(row_bytes)).ok_or_else(|| {
            Error::invalid(
                "w",
                "bytes",
                "at most u32::MAX",
                format!("{rows} × {row_bytes}"),
            )
        })?;
        // Both fit in u32, so rows and cols (each at most the product) do too.
        Ok(Self {
            format,
            rows: rows as u32,
            cols: cols as u32,
            row_bytes: row_bytes as u32,
        })
    }

    pub fn weight_bytes(&self) -> u64 {
        u64::from(self.rows) * u64::from(self.row_bytes)
    }

    pub fn weights(&self) -> u64 {
        u64::from(self.rows) * u64::from(self.cols)
    }

    pub(crate) fn params(&self, batch: u32) -> MatrixParams {
        MatrixParams {
            rows: self.rows,
            cols: self.cols,
            row_bytes: self.row_bytes,
            batch,
        }
    }

    /// Checks that `w` is a usable storage binding holding this matrix's blocks.
    pub(crate) fn check_weights(&self, gpu: &Gpu, w: &Binding<'_>) -> Result<()> {
        gpu.check_storage_binding("w", w)?;
        gpu.check_binding_holds(
            "w",
            w,
            self.weight_bytes(),
            format_args!(
                "{} rows of {} {} weights",
                self.rows, self.cols, self.format
            ),
        )
    }
}
