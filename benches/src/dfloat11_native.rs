//! Benchmarks of the native entropy format on the DF11 benches' matrix (4096 × 4096 realistic
//! BF16 weights, [`crate::dfloat11::sample_weights`]): one-pass GPU decode, counted as
//! compressed bytes read plus BF16 bytes written; and the fused native GEMV at batch 1 and 8,
//! beside native decode followed by the BF16 GEMV (compare with the `dfloat11-gemv` rows of
//! the same shape: fused DF11, DF11 decode + BF16 GEMV, BF16 GEMV). Each row counts the bytes
//! it really moves, so compare times.

use squeeze::dfloat11::native::decode::NativeDecode;
use squeeze::dfloat11::native::device::{NativeBuffers, NativeParams};
use squeeze::dfloat11::native::gemv::NativeGemv;
use squeeze::dfloat11::native::{self, NativeEncoded};
use squeeze::{Binding, Gpu, Result};

use crate::dfloat11::{FAMILY, GemvVectors, decode_then_gemv, matrix, sample_weights};
use crate::{Bench, Scope, Sizes, Workload};

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
    let e = encoded(rows, cols)?;
    let checked = e.unit().validate("bench")?;
    let buffers = NativeBuffers::upload(gpu, &checked)?;
    let compressed = NativeBuffers::compressed_bytes(&checked);
    let params = NativeParams::new(&checked, batch);
    if fused {
        let kernel = NativeGemv::new(gpu)?;
        let v = GemvVectors::new(gpu, rows, cols, batch)?;
        return Ok(Workload {
            bytes_moved: compressed + v.bytes,
            flops: v.flops,
            record: Box::new(move |encoder| {
                kernel
                    .encode(
                        encoder,
                        params,
                        buffers.bindings(),
                        Binding::whole(&v.x),
                        Binding::whole(&v.y),
                    )
                    .map_err(Into::into)
            }),
        });
    }
    let decode = NativeDecode::new(gpu)?;
    decode_then_gemv(gpu, (rows, cols, batch), compressed, move |encoder, out| {
        Ok(decode.encode(encoder, params, buffers.bindings(), out)?)
    })
}

pub fn benches(_gpu: &Gpu, sizes: Sizes) -> Vec<Bench> {
    // The DF11 benches' matrix.
    let (rows, cols) = matrix(sizes);
    let decode = Bench {
        family: FAMILY,
        kernel: "dfloat11-native",
        shape: format!("native decode {rows}×{cols} → bf16, one pass"),
        scope: Scope::Default,
        prepare: Box::new(move |gpu| decode_workload(gpu, rows, cols)),
    };
    // The fused GEMV at batch 1 is the default run's.
    let gemvs = [1usize, 8].into_iter().flat_map(move |batch| {
        [
            (true, "fused native gemv"),
            (false, "native decode + bf16 gemv"),
        ]
        .map(|(fused, label)| Bench {
            family: FAMILY,
            kernel: "dfloat11-gemv",
            shape: format!("{label} {rows}×{cols}, batch {batch}"),
            scope: if fused && batch == 1 {
                Scope::Default
            } else {
                Scope::Full
            },
            prepare: Box::new(move |gpu| gemv_workload(gpu, rows, cols, batch, fused)),
        })
    });
    std::iter::once(decode).chain(gemvs).collect()
}
