//! Quantized weights on the host (GGUF block bytes, or group-wise affine int4/int8) to f32, or
//! times activations, as `squeeze run dequant|matmul` and Python's `squeeze.dequantize`,
//! `matmul`, `dequantize_affine` and `matmul_affine` run them.

use half::f16;
use squeeze_core::{Error, Gpu, Result};
use squeeze_quant::{
    Activations as Batch, Affine, AffineRef, Dequantize, Format, HostWeights, Matmul, Scheme,
};

use super::Array;

/// A quantized matrix `[rows, cols]` as the caller holds it.
#[derive(Debug, Clone, Copy)]
pub enum Weights<'a> {
    /// Raw GGUF blocks `[rows, row_bytes]`.
    Gguf {
        format: Format,
        w: Array<'a, u8>,
        cols: usize,
    },
    /// Codes packed LSB-first `[rows, cols · bits / 32]` with f16 `scales` and optional `zeros`
    /// `[rows, cols / group]`; `cols`, when given, must agree with qweight's shape.
    Affine {
        bits: u32,
        group: u32,
        qweight: Array<'a, u32>,
        scales: Array<'a, f16>,
        zeros: Option<Array<'a, f16>>,
        cols: Option<usize>,
    },
}

/// Activations `[batch, cols]`.
#[derive(Debug, Clone, Copy)]
pub enum Activations<'a> {
    F32(Array<'a, f32>),
    F16(Array<'a, f16>),
}

/// An f32 result and its shape.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    pub values: Vec<f32>,
    pub shape: [usize; 2],
}

/// Weights checked against each other, ready for a kernel.
struct Checked<'a> {
    scheme: Scheme,
    rows: usize,
    cols: usize,
    host: HostWeights<'a>,
}

impl<'a> Weights<'a> {
    fn check(self) -> Result<Checked<'a>> {
        match self {
            Weights::Gguf { format, w, cols } => {
                let [rows, row_bytes] = w.dims()?;
                let expected = format.row_bytes(cols)?;
                if row_bytes != expected {
                    return Err(Error::invalid(
                        w.name,
                        "row bytes (shape[1])",
                        format!("{expected} for {cols} {format} weights"),
                        row_bytes,
                    ));
                }
                Ok(Checked {
                    scheme: format.into(),
                    rows,
                    cols,
                    host: HostWeights::Gguf(w.data),
                })
            }
            Weights::Affine {
                bits,
                group,
                qweight,
                scales,
                zeros,
                cols: given,
            } => {
                let affine = Affine::new(bits, group, zeros.is_some())?;
                let [rows, words] = qweight.dims()?;
                let cols = words * 32 / bits as usize;
                if let Some(c) = given.filter(|&c| c != cols) {
                    return Err(Error::invalid(
                        "cols",
                        "parameter",
                        format!("{cols} (from {}'s shape) or unset", qweight.name),
                        c,
                    ));
                }
                let groups = cols / affine.group() as usize;
                for table in std::iter::once(scales).chain(zeros) {
                    if table.dims::<2>()? != [rows, groups] {
                        return Err(Error::invalid(
                            table.name,
                            "shape",
                            format!("[{rows}, {groups}]"),
                            format!("{:?}", table.shape),
                        ));
                    }
                }
                let host = AffineRef {
                    qweight: qweight.data,
                    scales: scales.data,
                    zeros: zeros.map(|z| z.data),
                };
                affine.rows(host, cols)?;
                Ok(Checked {
                    scheme: affine.into(),
                    rows,
                    cols,
                    host: HostWeights::Affine(host),
                })
            }
        }
    }
}

/// The weights as f32 `[rows, cols]`, bit-exact to the CPU reference.
pub fn dequantize(gpu: &Gpu, w: Weights<'_>) -> Result<Matrix> {
    let m = w.check()?;
    let values = Dequantize::new(gpu, m.scheme)?.run(m.host, m.cols)?;
    Ok(Matrix {
        values,
        shape: [m.rows, m.cols],
    })
}

/// `y = x · Wᵀ` `[batch, rows]` (GEMV for batch ≤ 8, GEMM above).
pub fn matmul(gpu: &Gpu, w: Weights<'_>, x: Activations<'_>) -> Result<Matrix> {
    let m = w.check()?;
    let (name, shape, batch) = match x {
        Activations::F32(a) => (a.name, a.dims()?, Batch::F32(a.data)),
        Activations::F16(a) => (a.name, a.dims()?, Batch::F16(a.data)),
    };
    let [rows_x, cols] = shape;
    if cols != m.cols {
        return Err(Error::invalid(
            name,
            "shape[1]",
            format!("{} (the weights' cols)", m.cols),
            cols,
        ));
    }
    let values = Matmul::new(gpu, m.scheme)?.run(m.host, m.cols, batch)?;
    Ok(Matrix {
        values,
        shape: [rows_x, m.rows],
    })
}
