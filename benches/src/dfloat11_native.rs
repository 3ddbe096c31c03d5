//! Benchmarks of the native entropy format on the DF11 benches' matrix (4096 × 4096 realistic
//! BF16 weights, [`crate::dfloat11::sample_weights`]): one-pass GPU decode, counted as
//! compressed bytes read plus BF16 bytes written; and the fused native GEMV at batch 1 and 8,
//! beside native decode followed by the BF16 GEMV (compare with the `dfloat11-gemv` rows of
//! the same shape: fused DF11, DF11 decode + BF16 GEMV, BF16 GEMV). Each row counts the bytes
//! it really moves, so compare times.

use squeeze::dfloat11::bf16_gemv::Bf16Gemv;
use squeeze::dfloat11::native::decode::NativeDecode;
use squeeze::dfloat11::native::device::{NativeBuffers, NativeParams};
use squeeze::dfloat11::native::gemv::NativeGemv;
use squeeze::dfloat11::native::{self, NativeEncoded};
use squeeze::{Binding, Gpu, Result};

use crate::dfloat11::sample_weights;
use crate::{Bench, Workload};

/// The bench weights of a `rows × cols` matrix, native-encoded.
fn encoded(rows: usize, cols: usize) -> Result<NativeEncoded> {
    let values: Vec<u16> = sample_weights(rows * cols)
        .chunks_exact(2)
        .map(|b| u16::from_le_bytes([b[0], b[1]]))
        .collect();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    Ok(native::encode(&values, rows, cols, threads)?)
}

/// Decoding the native `rows × cols` bench matrix to BF16.
pub fn decode_workload(gpu: &Gpu, rows: usize, cols: usize) -> Result<Workload> {
    let e = encoded(rows, cols)?;
    let checked = e.unit().validate("bench")?;
    let kernel = NativeDecode::new(gpu)?;
    let buffers = NativeBuffers::upload(gpu, &checked)?;
    let out = gpu.storage_buffer("out", 2 * checked.n as u64)?;
    let params = NativeParams::new(&checked, 1);
    Ok(Workload {
        bytes_moved: NativeBuffers::compressed_bytes(&checked) + 2 * checked.n as u64,
        flops: 0,
        record: Box::new(move |encoder| {
            kernel
                .encode(encoder, params, buffers.bindings(), Binding::whole(&out))
                .map_err(Into::into)
        }),
    })
}

/// A `rows × cols` GEMV of `batch` columns on the native bench matrix: fused, or (`fused`
/// false) native decode to a BF16 buffer followed by the BF16 GEMV.
pub fn gemv_workload(
    gpu: &Gpu,
    rows: usize,
    cols: usize,
    batch: usize,
    fused: bool,
) -> Result<Workload> {
    let n = rows * cols;
    let e = encoded(rows, cols)?;
    let checked = e.unit().validate("bench")?;
    let buffers = NativeBuffers::upload(gpu, &checked)?;
    let compressed = NativeBuffers::compressed_bytes(&checked);
    let x: Vec<f32> = (0..batch * cols)
        .map(|i| ((i % 61) as f32 - 30.0) / 30.0)
        .collect();
    let x_buffer = gpu.upload("x", &x)?;
    let y = gpu.storage_buffer("y", 4 * (batch * rows) as u64)?;
    let vectors = 4 * (batch * (rows + cols)) as u64;
    let flops = 2 * (n * batch) as u64;
    let params = NativeParams::new(&checked, batch);
    if fused {
        let kernel = NativeGemv::new(gpu)?;
        return Ok(Workload {
            bytes_moved: compressed + vectors,
            flops,
            record: Box::new(move |encoder| {
                kernel
                    .encode(
                        encoder,
                        params,
                        buffers.bindings(),
                        Binding::whole(&x_buffer),
                        Binding::whole(&y),
                    )
                    .map_err(Into::into)
            }),
        });
    }
    let decode = NativeDecode::new(gpu)?;
    let bf16 = Bf16Gemv::new(gpu)?;
    let bf16_params = Bf16Gemv::params(rows, cols, batch)?;
    let decoded = gpu.storage_buffer("decoded", 2 * n as u64)?;
    Ok(Workload {
        bytes_moved: compressed + 4 * n as u64 + vectors,
        flops,
        record: Box::new(move |encoder| {
            decode.encode(
                encoder,
                params,
                buffers.bindings(),
                Binding::whole(&decoded),
            )?;
            bf16.encode(
                encoder,
                bf16_params,
                Binding::whole(&decoded),
                Binding::whole(&x_buffer),
                Binding::whole(&y),
            )
            .map_err(Into::into)
        }),
    })
}

pub fn benches(_gpu: &Gpu) -> Vec<Bench> {
    // The DF11 benches' 4096 × 4096 projection: 32 MiB of BF16.
    let (rows, cols) = (4096usize, 4096usize);
    let decode = Bench {
        kernel: "dfloat11-native",
        shape: format!("native decode {rows}×{cols} → bf16, one pass"),
        prepare: Box::new(move |gpu| decode_workload(gpu, rows, cols)),
    };
    let gemvs = [1usize, 8].into_iter().flat_map(move |batch| {
        [
            (true, "fused native gemv"),
            (false, "native decode + bf16 gemv"),
        ]
        .map(|(fused, label)| Bench {
            kernel: "dfloat11-gemv",
            shape: format!("{label} {rows}×{cols}, batch {batch}"),
            prepare: Box::new(move |gpu| gemv_workload(gpu, rows, cols, batch, fused)),
        })
    });
    std::iter::once(decode).chain(gemvs).collect()
}
