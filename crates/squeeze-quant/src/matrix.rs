//! What the quantized-matrix kernels share on the host: the weight scheme (a GGUF block format
//! or a group-wise affine layout), the `MatrixParams` uniform (`shaders/quant/matrix.wgsl`), and
//! the checks and uploads of weight bindings.

use std::fmt;

use squeeze_core::{Binding, Error, Gpu, Result};

use crate::affine::{Affine, AffineRef};
use crate::format::Format;

/// Rust twin of WGSL `MatrixParams`; the validation suite holds the layouts equal.
#[repr(C)]
#[derive(Debug, Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
pub struct MatrixParams {
    pub rows: u32,
    pub cols: u32,
    pub row_bytes: u32,
    pub batch: u32,
    /// Words from the start of the weight binding to the tensor (GGUF blocks bound in place).
    pub w_offset: u32,
    /// Elements from the start of the y binding to batch row 0, and between batch rows.
    pub y_offset: u32,
    pub y_stride: u32,
    pub _pad: [u32; 1],
}

/// Weights per chunk (`CHUNK` in matrix.wgsl).
pub const CHUNK: usize = 8;

/// How a weight matrix is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// GGUF blocks, one byte tensor `[rows, row_bytes]`.
    Gguf(Format),
    /// `qweight`, `scales` and optional `zeros` tensors.
    Affine(Affine),
}

impl From<Format> for Scheme {
    fn from(f: Format) -> Self {
        Scheme::Gguf(f)
    }
}

impl From<Affine> for Scheme {
    fn from(a: Affine) -> Self {
        Scheme::Affine(a)
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scheme::Gguf(format) => format.fmt(f),
            Scheme::Affine(affine) => affine.fmt(f),
        }
    }
}

impl Scheme {
    /// Bytes of weight codes per row of `cols` weights (GGUF: whole blocks, scales included).
    pub fn row_bytes(self, cols: usize) -> Result<usize> {
        match self {
            Scheme::Gguf(format) => format.row_bytes(cols),
            Scheme::Affine(affine) => Ok(affine.row_words(cols)? * 4),
        }
    }

    /// The layout part's override constants (`gguf_blocks.wgsl` or `affine_blocks.wgsl`).
    pub(crate) fn layout_overrides(self) -> Vec<(&'static str, f64)> {
        match self {
            Scheme::Gguf(format) => vec![("FORMAT", format.shader_constant())],
            Scheme::Affine(a) => vec![
                ("BITS", f64::from(a.bits())),
                ("GROUP", f64::from(a.group())),
                ("HAS_ZEROS", f64::from(u8::from(a.has_zeros()))),
            ],
        }
    }

    /// Every `(name, value)` of `kernel` overrides plus the layout's, for `Gpu::pipeline`.
    pub(crate) fn overrides(self, kernel: &[(&'static str, f64)]) -> Vec<(&'static str, f64)> {
        let mut all = kernel.to_vec();
        all.extend(self.layout_overrides());
        all
    }
}

/// Weight bindings in the order the layout part declares them.
#[derive(Debug, Clone, Copy)]
pub struct QuantWeights<'a> {
    /// GGUF blocks, or affine `qweight`.
    pub data: Binding<'a>,
    /// Affine `scales` (f16).
    pub scales: Option<Binding<'a>>,
    /// Affine `zeros` (f16), for schemes with zero points.
    pub zeros: Option<Binding<'a>>,
}

impl<'a> From<Binding<'a>> for QuantWeights<'a> {
    fn from(blocks: Binding<'a>) -> Self {
        Self {
            data: blocks,
            scales: None,
            zeros: None,
        }
    }
}

/// Weights on the host, for the `run` conveniences.
#[derive(Debug, Clone, Copy)]
pub enum HostWeights<'a> {
    Gguf(&'a [u8]),
    Affine(AffineRef<'a>),
}

impl<'a> From<&'a [u8]> for HostWeights<'a> {
    fn from(blocks: &'a [u8]) -> Self {
        HostWeights::Gguf(blocks)
    }
}

impl<'a> From<&'a Vec<u8>> for HostWeights<'a> {
    fn from(blocks: &'a Vec<u8>) -> Self {
        HostWeights::Gguf(blocks)
    }
}

impl<'a, const N: usize> From<&'a [u8; N]> for HostWeights<'a> {
    fn from(blocks: &'a [u8; N]) -> Self {
        HostWeights::Gguf(blocks)
    }
}

impl<'a> From<AffineRef<'a>> for HostWeights<'a> {
    fn from(w: AffineRef<'a>) -> Self {
        HostWeights::Affine(w)
    }
}

/// Host weights uploaded to the device; [`Uploaded::bindings`] hands them to `encode`.
pub(crate) struct Uploaded {
    data: squeeze_core::wgpu::Buffer,
    scales: Option<squeeze_core::wgpu::Buffer>,
    zeros: Option<squeeze_core::wgpu::Buffer>,
    pub rows: usize,
}

impl Uploaded {
    pub fn new(gpu: &Gpu, scheme: Scheme, w: HostWeights<'_>, cols: usize) -> Result<Self> {
        match (scheme, w) {
            (Scheme::Gguf(format), HostWeights::Gguf(blocks)) => {
                let row_bytes = format.row_bytes(cols)?;
                if !blocks.len().is_multiple_of(row_bytes) {
                    return Err(Error::invalid(
                        "w",
                        "byte length",
                        format!("a multiple of the row size {row_bytes}"),
                        blocks.len(),
                    ));
                }
                Ok(Self {
                    data: gpu.upload("w", blocks)?,
                    scales: None,
                    zeros: None,
                    rows: blocks.len() / row_bytes,
                })
            }
            (Scheme::Affine(affine), HostWeights::Affine(w)) => Ok(Self {
                rows: affine.rows(w, cols)?,
                data: gpu.upload("qweight", w.qweight)?,
                scales: Some(gpu.upload("scales", w.scales)?),
                zeros: w.zeros.map(|z| gpu.upload("zeros", z)).transpose()?,
            }),
            (scheme, _) => Err(Error::invalid(
                "w",
                "weights",
                format!("the tensors of {scheme}"),
                "the other scheme's tensors",
            )),
        }
    }

    pub fn bindings(&self) -> QuantWeights<'_> {
        QuantWeights {
            data: Binding::whole(&self.data),
            scales: self.scales.as_ref().map(Binding::whole),
            zeros: self.zeros.as_ref().map(Binding::whole),
        }
    }
}

/// A `rows × cols` matrix of one scheme, checked to fit the device's 32-bit indexing.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub scheme: Scheme,
    pub rows: u32,
    pub cols: u32,
    pub row_bytes: u32,
    /// Words between the weight binding's (aligned) start and the tensor, set by
    /// [`Shape::weight_bindings`].
    pub w_offset: u32,
    /// Where batch row b of the output starts: `y_offset + b · y_stride` elements into the y
    /// binding (set by [`crate::Problem`]'s checks; a dense output has 0 and `rows`).
    pub y_offset: u32,
    pub y_stride: u32,
    /// Results in f16 (the `Y_F16` pipeline) rather than f32.
    pub y_f16: bool,
}

impl Shape {
    pub fn new(scheme: Scheme, rows: usize, cols: usize) -> Result<Self> {
        let row_bytes = scheme.row_bytes(cols)?;
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
            scheme,
            rows: rows as u32,
            cols: cols as u32,
            row_bytes: row_bytes as u32,
            w_offset: 0,
            y_offset: 0,
            y_stride: rows as u32,
            y_f16: false,
        })
    }

    /// Bytes the weights occupy on the device, scales and zeros included.
    pub fn weight_bytes(&self) -> u64 {
        let codes = u64::from(self.rows) * u64::from(self.row_bytes);
        match self.scheme {
            Scheme::Gguf(_) => codes,
            Scheme::Affine(a) => {
                let tables = if a.has_zeros() { 2 } else { 1 };
                codes + tables * 2 * self.weights() / u64::from(a.group())
            }
        }
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
            w_offset: self.w_offset,
            y_offset: self.y_offset,
            y_stride: self.y_stride,
            _pad: [0; 1],
        }
    }

    /// Checks the weight bindings against this matrix and returns them in shader order. GGUF
    /// blocks may start at any 4-byte offset of their buffer (a GGUF file uploaded whole, its
    /// tensors 32-byte aligned): the binding is widened down to the device's offset alignment
    /// and the remainder goes to the kernel as [`Shape::w_offset`].
    pub(crate) fn weight_bindings<'a>(
        &mut self,
        gpu: &Gpu,
        w: QuantWeights<'a>,
    ) -> Result<Vec<Binding<'a>>> {
        let (rows, cols) = (self.rows, self.cols);
        let codes = u64::from(rows) * u64::from(self.row_bytes);
        match self.scheme {
            Scheme::Gguf(format) => {
                for (arg, extra) in [("scales", w.scales), ("zeros", w.zeros)] {
                    if extra.is_some() {
                        return Err(Error::invalid(
                            arg,
                            "binding",
                            "none for GGUF blocks",
                            "one",
                        ));
                    }
                }
                gpu.check_binding_holds(
                    "w",
                    &w.data,
                    codes,
                    format_args!("{rows} rows of {cols} {format} weights"),
                )?;
                let (data, words) = in_place(gpu, "w", w.data)?;
                let max = gpu.limits().max_storage_buffer_binding_size;
                if data.size > max {
                    return Err(Error::invalid(
                        "w",
                        "bytes",
                        format!(
                            "at most max_storage_buffer_binding_size = {max} per dispatch: split \
                             the rows into blocks that fit (squeeze_quant::gguf::TensorMatmul \
                             does), each writing its rows of the full output through YRows"
                        ),
                        data.size,
                    ));
                }
                gpu.check_storage_binding("w", &data)?;
                self.w_offset = words;
                Ok(vec![data])
            }
            Scheme::Affine(affine) => {
                gpu.check_storage_binding("qweight", &w.data)?;
                gpu.check_binding_holds(
                    "qweight",
                    &w.data,
                    codes,
                    format_args!("{rows} rows of {cols} {affine} codes"),
                )?;
                let groups = self.weights() / u64::from(affine.group());
                let table = |arg: &'static str, b: Option<Binding<'a>>| -> Result<Binding<'a>> {
                    let b = b.ok_or_else(|| Error::invalid(arg, "binding", "present", "absent"))?;
                    gpu.check_storage_binding(arg, &b)?;
                    gpu.check_binding_holds(arg, &b, groups * 2, format_args!("{groups} f16"))?;
                    Ok(b)
                };
                let scales = table("scales", w.scales)?;
                let zeros = match (affine.has_zeros(), w.zeros) {
                    (true, zeros) => table("zeros", zeros)?,
                    (false, None) => scales, // bound, never read (see affine_blocks.wgsl)
                    (false, Some(_)) => {
                        return Err(Error::invalid(
                            "zeros",
                            "binding",
                            format!("none for {affine}"),
                            "one",
                        ));
                    }
                };
                Ok(vec![w.data, scales, zeros])
            }
        }
    }
}

/// `binding` (argument `arg`) widened down to the device's storage offset alignment, and the
/// words it was widened by: how a tensor at any 4-byte offset of a buffer binds in place.
pub(crate) fn in_place<'a>(
    gpu: &Gpu,
    arg: &'static str,
    binding: Binding<'a>,
) -> Result<(Binding<'a>, u32)> {
    if !binding.offset.is_multiple_of(4) {
        return Err(Error::invalid(
            arg,
            "offset",
            "a multiple of 4 bytes",
            binding.offset,
        ));
    }
    let align = u64::from(gpu.limits().min_storage_buffer_offset_alignment);
    let extra = binding.offset % align;
    let widened = Binding::new(binding.buffer, binding.offset - extra, binding.size + extra);
    Ok((widened, (extra / 4) as u32))
}
