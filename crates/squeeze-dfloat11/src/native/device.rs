//! What the native kernels (decode, fused GEMV) share on the host: their `params` uniform, the
//! checks of a unit's five bindings, a validated unit's tensors uploaded, and the pipeline.

use squeeze_core::pipeline::PipelineOptions;
use squeeze_core::{Binding, Error, Gpu};
use squeeze_shaders::Module;

use crate::device::check_bindings;
use crate::error::Result;
use crate::native::CHUNK_SYMBOLS;
use crate::native::format::CheckedNative;
use crate::native::huffman::TABLE_ENTRIES;

/// Invocations per workgroup of the native kernels (one chunk each): a 4096-column row's 32
/// chunks eight times over, and the tree sum's depth stays at 8.
pub const WORKGROUP_SIZE: u32 = 256;

/// The `params` uniform of the native kernels (`native_params.wgsl`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct NativeParams {
    /// Weights: `rows · cols`.
    pub n: u32,
    pub rows: u32,
    pub cols: u32,
    /// `⌈cols / 128⌉`.
    pub chunks_per_row: u32,
    /// `rows · chunks_per_row`.
    pub chunks: u32,
    /// Activation columns of the GEMV, 1..=8 (the decoder ignores it).
    pub batch: u32,
    pub _pad: [u32; 2],
}

impl NativeParams {
    /// Parameters of a validated unit; `batch` is the GEMV's (1 for the decoder).
    pub fn new(unit: &CheckedNative<'_>, batch: usize) -> Self {
        Self {
            n: unit.n as u32,
            rows: unit.unit.rows as u32,
            cols: unit.unit.cols as u32,
            chunks_per_row: unit.chunks_per_row as u32,
            chunks: unit.chunks as u32,
            batch: batch as u32,
            _pad: [0; 2],
        }
    }

    /// Checks that the fields agree with each other (they size every binding check).
    pub(crate) fn check(&self) -> Result<()> {
        let cpr = (self.cols as usize).div_ceil(CHUNK_SYMBOLS) as u64;
        let n = u64::from(self.rows) * u64::from(self.cols);
        if u64::from(self.n) != n
            || u64::from(self.chunks_per_row) != cpr
            || u64::from(self.chunks) != u64::from(self.rows) * cpr
        {
            return Err(Error::invalid(
                "params",
                "n, chunks_per_row, chunks",
                format!(
                    "rows × cols = {n}, ⌈cols / {CHUNK_SYMBOLS}⌉ = {cpr}, rows × that = {}",
                    u64::from(self.rows) * cpr
                ),
                format!("{}, {}, {}", self.n, self.chunks_per_row, self.chunks),
            )
            .into());
        }
        Ok(())
    }
}

/// The five tensors of a unit as bindings, in the kernels' binding order (1..=5): the decode
/// table ([`crate::native::huffman::DecodeTable::words`]), then the stored tensors.
pub struct NativeBindings<'a> {
    pub table: Binding<'a>,
    pub exponents: Binding<'a>,
    pub sign_mantissa: Binding<'a>,
    pub tile_offsets: Binding<'a>,
    pub chunk_offsets: Binding<'a>,
}

impl<'a> NativeBindings<'a> {
    /// Checks that each binding is storage-usable and holds what `params` needs.
    pub(crate) fn check(&self, gpu: &Gpu, params: &NativeParams) -> Result<()> {
        let chunks = u64::from(params.chunks);
        check_bindings(
            gpu,
            &[
                (
                    "table",
                    &self.table,
                    2 * TABLE_ENTRIES as u64,
                    "4096 u16 entries",
                ),
                ("exponents", &self.exponents, 4, "the stream"),
                (
                    "sign_mantissa",
                    &self.sign_mantissa,
                    u64::from(params.n),
                    "one byte per weight",
                ),
                (
                    "tile_offsets",
                    &self.tile_offsets,
                    4 * (chunks.div_ceil(32) + 1),
                    "tiles + 1 u32",
                ),
                (
                    "chunk_offsets",
                    &self.chunk_offsets,
                    2 * chunks,
                    "one u16 per chunk",
                ),
            ],
        )
    }

    pub(crate) fn into_array(self) -> [Binding<'a>; 5] {
        [
            self.table,
            self.exponents,
            self.sign_mantissa,
            self.tile_offsets,
            self.chunk_offsets,
        ]
    }
}

/// A validated unit's tensors (and its derived decode table) on the device.
pub struct NativeBuffers {
    pub table: squeeze_core::wgpu::Buffer,
    pub exponents: squeeze_core::wgpu::Buffer,
    pub sign_mantissa: squeeze_core::wgpu::Buffer,
    pub tile_offsets: squeeze_core::wgpu::Buffer,
    pub chunk_offsets: squeeze_core::wgpu::Buffer,
}

impl NativeBuffers {
    pub fn upload(gpu: &Gpu, unit: &CheckedNative<'_>) -> Result<Self> {
        let u = &unit.unit;
        let mut table = unit.table.words();
        table.resize(TABLE_ENTRIES / 2, 0);
        Ok(Self {
            table: gpu.upload("table", &table)?,
            exponents: gpu.upload("exponents", u.exponents)?,
            sign_mantissa: gpu.upload("sign_mantissa", u.sign_mantissa)?,
            tile_offsets: gpu.upload("tile_offsets", u.tile_offsets)?,
            chunk_offsets: gpu.upload("chunk_offsets", u.chunk_offsets)?,
        })
    }

    pub fn bindings(&self) -> NativeBindings<'_> {
        NativeBindings {
            table: Binding::whole(&self.table),
            exponents: Binding::whole(&self.exponents),
            sign_mantissa: Binding::whole(&self.sign_mantissa),
            tile_offsets: Binding::whole(&self.tile_offsets),
            chunk_offsets: Binding::whole(&self.chunk_offsets),
        }
    }

    /// Bytes the kernels read: the stored tensors (the 256 lengths stand for the table).
    pub fn compressed_bytes(unit: &CheckedNative<'_>) -> u64 {
        let u = &unit.unit;
        [
            u.lengths,
            u.exponents,
            u.sign_mantissa,
            u.tile_offsets,
            u.chunk_offsets,
        ]
        .iter()
        .map(|t| t.len() as u64)
        .sum()
    }
}

/// Compiles `entry` of a native `module`. Every workgroup word is written before it is read
/// (the table is copied in full, the sums are stored before each tree), so WGSL's zeroing is
/// skipped, as in the DF11 kernels.
pub(crate) fn pipeline(
    gpu: &Gpu,
    module: &'static Module,
    entry: &str,
    extra: &[(&str, f64)],
) -> Result<squeeze_core::wgpu::ComputePipeline> {
    let mut overrides = vec![("WORKGROUP_SIZE", f64::from(WORKGROUP_SIZE))];
    overrides.extend_from_slice(extra);
    Ok(gpu.pipeline_with_options(
        module,
        entry,
        &overrides,
        PipelineOptions {
            zero_initialize_workgroup_memory: false,
        },
    )?)
}

/// `wanted` workgroups capped at the dispatch limit (the kernels stride over the rest).
pub(crate) fn workgroups(gpu: &Gpu, wanted: u32) -> u32 {
    wanted.clamp(1, gpu.limits().max_compute_workgroups_per_dimension)
}
