//! Conformance of the core kernels: copy (the bandwidth reference), widen (f16/bf16 -> f32) and
//! the shared bit-field helpers, each against its CPU definition, exactly.

use squeeze::core::copy::{Copy, WORD_BYTES};
use squeeze::core::dispatch::MAX_GRID_WORKGROUPS;
use squeeze::core::reference::{bf16_bits_to_f32_bits, f16_bits_to_f32_bits};
use squeeze::core::widen::{Half, WORKGROUP_SIZE, Widen};
use squeeze::{Binding, Gpu};

use crate::probes::{BITS_PROBE, BitsProbeParams, HALVES_PROBE};
use crate::rng::SplitMix64;
use crate::{Case, Failure, expect_equal};

/// Elements past which the grid-stride loops of copy and widen take a second step.
pub(crate) const GRID_ITEMS: usize = (MAX_GRID_WORKGROUPS * WORKGROUP_SIZE) as usize;

pub fn cases() -> Vec<Case> {
    vec![
        Case::portable("copy", "one 16-byte word", |gpu| copy_words(gpu, 1)),
        Case::portable("copy", "odd word count", |gpu| copy_words(gpu, 4099)),
        Case::portable("copy", "grid-stride (more words than invocations)", |gpu| {
            copy_words(gpu, GRID_ITEMS + 333)
        }),
        Case::portable(
            "copy",
            "offset bindings leave the rest untouched",
            copy_offsets,
        ),
        Case::portable("widen", "f16: all 65536 bit patterns", |gpu| {
            widen_all(gpu, Half::F16)
        }),
        Case::portable("widen", "bf16: all 65536 bit patterns", |gpu| {
            widen_all(gpu, Half::Bf16)
        }),
        Case::portable("widen", "f16: sizes 1, 2, 3, 257", |gpu| {
            widen_sizes(gpu, Half::F16)
        }),
        Case::portable("widen", "bf16: grid-stride, odd length", |gpu| {
            widen_random(gpu, Half::Bf16, GRID_ITEMS * 2 + 3)
        }),
        Case::portable(
            "bits",
            "MSB-first windows at every offset and width",
            bits_windows,
        ),
        Case::portable(
            "halves",
            "f32 -> f16 rounding: specials, ties, subnormals, 2^20 random patterns",
            f16_rounding,
        ),
    ]
}

/// `f32_to_f16_bits` of halves.wgsl against `half::f16::from_f32`, bit for bit.
fn f16_rounding(gpu: &Gpu) -> Result<(), Failure> {
    let mut inputs: Vec<u32> = [
        0.0f32,
        -0.0,
        1.0,
        -1.0,
        65504.0,
        65519.99,
        65520.0,
        -65520.0,
        f32::MAX,
        f32::MIN_POSITIVE,
        1.0 + 2f32.powi(-11),
        1.0 + 3.0 * 2f32.powi(-11),
        2f32.powi(-24),
        2f32.powi(-25),
        3.0 * 2f32.powi(-25),
        2f32.powi(-14) - 2f32.powi(-25),
        f32::INFINITY,
        f32::NEG_INFINITY,
    ]
    .iter()
    .map(|v| v.to_bits())
    .collect();
    inputs.extend([
        0x7fc0_0000,
        0xffc0_0001,
        0x7f80_0001,
        0x7fbf_ffff,
        0x0000_0001,
        0x807f_ffff,
    ]);
    // Every f16 boundary: each f16 value's f32 bits and the ties and near-ties around it.
    for h in 0..=u16::MAX {
        let bits = half::f16::from_bits(h).to_f32().to_bits();
        inputs.extend([bits, bits + 0x0fff, bits + 0x1000, bits + 0x1001]);
    }
    inputs.extend(SplitMix64::new(17).words(1 << 20));
    let pipeline = gpu.pipeline(&HALVES_PROBE, "probe_f16_round", &[])?;
    let input = gpu.upload("inputs", &inputs)?;
    let output = gpu.storage_buffer("outputs", inputs.len() as u64 * 4)?;
    let mut encoder = gpu.encoder("halves probe");
    gpu.dispatch_grid_stride(
        &mut encoder,
        "halves probe",
        &pipeline,
        &[Binding::whole(&input), Binding::whole(&output)],
        inputs.len() as u32,
        64,
    )?;
    gpu.submit_and_wait(encoder)?;
    let got: Vec<u32> = gpu.read_back("outputs", &output, 0, inputs.len())?;
    let want: Vec<u32> = inputs
        .iter()
        .map(|&b| u32::from(half::f16::from_f32(f32::from_bits(b)).to_bits()))
        .collect();
    expect_equal("f16 bits", &got, &want)
}

fn copy_words(gpu: &Gpu, words: usize) -> Result<(), Failure> {
    let src = SplitMix64::new(words as u64).words(words * 4);
    let got = Copy::new(gpu)?.run(&src)?;
    expect_equal("dst", &got, &src)
}

/// Copies a sub-range of `src` into a sub-range of `dst` and checks the rest of `dst` is zero:
/// a kernel that ignores binding offsets or writes past its binding fails.
fn copy_offsets(gpu: &Gpu) -> Result<(), Failure> {
    let align = u64::from(gpu.limits().min_storage_buffer_offset_alignment);
    let words = 37u64;
    let bytes = words * WORD_BYTES;
    let total = (align * 2 + bytes).div_ceil(4) as usize;
    let src_data = SplitMix64::new(7).words(total);
    let src = gpu.upload("src", &src_data)?;
    let dst = gpu.storage_buffer("dst", total as u64 * 4)?;
    let copy = Copy::new(gpu)?;
    let mut encoder = gpu.encoder("copy offsets");
    copy.encode(
        &mut encoder,
        Binding::new(&src, align, bytes),
        Binding::new(&dst, 2 * align, bytes),
    )?;
    gpu.submit_and_wait(encoder)?;
    let got: Vec<u32> = gpu.read_back("dst", &dst, 0, total)?;
    let mut want = vec![0u32; total];
    let (s, d, n) = (
        (align / 4) as usize,
        (2 * align / 4) as usize,
        (bytes / 4) as usize,
    );
    want[d..d + n].copy_from_slice(&src_data[s..s + n]);
    expect_equal("dst", &got, &want)
}

fn reference(format: Half) -> fn(u16) -> u32 {
    match format {
        Half::F16 => f16_bits_to_f32_bits,
        Half::Bf16 => bf16_bits_to_f32_bits,
    }
}

fn widen_check(gpu: &Gpu, format: Half, src: &[u16]) -> Result<(), Failure> {
    let got: Vec<u32> = Widen::new(gpu, format)?
        .run(src)?
        .into_iter()
        .map(f32::to_bits)
        .collect();
    let want: Vec<u32> = src.iter().map(|&h| reference(format)(h)).collect();
    expect_equal("f32 bits", &got, &want)
}

/// Every pattern: ±0, subnormals, ±inf, signalling and quiet NaNs with payloads.
fn widen_all(gpu: &Gpu, format: Half) -> Result<(), Failure> {
    let src: Vec<u16> = (0..=u16::MAX).collect();
    widen_check(gpu, format, &src)
}

fn widen_sizes(gpu: &Gpu, format: Half) -> Result<(), Failure> {
    for n in [1usize, 2, 3, 257] {
        let src: Vec<u16> = SplitMix64::new(n as u64)
            .words(n)
            .into_iter()
            .map(|w| w as u16)
            .collect();
        widen_check(gpu, format, &src)?;
    }
    Ok(())
}

fn widen_random(gpu: &Gpu, format: Half, n: usize) -> Result<(), Failure> {
    let src: Vec<u16> = SplitMix64::new(11)
        .words(n)
        .into_iter()
        .map(|w| w as u16)
        .collect();
    widen_check(gpu, format, &src)
}

/// `count` bits at bit `offset` of an MSB-first byte stream, with zeros past its end.
fn read_bits_msb(stream: &[u8], offset: u32, count: u32) -> u32 {
    (0..count).fold(0u32, |acc, k| {
        let bit = offset + k;
        let byte = stream.get((bit / 8) as usize).copied().unwrap_or(0);
        (acc << 1) | u32::from((byte >> (7 - bit % 8)) & 1)
    })
}

fn bits_windows(gpu: &Gpu) -> Result<(), Failure> {
    let stream_bytes = 23usize; // not a multiple of 4: the last word is partial
    let words = SplitMix64::new(3).words(stream_bytes.div_ceil(4));
    let bytes: Vec<u8> = bytemuck::cast_slice::<u32, u8>(&words)[..stream_bytes].to_vec();
    let mut queries = Vec::new();
    for offset in 0..(stream_bytes as u32 * 8) {
        for count in 1..=32u32 {
            queries.push([offset, count]);
        }
    }
    let pipeline = gpu.pipeline(&BITS_PROBE, "probe_bits", &[])?;
    let stream = gpu.upload("stream", &bytes)?;
    let query_buf = gpu.upload("queries", bytemuck::cast_slice::<[u32; 2], u32>(&queries))?;
    let fields = gpu.storage_buffer("fields", queries.len() as u64 * 4)?;
    let byte_out = gpu.storage_buffer("bytes", stream_bytes as u64 * 4)?;
    let params = gpu.uniform(
        "bits probe params",
        &BitsProbeParams {
            queries: queries.len() as u32,
            stream_bytes: stream_bytes as u32,
            _pad: [0; 2],
        },
    );
    let bind_group = gpu.bind_group(
        &pipeline,
        &params,
        &[
            Binding::whole(&stream),
            Binding::whole(&query_buf),
            Binding::whole(&fields),
            Binding::whole(&byte_out),
        ],
    )?;
    let mut encoder = gpu.encoder("bits probe");
    {
        let mut pass = encoder.begin_compute_pass(&Default::default());
        pass.set_pipeline(&pipeline);
        pass.set_bind_group(0, &bind_group, &[]);
        pass.dispatch_workgroups((queries.len() as u32).div_ceil(64), 1, 1);
    }
    gpu.submit_and_wait(encoder)?;
    // The uploaded stream is padded with zero bytes to whole words; the probe sees those zeros.
    let got: Vec<u32> = gpu.read_back("fields", &fields, 0, queries.len())?;
    let want: Vec<u32> = queries
        .iter()
        .map(|&[offset, count]| read_bits_msb(&bytes, offset, count))
        .collect();
    expect_equal("window_bits", &got, &want)?;
    let got: Vec<u32> = gpu.read_back("bytes", &byte_out, 0, stream_bytes)?;
    let want: Vec<u32> = bytes.iter().map(|&b| u32::from(b)).collect();
    expect_equal("stream_byte", &got, &want)
}
