//! Benchmarks of the DFloat11 family: GPU decode of one 4096 × 4096 BF16 matrix (32 MiB) of
//! realistic weights, counted as compressed bytes read plus BF16 bytes written; and the sample
//! data the encoder criterion bench uses.

use squeeze::dfloat11::decode::{DecodeParams, Scan};
use squeeze::dfloat11::{Decode, Layout, encode};
use squeeze::{Binding, Gpu, Result};

use crate::{Bench, Workload};

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
    let u = &checked.unit;
    let luts = gpu.upload("luts", u.luts)?;
    let codes = gpu.upload("encoded_exponent", u.encoded_exponent)?;
    let sm = gpu.upload("sign_mantissa", u.sign_mantissa)?;
    let positions = gpu.upload("output_positions", u.output_positions)?;
    let gaps = gpu.upload("gaps", u.gaps)?;
    let out = gpu.storage_buffer("out", 2 * checked.n as u64)?;
    let params = DecodeParams::new(
        checked.n as u32,
        checked.blocks as u32,
        checked.n_luts as u32,
    );
    let read = [
        u.luts,
        u.encoded_exponent,
        u.sign_mantissa,
        u.output_positions,
        u.gaps,
    ]
    .iter()
    .map(|t| t.len() as u64)
    .sum::<u64>();
    Ok(Workload {
        bytes_moved: read + 2 * checked.n as u64,
        flops: 0,
        record: Box::new(move |encoder| {
            kernel
                .encode(
                    encoder,
                    params,
                    Binding::whole(&luts),
                    Binding::whole(&codes),
                    Binding::whole(&sm),
                    Binding::whole(&positions),
                    Binding::whole(&gaps),
                    Binding::whole(&out),
                )
                .map_err(Into::into)
        }),
    })
}

pub fn benches(gpu: &Gpu) -> Vec<Bench> {
    // A 4096 × 4096 projection of a 7B-class model: 32 MiB of BF16 out, ~22 MiB of DF11 in.
    let (rows, cols) = (4096usize, 4096usize);
    let mut scans = vec![(Scan::Workgroup, "workgroup scan")];
    if gpu.has_subgroups() {
        scans.push((Scan::Subgroup, "subgroup scan"));
    }
    scans
        .into_iter()
        .map(|(scan, label)| Bench {
            kernel: "dfloat11",
            shape: format!("decode {rows}×{cols} → bf16, {label}"),
            prepare: Box::new(move |gpu| decode_workload(gpu, rows, cols, scan)),
        })
        .collect()
}
