//! Conformance of the native entropy format's kernels: GPU decode equals the original BF16 and
//! the CPU reference bit for bit (BF16 → native → BF16), a DF11 unit converted to native decodes
//! on the GPU to what the DF11 GPU decoder gives (DF11 → native → DF11-decoded), and the fused
//! native GEMV matches the CPU reference (native CPU decode, then an f64 GEMV) within
//! 1e-5 · Σ_c |W[r, c] · x[b, c]| and the plain BF16 GEMV of the same weights bit for bit (they
//! add in one order, so a native model's logits equal its BF16 model's). Shapes: one element, odd column counts (chunks starting at
//! odd weights), rows of one chunk, of many chunks and of more chunks than a workgroup has
//! invocations; every BF16 pattern, one repeated exponent, ±0, subnormals, ±inf, NaN; batch 1,
//! 3, 5 and 8. Corrupt streams handed straight to the kernels must terminate.

use squeeze::Gpu;
use squeeze::dfloat11::bf16_gemv::Bf16Gemv;
use squeeze::dfloat11::native::decode::NativeDecode;
use squeeze::dfloat11::native::gemv::NativeGemv;
use squeeze::dfloat11::native::{self, CheckedNative, NativeUnit};
use squeeze::dfloat11::{Decode, Layout, encode, reference};

use crate::dfloat11::{SPECIALS, failure, le_bytes, weights};
use crate::dfloat11_gemv::{activations, specials};
use crate::quant::expect_close;
use crate::rng::SplitMix64;
use crate::{Case, Failure, Path, expect_equal};

/// (rows, cols) of the decode cases.
const DECODE_SHAPES: [(usize, usize); 8] = [
    (1, 2),
    (3, 5),
    (5, 129),
    (7, 128),
    (33, 257),
    (130, 31),
    (2, 4097),
    (1, 100_003),
];

/// (rows, cols, batch) of the GEMV cases: one chunk per row, partial chunks, rows of 3..=32
/// chunks (several rows per workgroup), and one row of 782 chunks (more than a workgroup).
const GEMV_SHAPES: [(usize, usize, usize); 7] = [
    (37, 2701, 1),
    (37, 2701, 3),
    (37, 2701, 8),
    (1, 100_003, 5),
    (4099, 17, 8),
    (3001, 1, 3),
    (300, 4096, 1),
];

pub fn cases() -> Vec<Case> {
    let p = Path::Portable;
    vec![
        Case::new("dfloat11-native", p, "one element", |g| {
            round_trip(g, &[0x3c23], 1, 1)
        }),
        Case::new(
            "dfloat11-native",
            p,
            "odd shapes, rows of 1..782 chunks",
            |g| {
                for (i, &(rows, cols)) in DECODE_SHAPES.iter().enumerate() {
                    round_trip(g, &weights(rows * cols, 40 + i as u64), rows, cols)?;
                }
                Ok(())
            },
        ),
        Case::new(
            "dfloat11-native",
            p,
            "every BF16 pattern, one exponent, specials",
            |g| {
                let all: Vec<u16> = (0..=u16::MAX).collect();
                round_trip(g, &all, 256, 256)?;
                let mut rng = SplitMix64::new(3);
                let one: Vec<u16> = (0..7 * 1001)
                    .map(|_| 0x3f00 | (rng.next_u32() as u16 & 0x807f))
                    .collect();
                round_trip(g, &one, 7, 1001)?;
                round_trip(g, &SPECIALS, 2, 7)?;
                round_trip(g, &specials(64, 513), 64, 513)
            },
        ),
        Case::new(
            "dfloat11-native",
            p,
            "DF11 → native decodes as DF11 does on the GPU",
            |g| {
                let (rows, cols) = (61, 1001);
                let w = weights(rows * cols, 77);
                let df11 = encode(&[&le_bytes(&w)], Layout::DF11, 2).map_err(failure)?;
                let df11 = df11
                    .unit()
                    .validate("df11", Layout::DF11)
                    .map_err(failure)?;
                let want = Decode::new(g, Layout::DF11)
                    .and_then(|d| d.run(&df11))
                    .map_err(failure)?;
                let converted = native::from_df11(&df11, "df11", rows, cols, 2).map_err(failure)?;
                let checked = converted.unit().validate("native").map_err(failure)?;
                let got = NativeDecode::new(g)
                    .and_then(|d| d.run(&checked))
                    .map_err(failure)?;
                expect_equal("native GPU vs DF11 GPU", &got, &want)?;
                expect_equal("native GPU vs original", &got, &w)
            },
        ),
        Case::new(
            "dfloat11-native",
            p,
            "corrupt streams and offsets terminate",
            |g| {
                let (rows, cols) = (20, 700);
                let e = native::encode(&weights(rows * cols, 9), rows, cols, 2).map_err(failure)?;
                let good = e.unit().validate("good").map_err(failure)?;
                let mut rng = SplitMix64::new(11);
                let noise: Vec<u8> = (0..e.exponents.len() * 4)
                    .map(|_| rng.next_u32() as u8)
                    .collect();
                let offsets: Vec<u8> = (0..e.chunk_offsets.len() * 2)
                    .map(|_| rng.next_u32() as u8)
                    .collect();
                let tiles = vec![0xffu8; e.tile_offsets.len() * 4];
                let decode = NativeDecode::new(g).map_err(failure)?;
                let gemv = NativeGemv::new(g).map_err(failure)?;
                let x = activations(2, cols, 1);
                for unit in [
                    NativeUnit {
                        exponents: &noise,
                        ..good.unit
                    },
                    NativeUnit {
                        chunk_offsets: &offsets,
                        tile_offsets: &tiles,
                        ..good.unit
                    },
                ] {
                    let bad = CheckedNative {
                        unit,
                        ..good.clone()
                    };
                    let got = decode.run(&bad).map_err(failure)?;
                    if got.len() != rows * cols {
                        return Err(Failure::Mismatch(format!("{} values", got.len())));
                    }
                    gemv.run(&bad, &x, 2).map_err(failure)?;
                }
                Ok(())
            },
        ),
        Case::new(
            "dfloat11-native-gemv",
            p,
            "one element, batch 1 and 8",
            |g| {
                for batch in [1, 8] {
                    fused(g, &[0x3c23], 1, 1, batch)?;
                }
                Ok(())
            },
        ),
        Case::new(
            "dfloat11-native-gemv",
            p,
            "odd shapes, batch 1, 3, 5, 8",
            |g| {
                for (i, &(rows, cols, batch)) in GEMV_SHAPES.iter().enumerate() {
                    fused(g, &weights(rows * cols, 60 + i as u64), rows, cols, batch)?;
                }
                Ok(())
            },
        ),
        Case::new(
            "dfloat11-native-gemv",
            p,
            "±0, subnormals, largest finite, inf and NaN rows",
            |g| fused(g, &specials(64, 513), 64, 513, 3),
        ),
    ]
}

fn round_trip(gpu: &Gpu, values: &[u16], rows: usize, cols: usize) -> Result<(), Failure> {
    let e = native::encode(values, rows, cols, 2).map_err(failure)?;
    let checked = e.unit().validate("case").map_err(failure)?;
    let cpu = native::reference::decode_checked(&checked, "case").map_err(failure)?;
    expect_equal("CPU reference vs original", &cpu, values)?;
    let got = NativeDecode::new(gpu)
        .and_then(|d| d.run(&checked))
        .map_err(failure)?;
    expect_equal("GPU vs CPU reference", &got, &cpu)
}

fn fused(gpu: &Gpu, values: &[u16], rows: usize, cols: usize, batch: usize) -> Result<(), Failure> {
    let e = native::encode(values, rows, cols, 2).map_err(failure)?;
    let checked = e.unit().validate("case").map_err(failure)?;
    let decoded = native::reference::decode_checked(&checked, "case").map_err(failure)?;
    let x = activations(batch, cols, (rows * cols) as u64);
    let (want, scale) = reference::gemv(&decoded, rows, cols, &x, batch);
    let got = NativeGemv::new(gpu)
        .and_then(|k| k.run(&checked, &x, batch))
        .map_err(failure)?;
    expect_close(
        &format!("fused native GEMV {rows}×{cols} batch {batch} vs CPU"),
        &got,
        &want,
        &scale,
    )?;
    let plain = Bf16Gemv::new(gpu)
        .and_then(|k| k.run(&decoded, rows, cols, &x, batch))
        .map_err(failure)?;
    let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
    expect_equal(
        &format!("fused native vs BF16 GEMV bits, {rows}×{cols} batch {batch}"),
        &bits(&got),
        &bits(&plain),
    )
}
