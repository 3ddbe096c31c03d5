//! The model's weights on the device, uploaded once at load: each matrix as stored, with the
//! GEMV that multiplies it ([`DeviceMatrix`]: GGUF blocks, BF16/F16/F32, DF11 or native), norms
//! as f32,
//! and the token embedding as the table the embedding kernel gathers from (a block-quantized
//! table is dequantized to f32 here, once, by squeeze's dequantize kernel; that costs 4 bytes per
//! weight of device memory, see the crate docs).

use squeeze::dfloat11::bf16_gemv::{Bf16Gemv, WeightFormat};
use squeeze::dfloat11::device::UnitBuffers;
use squeeze::dfloat11::gemv::{Activations, GemvParams};
use squeeze::dfloat11::native::device::{NativeBuffers, NativeParams};
use squeeze::dfloat11::native::gemv::NativeGemv;
use squeeze::dfloat11::{Gemv as Df11Gemv, Layout};
use squeeze::quant::{Dequantize, Format, Gemv, Problem};
use squeeze::{Binding, DType, Error, Gpu, Result, wgpu};

use crate::embedding::{Table, TableDtype};
use crate::state::Layouts;
use crate::tensors::{EmbeddingData, Matrix, MatrixData, ModelTensors};

/// Most activation rows one [`DeviceMatrix::encode`] multiplies (every GEMV's batch limit).
pub const MAX_BATCH: u32 = 8;

/// How a matrix is stored on the device.
pub enum MatrixStore {
    /// GGUF blocks, multiplied by squeeze's quantized GEMV.
    Blocks {
        format: Format,
        buffer: wgpu::Buffer,
    },
    /// Unquantized BF16, F16 (two per word) or F32, multiplied by the plain GEMV of `format`.
    Plain {
        format: WeightFormat,
        buffer: wgpu::Buffer,
    },
    /// A DF11 unit, multiplied by the fused DF11 GEMV (BF16 never reaches memory).
    Df11 {
        params: GemvParams,
        unit: UnitBuffers,
    },
    /// A native unit, multiplied by the fused native GEMV.
    Native {
        params: NativeParams,
        unit: NativeBuffers,
    },
}

/// A `[rows, cols]` weight matrix on the device.
pub struct DeviceMatrix {
    pub rows: u32,
    pub cols: u32,
    pub store: MatrixStore,
}

/// The GEMVs a model's matrices need, compiled at load.
#[derive(Default)]
pub struct MatrixKernels {
    blocks: Vec<(Format, Gemv)>,
    /// One plain GEMV per weight format in use.
    plain: Vec<Bf16Gemv>,
    /// The fused DF11 GEMV and its scratch (block carries and chunk sums), one buffer of the
    /// largest matrix's size for all: the step's dispatches run in order.
    df11: Option<(Df11Gemv, wgpu::Buffer)>,
    native: Option<NativeGemv>,
}

impl MatrixKernels {
    /// Compiles one GEMV for each storage the matrices of `weights` use.
    pub fn new(gpu: &Gpu, weights: &DeviceWeights) -> Result<Self> {
        let mut k = Self::default();
        for m in weights.matrices() {
            match &m.store {
                MatrixStore::Blocks { format, .. } => {
                    if !k.blocks.iter().any(|(f, _)| f == format) {
                        k.blocks.push((*format, Gemv::new(gpu, *format)?));
                    }
                }
                MatrixStore::Plain { format, .. } => {
                    if !k.plain.iter().any(|g| g.format() == *format) {
                        k.plain.push(Bf16Gemv::with_weights(gpu, *format)?);
                    }
                }
                MatrixStore::Df11 { .. } => {
                    if k.df11.is_none() {
                        let layout = weights.df11_layout.unwrap_or(Layout::DF11);
                        let bytes = weights
                            .matrices()
                            .filter_map(|m| match &m.store {
                                MatrixStore::Df11 { params, .. } => Some(params.partials_bytes()),
                                _ => None,
                            })
                            .max()
                            .unwrap_or(0)
                            .max(4);
                        k.df11 = Some((
                            Df11Gemv::new(gpu, layout)?,
                            gpu.storage_buffer("df11 partials", bytes)?,
                        ));
                    }
                }
                MatrixStore::Native { .. } => {
                    if k.native.is_none() {
                        k.native = Some(NativeGemv::new(gpu)?);
                    }
                }
            }
        }
        Ok(k)
    }
}

fn not_compiled(what: &str) -> Error {
    Error::invalid("weights", "storage", "one compiled at load", what)
}

impl DeviceMatrix {
    fn upload(gpu: &Gpu, m: &Matrix<'_>) -> Result<Self> {
        let store = match &m.data {
            MatrixData::Blocks { format, data } => MatrixStore::Blocks {
                format: *format,
                buffer: gpu.upload("weights", data)?,
            },
            MatrixData::Bf16(data) => MatrixStore::Plain {
                format: WeightFormat::Bf16,
                buffer: gpu.upload("weights bf16", data)?,
            },
            MatrixData::F16(data) => MatrixStore::Plain {
                format: WeightFormat::F16,
                buffer: gpu.upload("weights f16", data)?,
            },
            MatrixData::F32(data) => MatrixStore::Plain {
                format: WeightFormat::F32,
                buffer: gpu.upload("weights f32", data)?,
            },
            MatrixData::Df11(unit) => {
                let params = GemvParams::new(unit, m.rows as usize, m.cols as usize, 1)?;
                MatrixStore::Df11 {
                    params,
                    unit: UnitBuffers::upload(gpu, unit)?,
                }
            }
            MatrixData::Native(unit) => MatrixStore::Native {
                params: NativeParams::new(unit, 1),
                unit: NativeBuffers::upload(gpu, unit)?,
            },
        };
        Ok(Self {
            rows: m.rows,
            cols: m.cols,
            store,
        })
    }

    /// Records `y[b] = W · x[b]` for `batch` rows (1..=[`MAX_BATCH`]) of f32 activations
    /// `x` `[batch, cols]` into f32 `y` `[batch, rows]`, with the GEMV of the matrix's storage.
    pub fn encode(
        &self,
        kernels: &MatrixKernels,
        encoder: &mut wgpu::CommandEncoder,
        batch: u32,
        x: Binding<'_>,
        y: Binding<'_>,
    ) -> Result<()> {
        if !(1..=MAX_BATCH).contains(&batch) {
            return Err(Error::invalid(
                "batch",
                "rows",
                format!("1..={MAX_BATCH}"),
                batch,
            ));
        }
        let (rows, cols) = (self.rows as usize, self.cols as usize);
        match &self.store {
            MatrixStore::Blocks { format, buffer } => {
                let gemv = kernels
                    .blocks
                    .iter()
                    .find(|(f, _)| f == format)
                    .map(|(_, g)| g)
                    .ok_or_else(|| not_compiled("GGUF blocks"))?;
                let problem = Problem {
                    rows,
                    cols,
                    batch: batch as usize,
                    x_dtype: DType::F32,
                };
                gemv.encode(encoder, problem, Binding::whole(buffer), x, y)
            }
            MatrixStore::Plain { format, buffer } => {
                let gemv = kernels
                    .plain
                    .iter()
                    .find(|g| g.format() == *format)
                    .ok_or_else(|| not_compiled("BF16, F16 or F32"))?;
                let params = Bf16Gemv::params(rows, cols, batch as usize)?;
                Ok(gemv.encode(encoder, params, Binding::whole(buffer), x, y)?)
            }
            MatrixStore::Df11 { params, unit } => {
                let (gemv, partials) = kernels.df11.as_ref().ok_or_else(|| not_compiled("DF11"))?;
                let params = GemvParams { batch, ..*params };
                Ok(gemv.encode(
                    encoder,
                    params,
                    unit.bindings(),
                    Activations::from(x),
                    y,
                    Binding::whole(partials),
                )?)
            }
            MatrixStore::Native { params, unit } => {
                let gemv = kernels
                    .native
                    .as_ref()
                    .ok_or_else(|| not_compiled("native"))?;
                let params = NativeParams { batch, ..*params };
                Ok(gemv.encode(encoder, params, unit.bindings(), Activations::from(x), y)?)
            }
        }
    }
}

/// Projections that multiply the same input (q, k and v; gate and up), in the order their
/// outputs are used.
pub enum Projections<const N: usize> {
    /// Their rows stacked into one matrix, when they share one storage that stacks (GGUF blocks
    /// of one format, or one of BF16/F16/F32): one GEMV gives each row's outputs one after the
    /// other, where a decode step would otherwise dispatch N. Rows do not interact in any GEMV,
    /// so each output has the bits it would have alone.
    Stacked(DeviceMatrix),
    /// One matrix each (DF11 and native units, or mixed storages).
    Apart(Box<[DeviceMatrix; N]>),
}

impl<const N: usize> Projections<N> {
    /// Stacks `parts` when their storage allows, else uploads them apart.
    fn upload(gpu: &Gpu, parts: [&Matrix<'_>; N]) -> Result<Self> {
        if let Some((rows, bytes)) = stacked_bytes(&parts) {
            let first = parts[0];
            let data = match &first.data {
                MatrixData::Blocks { format, .. } => MatrixData::Blocks {
                    format: *format,
                    data: &bytes,
                },
                MatrixData::Bf16(_) => MatrixData::Bf16(&bytes),
                MatrixData::F16(_) => MatrixData::F16(&bytes),
                _ => MatrixData::F32(&bytes),
            };
            let m = Matrix {
                rows,
                cols: first.cols,
                data,
            };
            return Ok(Self::Stacked(DeviceMatrix::upload(gpu, &m)?));
        }
        let mut apart = Vec::with_capacity(N);
        for m in parts {
            apart.push(DeviceMatrix::upload(gpu, m)?);
        }
        <Box<[DeviceMatrix; N]>>::try_from(apart)
            .map(Self::Apart)
            .map_err(|_| Error::invalid("projections", "matrices", N, "another count"))
    }

    pub fn is_stacked(&self) -> bool {
        matches!(self, Self::Stacked(_))
    }

    fn matrices(&self) -> impl Iterator<Item = &DeviceMatrix> {
        let (stacked, apart) = match self {
            Self::Stacked(m) => (Some(m), &[][..]),
            Self::Apart(ms) => (None, &ms[..]),
        };
        stacked.into_iter().chain(apart)
    }
}

/// The rows of `parts`, one matrix after another, and their bytes, when they have the same
/// columns and one stackable storage (each row's bytes stand alone in GGUF blocks and plain
/// types).
fn stacked_bytes(parts: &[&Matrix<'_>]) -> Option<(u32, Vec<u8>)> {
    let first = parts.first()?;
    let mut rows = 0u32;
    let mut bytes = Vec::new();
    for m in parts {
        let data = match (&m.data, &first.data) {
            (MatrixData::Blocks { format, data }, MatrixData::Blocks { format: f, .. })
                if format == f =>
            {
                data
            }
            (MatrixData::Bf16(data), MatrixData::Bf16(_))
            | (MatrixData::F16(data), MatrixData::F16(_))
            | (MatrixData::F32(data), MatrixData::F32(_)) => data,
            _ => return None,
        };
        if m.cols != first.cols {
            return None;
        }
        rows = rows.checked_add(m.rows)?;
        bytes.extend_from_slice(data);
    }
    Some((rows, bytes))
}

/// One transformer block's weights.
pub struct DeviceLayer {
    pub attn_norm: wgpu::Buffer,
    pub qkv: Projections<3>,
    pub o: DeviceMatrix,
    pub ffn_norm: wgpu::Buffer,
    pub gate_up: Projections<2>,
    pub down: DeviceMatrix,
}

impl DeviceLayer {
    pub fn matrices(&self) -> impl Iterator<Item = &DeviceMatrix> {
        self.qkv
            .matrices()
            .chain([&self.o])
            .chain(self.gate_up.matrices())
            .chain([&self.down])
    }
}

/// Every weight of the model on the device.
pub struct DeviceWeights {
    pub embedding: wgpu::Buffer,
    pub embedding_dtype: TableDtype,
    pub vocab: u32,
    pub hidden: u32,
    pub layers: Vec<DeviceLayer>,
    pub output_norm: wgpu::Buffer,
    pub output: DeviceMatrix,
    /// The layout of the DF11 units, if any (one per checkpoint).
    pub df11_layout: Option<Layout>,
}

impl DeviceWeights {
    pub fn upload(gpu: &Gpu, tensors: &ModelTensors<'_>) -> Result<Self> {
        let (embedding, embedding_dtype) = match &tensors.embedding {
            EmbeddingData::F32(bytes) => (gpu.upload("token_embd", bytes)?, TableDtype::F32),
            EmbeddingData::F16(bytes) => (gpu.upload("token_embd", bytes)?, TableDtype::F16),
            EmbeddingData::Bf16(bytes) => (gpu.upload("token_embd", bytes)?, TableDtype::Bf16),
            EmbeddingData::Blocks(m) => (dequantized(gpu, m)?, TableDtype::F32),
        };
        let layers = tensors
            .layers
            .iter()
            .map(|l| {
                let m = |m| DeviceMatrix::upload(gpu, m);
                Ok(DeviceLayer {
                    attn_norm: gpu.upload("attn_norm", &l.attn_norm)?,
                    qkv: Projections::upload(gpu, [&l.q, &l.k, &l.v])?,
                    o: m(&l.o)?,
                    ffn_norm: gpu.upload("ffn_norm", &l.ffn_norm)?,
                    gate_up: Projections::upload(gpu, [&l.gate, &l.up])?,
                    down: m(&l.down)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            embedding,
            embedding_dtype,
            vocab: tensors.config.vocab,
            hidden: tensors.config.hidden,
            layers,
            output_norm: gpu.upload("output_norm", &tensors.output_norm)?,
            output: DeviceMatrix::upload(gpu, &tensors.output)?,
            df11_layout: tensors.df11_layout,
        })
    }

    /// Which projection outputs the layers need.
    pub fn layouts(&self) -> Layouts {
        let l = &self.layers;
        Layouts {
            stacked_qkv: l.iter().any(|l| l.qkv.is_stacked()),
            stacked_ffn: l.iter().any(|l| l.gate_up.is_stacked()),
            apart_ffn: l.iter().any(|l| !l.gate_up.is_stacked()),
        }
    }

    /// The embedding as the gather kernel binds it.
    pub fn table(&self) -> Table<'_> {
        Table {
            data: Binding::whole(&self.embedding),
            vocab: self.vocab,
            cols: self.hidden,
        }
    }

    /// Every weight matrix, the output's last.
    pub fn matrices(&self) -> impl Iterator<Item = &DeviceMatrix> {
        self.layers
            .iter()
            .flat_map(|l| l.matrices())
            .chain([&self.output])
    }
}

/// A block-quantized table dequantized to f32 on the device.
fn dequantized(gpu: &Gpu, m: &Matrix<'_>) -> Result<wgpu::Buffer> {
    let MatrixData::Blocks { format, data } = m.data else {
        return Err(Error::invalid(
            "token_embd",
            "storage",
            "GGUF blocks",
            "another storage",
        ));
    };
    let blocks = gpu.upload("token_embd", data)?;
    let table = gpu.storage_buffer("token_embd_f32", u64::from(m.rows) * u64::from(m.cols) * 4)?;
    let mut encoder = gpu.encoder("dequantize token_embd");
    Dequantize::new(gpu, format)?.encode(
        &mut encoder,
        m.rows as usize,
        m.cols as usize,
        Binding::whole(&blocks),
        Binding::whole(&table),
    )?;
    gpu.submit_and_wait(encoder)?;
    Ok(table)
}
