//! Conformance of the quant family: GPU dequantization equals the CPU reference exactly (NaN
//! compared as "any NaN": an f16 scale of inf or NaN is legal bytes, and the NaN it yields has no
//! defined payload).

use half::f16;
use squeeze::Gpu;
use squeeze::quant::{Dequantize, Format, reference};

use crate::core::GRID_ITEMS;
use crate::rng::SplitMix64;
use crate::{Case, Failure, expect_equal};

pub fn cases() -> Vec<Case> {
    let mut all = Vec::new();
    for format in Format::ALL {
        let kernel = match format {
            Format::Q8_0 => "dequant/q8_0",
            Format::Q4_0 => "dequant/q4_0",
            Format::Q4_1 => "dequant/q4_1",
        };
        all.extend([
            Case::portable(kernel, "one block", move |g| quantized(g, format, 1, 32)),
            Case::portable(kernel, "odd rows, several blocks", move |g| {
                quantized(g, format, 7, 96)
            }),
            Case::portable(kernel, "grid-stride, random bytes", move |g| {
                random_bytes(g, format, 40, GRID_ITEMS / 32)
            }),
            Case::portable(kernel, "edge scales and codes", move |g| {
                edge_scales(g, format)
            }),
        ]);
    }
    all
}

/// f32 bits with every NaN made one NaN.
fn canonical(values: &[f32]) -> Vec<u32> {
    values
        .iter()
        .map(|v| if v.is_nan() { 0x7fc0_0000 } else { v.to_bits() })
        .collect()
}

fn check(gpu: &Gpu, format: Format, bytes: &[u8], cols: usize) -> Result<(), Failure> {
    let got = Dequantize::new(gpu, format)?.run(bytes, cols)?;
    let want = reference::dequantize(format, bytes, cols)?;
    expect_equal("y", &canonical(&got), &canonical(&want))
}

fn quantized(gpu: &Gpu, format: Format, rows: usize, cols: usize) -> Result<(), Failure> {
    let mut rng = SplitMix64::new((rows * cols) as u64);
    let weights: Vec<f32> = (0..rows * cols)
        .map(|_| (rng.next_u32() as f32 / u32::MAX as f32 - 0.5) * 0.2)
        .collect();
    let bytes = reference::quantize(format, &weights)?;
    check(gpu, format, &bytes, cols)
}

fn random_bytes(gpu: &Gpu, format: Format, rows: usize, cols: usize) -> Result<(), Failure> {
    let mut rng = SplitMix64::new(99);
    let len = rows * format.row_bytes(cols)?;
    let bytes: Vec<u8> = (0..len).map(|_| rng.next_u32() as u8).collect();
    check(gpu, format, &bytes, cols)
}

/// One block per scale in ±0, the smallest subnormal, 1, the largest finite, ±inf and NaN, each
/// with codes at both extremes and in between.
fn edge_scales(gpu: &Gpu, format: Format) -> Result<(), Failure> {
    let scales = [
        0x0000u16, 0x8000, 0x0001, 0x3c00, 0x7bff, 0xfbff, 0x7c00, 0xfc00, 0x7e01,
    ];
    let mut bytes = Vec::new();
    for (k, &d) in scales.iter().enumerate() {
        bytes.extend(d.to_le_bytes());
        if format == Format::Q4_1 {
            bytes.extend(scales[(k + 3) % scales.len()].to_le_bytes());
        }
        let payload = format.block_bytes() - bytes.len() % format.block_bytes();
        bytes.extend((0..payload).map(|j| match j % 4 {
            0 => 0x00,
            1 => 0xff,
            2 => 0x80,
            _ => 0x7f,
        }));
    }
    debug_assert_eq!(f16::from_bits(0x7bff).to_f32(), 65504.0);
    check(gpu, format, &bytes, 32)
}
