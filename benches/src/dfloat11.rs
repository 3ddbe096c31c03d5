//! Benchmarks of the DFloat11 family: GPU decode of one 4096 × 4096 BF16 matrix (32 MiB) of
//! realistic weights, counted as compressed bytes read plus BF16 bytes written; the fused DF11
//! GEMV on the same matrix at batch 1 and 8 against DF11 decode followed by a BF16 GEMV and
//! against a plain BF16 GEMV (each counted as the bytes it really moves, so compare times:
//! the report's ms column); and the sample data the encoder criterion bench uses.

use squeeze::dfloat11::bf16_gemv::Bf16Gemv;
use squeeze::dfloat11::decode::{DecodeParams, Scan};
use squeeze::dfloat11::device::UnitBuffers;
use squeeze::dfloat11::gemv::GemvParams;
use squeeze::dfloat11::{Decode, Gemv, Layout, encode};
use squeeze::{Binding, Gpu, Result};

use crate::{Bench, Scope, Sizes, Workload};

pub(crate) const FAMILY: &str = "dfloat11";

/// Little-endian BF16 bytes of `n` roughly Gaussian weights of scale 0.02 (about 30 distinct
/// exponents, like LLM linear layers), from a fixed seed.
pub fn sample_weights(n: usize) -> Vec<u8> {
    let mut state = 0x5eed_u64;
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 40) as f64 / (1u64 << 24) as f64
    };
    (0..n)
        .flat_map(|_| {
            let u = next() + next() + next() + next() - 2.0;
            let bits = (((u * 0.02) as f32).to_bits() >> 16) as u16;
            bits.to_le_bytes()
        })
        .collect()
}

/// Decoding a `rows × cols` matrix encoded with the DF11 layout, with `scan`.
pub fn decode_workload(gpu: &Gpu, rows: usize, cols: usize, scan: Scan) -> Result<Workload> {
    let layout = Layout::DF11;
    let data = sample_weights(rows * cols);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let encoded = encode(&[&data], layout, threads)?;
    let checked = encoded.unit().validate("bench", layout)?;
    let kernel = Decode::with_scan(gpu, layout, scan)?;
    let buffers = UnitBuffers::upload(gpu, &checked)?;
    let out = gpu.storage_buffer("out", 2 * checked.n as u64)?;
    let params = DecodeParams::new(
        checked.n as u32,
        checked.blocks as u32,
        checked.n_luts as u32,
    );
    Ok(Workload {
        bytes_moved: UnitBuffers::compressed_bytes(&checked) + 2 * checked.n as u64,
        flops: 0,
        record: Box::new(move |encoder| {
            kernel
                .encode(encoder, params, buffers.bindings(), Binding::whole(&out))
                .map_err(Into::into)
        }),
    })
}

/// How a GEMV bench gets its weights.
#[derive(Debug, Clone, Copy)]
pub enum GemvKind {
    /// The fused DF11 GEMV.
    Fused,
    /// DF11 decode to a BF16 buffer, then the BF16 GEMV.
    DecodeThenGemv,
    /// The BF16 GEMV on uncompressed weights.
    Bf16,
}

/// The activations, output and counts of a `rows × cols` bench GEMV of `batch` columns.
pub(crate) struct GemvVectors {
    pub x: squeeze::wgpu::Buffer,
    pub y: squeeze::wgpu::Buffer,
    /// Bytes of x read and y written.
    pub bytes: u64,
    pub flops: u64,
}

impl GemvVectors {
    pub(crate) fn new(gpu: &Gpu, rows: usize, cols: usize, batch: usize) -> Result<Self> {
        let x: Vec<f32> = (0..batch * cols)
            .map(|i| ((i % 61) as f32 - 30.0) / 30.0)
            .collect();
        Ok(Self {
            x: gpu.upload("x", &x)?,
            y: gpu.storage_buffer("y", 4 * (batch * rows) as u64)?,
            bytes: 4 * (batch * (rows + cols)) as u64,
            flops: 2 * (rows * cols * batch) as u64,
        })
    }
}

/// `decode` (which writes the `rows × cols` BF16 matrix into its binding) followed by the BF16
/// GEMV on it: the unfused baseline of a fused GEMV that reads `compressed` bytes.
pub(crate) fn decode_then_gemv(
    gpu: &Gpu,
    (rows, cols, batch): (usize, usize, usize),
    compressed: u64,
    decode: impl Fn(&mut squeeze::wgpu::CommandEncoder, Binding<'_>) -> Result<()> + 'static,
) -> Result<Workload> {
    let v = GemvVectors::new(gpu, rows, cols, batch)?;
    let bf16 = Bf16Gemv::new(gpu)?;
    let bf16_params = Bf16Gemv::params(rows, cols, batch)?;
    let n = (rows * cols) as u64;
    let decoded = gpu.storage_buffer("decoded", 2 * n)?;
    Ok(Workload {
        bytes_moved: compressed + 4 * n + v.bytes,
        flops: v.flops,
        record: Box::new(move |encoder| {
            decode(encoder, Binding::whole(&decoded))?;
            bf16.encode(
                encoder,
                bf16_params,
                Binding::whole(&decoded),
                Binding::whole(&v.x),
                Binding::whole(&v.y),
            )
            .map_err(Into::into)
        }),
    })
}

/// A `rows × cols` GEMV of `batch` columns on the bench weights, computed as `kind` says.
pub fn gemv_workload(
    gpu: &Gpu,
    rows: usize,
    cols: usize,
    batch: usize,
    kind: GemvKind,
) -> Result<Workload> {
    let layout = Layout::DF11;
    let n = rows * cols;
    let data = sample_weights(n);
    if let GemvKind::Bf16 = kind {
        let v = GemvVectors::new(gpu, rows, cols, batch)?;
        let bf16 = Bf16Gemv::new(gpu)?;
        let bf16_params = Bf16Gemv::params(rows, cols, batch)?;
        let weights = gpu.upload("weights", &data)?;
        return Ok(Workload {
            bytes_moved: 2 * n as u64 + v.bytes,
            flops: v.flops,
            record: Box::new(move |encoder| {
                bf16.encode(
                    encoder,
                    bf16_params,
                    Binding::whole(&weights),
                    Binding::whole(&v.x),
                    Binding::whole(&v.y),
                )
                .map_err(Into::into)
            }),
        });
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let encoded = encode(&[&data], layout, threads)?;
    let checked = encoded.unit().validate("bench", layout)?;
    let buffers = UnitBuffers::upload(gpu, &checked)?;
    let compressed = UnitBuffers::compressed_bytes(&checked);
    if let GemvKind::DecodeThenGemv = kind {
        let decode = Decode::new(gpu, layout)?;
        let params = DecodeParams::new(
            checked.n as u32,
            checked.blocks as u32,
            checked.n_luts as u32,
        );
        return decode_then_gemv(gpu, (rows, cols, batch), compressed, move |encoder, out| {
            Ok(decode.encode(encoder, params, buffers.bindings(), out)?)
        });
    }
    let v = GemvVectors::new(gpu, rows, cols, batch)?;
    let fused = Gemv::new(gpu, layout)?;
    let params = GemvParams::new(&checked, rows, cols, batch)?;
    let partials = gpu.storage_buffer("partials", params.partials_bytes())?;
    Ok(Workload {
        bytes_moved: compressed + v.bytes + params.partials_bytes(),
        flops: v.flops,
        record: Box::new(move |encoder| {
            fused
                .encode(
                    encoder,
                    params,
                    buffers.bindings(),
                    Binding::whole(&v.x),
                    Binding::whole(&v.y),
                    Binding::whole(&partials),
                )
                .map_err(Into::into)
        }),
    })
}

/// The bench matrix (rows, cols) at `sizes`: a 4096 × 4096 projection of a 7B-class model
/// (32 MiB of BF16 out, ~22 MiB of DF11 in), or a tiny one for the smoke test.
pub(crate) fn matrix(sizes: Sizes) -> (usize, usize) {
    match sizes {
        Sizes::Real => (4096, 4096),
        Sizes::Smoke => (64, 512),
    }
}

pub fn benches(gpu: &Gpu, sizes: Sizes) -> Vec<Bench> {
    let (rows, cols) = matrix(sizes);
    let mut scans = vec![(Scan::Workgroup, "workgroup scan")];
    if gpu.has_subgroups() {
        scans.push((Scan::Subgroup, "subgroup scan"));
    }
    // The default run decodes with the scan the device would pick (the last one listed).
    let best = scans.len() - 1;
    let decodes = scans
        .into_iter()
        .enumerate()
        .map(|(i, (scan, label))| Bench {
            family: FAMILY,
            kernel: "dfloat11",
            shape: format!("decode {rows}×{cols} → bf16, {label}"),
            scope: if i == best {
                Scope::Default
            } else {
                Scope::Full
            },
            prepare: Box::new(move |gpu| decode_workload(gpu, rows, cols, scan)),
        });
    // Batch 1 of the fused GEMV and of its plain BF16 baseline are the default run's.
    let gemvs = [1usize, 8].into_iter().flat_map(move |batch| {
        [
            (GemvKind::Fused, "fused df11 gemv"),
            (GemvKind::DecodeThenGemv, "df11 decode + bf16 gemv"),
            (GemvKind::Bf16, "bf16 gemv"),
        ]
        .map(|(kind, label)| Bench {
            family: FAMILY,
            kernel: "dfloat11-gemv",
            shape: format!("{label} {rows}×{cols}, batch {batch}"),
            scope: match (kind, batch) {
                (GemvKind::Fused | GemvKind::Bf16, 1) => Scope::Default,
                _ => Scope::Full,
            },
            prepare: Box::new(move |gpu| gemv_workload(gpu, rows, cols, batch, kind)),
        })
    });
    decodes.chain(gemvs).collect()
}
