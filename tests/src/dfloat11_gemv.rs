//! Conformance of the fused DFloat11 GEMV and its plain BF16 baseline against the CPU reference
//! (DF11 CPU decode, then an f64 GEMV): |gpu − f64| ≤ 1e-5 · Σ_c |W[r, c] · x[b, c]| (the quant
//! GEMV's tolerance: f32 sums in another order), non-finite results of the same kind; and the
//! fused DF11 GEMV bit for bit equal to the BF16 and fused native GEMVs of the same weights. Shapes
//! whose rows cross thread and block boundaries, one row over many blocks, one-column rows
//! (whole rows inside one thread), one element, odd sizes, batch 1, 3, 5 and 8, ±0,
//! subnormals, the largest finite and ±inf/NaN rows, 256 and 512 threads per block, on the
//! portable and the subgroup scan. The plain GEMV's F16 and F32 weights against an f64 GEMV of
//! the widened weights, same tolerance, same edge cases in each format.

use squeeze::Gpu;
use squeeze::dfloat11::bf16_gemv::{Bf16Gemv, WeightFormat};
use squeeze::dfloat11::decode::Scan;
use squeeze::dfloat11::{Gemv, Layout, encode, reference};

use crate::dfloat11::{failure, le_bytes, weights};
use crate::quant::expect_close;
use crate::rng::SplitMix64;
use crate::{Case, Failure, Path, expect_equal};

/// (rows, cols, batch) of the realistic-weights cases: rows ending mid-thread and mid-block,
/// and a single row spanning blocks.
const SHAPES: [(usize, usize, usize); 6] = [
    (37, 2701, 1),
    (37, 2701, 3),
    (37, 2701, 8),
    (1, 100_003, 5),
    (4099, 17, 8),
    (30_001, 1, 3),
];

pub fn cases() -> Vec<Case> {
    let mut all = Vec::new();
    for path in [Path::Portable, Path::Subgroup] {
        all.extend([
            Case::new(
                "dfloat11-gemv",
                path,
                "one element, batch 1 and 8",
                move |g| {
                    for batch in [1, 8] {
                        fused(g, path, &[0x3c23], 1, 1, batch, Layout::DF11)?;
                    }
                    Ok(())
                },
            ),
            Case::new(
                "dfloat11-gemv",
                path,
                "odd shapes across blocks, batch 1, 3, 5, 8",
                move |g| {
                    for (i, &(rows, cols, batch)) in SHAPES.iter().enumerate() {
                        let w = weights(rows * cols, 20 + i as u64);
                        fused(g, path, &w, rows, cols, batch, Layout::DF11)?;
                    }
                    Ok(())
                },
            ),
            Case::new(
                "dfloat11-gemv",
                path,
                "±0, subnormals, largest finite, inf and NaN rows",
                move |g| {
                    let (rows, cols) = (64, 513);
                    fused(g, path, &specials(rows, cols), rows, cols, 3, Layout::DF11)
                },
            ),
            Case::new("dfloat11-gemv", path, "256 threads per block", move |g| {
                let layout = Layout {
                    threads_per_block: 256,
                    bytes_per_thread: 8,
                };
                fused(g, path, &weights(129 * 1001, 7), 129, 1001, 5, layout)
            }),
        ]);
    }
    all.push(Case::new(
        "dfloat11-gemv",
        Path::Portable,
        "f16 activations: the f32 run's sums bit for bit (fused DF11, fused native, BF16)",
        |g| {
            for (rows, cols, batch) in [(1, 1, 1), (37, 2701, 3), (65, 130, 8)] {
                f16_activations(g, rows, cols, batch)?;
            }
            Ok(())
        },
    ));
    all.push(Case::new(
        "dfloat11-gemv",
        Path::Portable,
        "BF16 baseline GEMV: odd shapes and specials",
        |g| {
            let kernel = Bf16Gemv::new(g).map_err(failure)?;
            for (rows, cols, batch) in [(1, 1, 1), (37, 2701, 8), (300, 65, 3)] {
                let w = weights(rows * cols, 9);
                plain(&kernel, &w, rows, cols, batch)?;
            }
            plain(&kernel, &specials(64, 513), 64, 513, 8)
        },
    ));
    all.push(Case::new(
        "dfloat11-gemv",
        Path::Portable,
        "F16 and F32 weights: odd shapes, batch 1, 3, 8, specials",
        |g| {
            let f16 = Bf16Gemv::with_weights(g, WeightFormat::F16).map_err(failure)?;
            let f32 = Bf16Gemv::with_weights(g, WeightFormat::F32).map_err(failure)?;
            for (rows, cols, batch) in [(1, 1, 1), (37, 2701, 8), (300, 65, 3), (4099, 17, 1)] {
                let w = widened(&weights(rows * cols, 11));
                wide(&f32, Wide::F32(&w), rows, cols, batch)?;
                let halves: Vec<u16> = w
                    .iter()
                    .map(|&v| half::f16::from_f32(v).to_bits())
                    .collect();
                wide(&f16, Wide::F16(&halves), rows, cols, batch)?;
            }
            let (rows, cols) = (64, 513);
            wide(&f16, Wide::F16(&f16_specials(rows, cols)), rows, cols, 8)?;
            wide(&f32, Wide::F32(&f32_specials(rows, cols)), rows, cols, 3)
        },
    ));
    all
}

/// BF16 bits widened to f32.
fn widened(bf16: &[u16]) -> Vec<f32> {
    bf16.iter()
        .map(|&h| f32::from_bits(u32::from(h) << 16))
        .collect()
}

/// The realistic weights as f16 with [`specials`]' pattern in f16.
fn f16_specials(rows: usize, cols: usize) -> Vec<u16> {
    let w = widened(&weights(rows * cols, 33))
        .into_iter()
        .map(|v| half::f16::from_f32(v).to_bits())
        .collect();
    with_specials(w, rows, cols, &F16_CODES)
}

/// [`specials`] widened to f32, with f32-only values added: the smallest and largest
/// subnormals, the largest finite f32 and a NaN with a payload.
fn f32_specials(rows: usize, cols: usize) -> Vec<f32> {
    let mut w = widened(&specials(rows, cols));
    for r in 1..rows {
        w[r * cols + (r * 3 + 50) % cols] = f32::from_bits(0x0000_0001);
        w[r * cols + (r * 3 + 51) % cols] = f32::from_bits(0x807f_ffff);
    }
    w[7 * cols + 8] = f32::MAX;
    w[21 * cols + 9] = f32::from_bits(0x7fc0_1234);
    w
}

/// F16 bits or f32 weights for the plain GEMV.
enum Wide<'a> {
    F16(&'a [u16]),
    F32(&'a [f32]),
}

/// The plain GEMV of F16 or F32 weights against an f64 GEMV of the widened weights.
fn wide(
    kernel: &Bf16Gemv,
    values: Wide<'_>,
    rows: usize,
    cols: usize,
    batch: usize,
) -> Result<(), Failure> {
    // plain()'s activations: with them the largest-finite rows' f32 sums do not overflow.
    let x = activations(batch, cols, 5);
    let (w, got, format) = match values {
        Wide::F16(h) => (
            h.iter()
                .map(|&b| half::f16::from_bits(b).to_f32())
                .collect(),
            kernel.run(h, rows, cols, &x, batch),
            "F16",
        ),
        Wide::F32(v) => (v.to_vec(), kernel.run_f32(v, rows, cols, &x, batch), "F32"),
    };
    let got = got.map_err(failure)?;
    let mut want = vec![0.0; batch * rows];
    let mut scale = vec![0.0; batch * rows];
    for b in 0..batch {
        for r in 0..rows {
            let (mut sum, mut abs) = (0.0f64, 0.0f64);
            for (&w, &a) in w[r * cols..(r + 1) * cols].iter().zip(&x[b * cols..]) {
                let p = f64::from(w) * f64::from(a);
                sum += p;
                abs += p.abs();
            }
            want[b * rows + r] = sum;
            scale[b * rows + r] = abs;
        }
    }
    expect_close(
        &format!("{format} GEMV {rows}×{cols} batch {batch} vs CPU"),
        &got,
        &want,
        &scale,
    )
}

/// Realistic BF16 weights with [`with_specials`]' pattern.
pub(crate) fn specials(rows: usize, cols: usize) -> Vec<u16> {
    with_specials(weights(rows * cols, 31), rows, cols, &BF16_CODES)
}

/// The special values of a 16-bit float format, as bits (the negatives are these with the sign
/// bit set).
struct SpecialCodes {
    /// Sprinkled into every row but 0: the smallest subnormal, the largest negative subnormal, a
    /// mid subnormal, −0 and +0.
    sprinkled: [u16; 5],
    /// The largest finite value.
    max: u16,
    inf: u16,
    /// A quiet NaN.
    nan: u16,
}

const BF16_CODES: SpecialCodes = SpecialCodes {
    sprinkled: [0x0001, 0x807f, 0x0040, 0x8000, 0x0000],
    max: 0x7f7f,
    inf: 0x7f80,
    nan: 0x7fc0,
};

const F16_CODES: SpecialCodes = SpecialCodes {
    sprinkled: [0x0001, 0x83ff, 0x0200, 0x8000, 0x0000],
    max: 0x7bff,
    inf: 0x7c00,
    nan: 0x7e00,
};

/// `w` (`[rows, cols]`, rows ≥ 20 and cols ≥ 401) with a special pattern in `codes`' format:
/// row 0 all ±0; ±0 and subnormals sprinkled into the other rows; a row with ±the largest
/// finite value, rows with +inf, −inf, +inf and −inf (NaN), and NaN rows.
fn with_specials(mut w: Vec<u16>, rows: usize, cols: usize, codes: &SpecialCodes) -> Vec<u16> {
    const SIGN: u16 = 0x8000;
    let mut set = |r: usize, c: usize, v: u16| w[r * cols + c] = v;
    for c in 0..cols {
        set(0, c, if c % 2 == 0 { 0 } else { SIGN });
    }
    for (k, v) in codes.sprinkled.into_iter().enumerate() {
        for r in 1..rows {
            set(r, (r * 7 + k * 101) % cols, v);
        }
    }
    set(5, 3, codes.max);
    set(5, 400, codes.max | SIGN);
    set(9, 17, codes.inf);
    set(11, cols - 1, codes.inf | SIGN);
    set(13, 0, codes.inf);
    set(13, 200, codes.inf | SIGN);
    set(17, 100, codes.nan);
    set(19, 300, 0xffff);
    w
}

/// Activations in [−1, 1) with a few exact zeros (inf · 0 = NaN must propagate).
pub(crate) fn activations(batch: usize, cols: usize, seed: u64) -> Vec<f32> {
    let mut rng = SplitMix64::new(seed);
    (0..batch * cols)
        .map(|i| {
            if i % 97 == 5 {
                0.0
            } else {
                (f64::from(rng.next_u32()) / f64::from(u32::MAX) * 2.0 - 1.0) as f32
            }
        })
        .collect()
}

fn fused(
    gpu: &Gpu,
    path: Path,
    values: &[u16],
    rows: usize,
    cols: usize,
    batch: usize,
    layout: Layout,
) -> Result<(), Failure> {
    let scan = match path {
        Path::Subgroup => Scan::Subgroup,
        _ => Scan::Workgroup,
    };
    let encoded = encode(&[&le_bytes(values)], layout, 2).map_err(failure)?;
    let checked = encoded.unit().validate("case", layout).map_err(failure)?;
    let decoded = reference::decode_checked(&checked, "case").map_err(failure)?;
    let x = activations(batch, cols, (rows * cols) as u64);
    let (want, scale) = reference::gemv(&decoded, rows, cols, &x, batch);
    let got = Gemv::with_scan(gpu, layout, scan)
        .and_then(|k| k.run(&checked, rows, cols, &x, batch))
        .map_err(failure)?;
    expect_close(
        &format!("fused GEMV {rows}×{cols} batch {batch} vs CPU"),
        &got,
        &want,
        &scale,
    )?;
    same_bits_as_bf16_and_native(gpu, &got, &decoded, (rows, cols), &x, batch)
}

/// `got` (a fused DF11 GEMV's y) bit for bit against the BF16 GEMV and the fused native GEMV of
/// the same weights and activations: the three add in one order (`gemv_rows.wgsl`), so a DF11
/// or native model's logits equal its BF16 model's.
fn same_bits_as_bf16_and_native(
    gpu: &Gpu,
    got: &[f32],
    values: &[u16],
    (rows, cols): (usize, usize),
    x: &[f32],
    batch: usize,
) -> Result<(), Failure> {
    use squeeze::dfloat11::native::{self, gemv::NativeGemv};
    let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
    let plain = Bf16Gemv::new(gpu)
        .and_then(|k| k.run(values, rows, cols, x, batch))
        .map_err(failure)?;
    let what = format!("{rows}×{cols} batch {batch}");
    expect_equal(
        &format!("fused DF11 vs BF16 GEMV bits, {what}"),
        &bits(got),
        &bits(&plain),
    )?;
    let unit = native::encode(values, rows, cols, 2).map_err(failure)?;
    let checked = unit.unit().validate("case").map_err(failure)?;
    let fused = NativeGemv::new(gpu)
        .and_then(|k| k.run(&checked, x, batch))
        .map_err(failure)?;
    expect_equal(
        &format!("fused DF11 vs fused native GEMV bits, {what}"),
        &bits(got),
        &bits(&fused),
    )
}

fn plain(
    kernel: &Bf16Gemv,
    values: &[u16],
    rows: usize,
    cols: usize,
    batch: usize,
) -> Result<(), Failure> {
    let x = activations(batch, cols, 5);
    let (want, scale) = reference::gemv(values, rows, cols, &x, batch);
    let got = kernel.run(values, rows, cols, &x, batch).map_err(failure)?;
    expect_close(
        &format!("BF16 GEMV {rows}×{cols} batch {batch} vs CPU"),
        &got,
        &want,
        &scale,
    )
}

/// The three BF16-weight GEMVs (fused DF11, fused native, plain BF16) on one matrix with f16
/// activations and with the same activations widened to f32: each kernel's two results bit for
/// bit equal (f16 is widened exactly, then summed as the f32 path sums).
fn f16_activations(gpu: &Gpu, rows: usize, cols: usize, batch: usize) -> Result<(), Failure> {
    use half::f16;
    use squeeze::dfloat11::device::UnitBuffers;
    use squeeze::dfloat11::gemv::{Activations, GemvParams};
    use squeeze::dfloat11::native::device::{NativeBuffers, NativeParams};
    use squeeze::dfloat11::native::gemv::NativeGemv;
    use squeeze::{Binding, DType};

    let values = weights(rows * cols, 41);
    let halves: Vec<f16> = activations(batch, cols, 43)
        .into_iter()
        .map(f16::from_f32)
        .collect();
    let widened: Vec<f32> = halves.iter().map(|h| h.to_f32()).collect();
    let layout = Layout::DF11;
    let df11 = encode(&[&le_bytes(&values)], layout, 2).map_err(failure)?;
    let df11 = df11.unit().validate("case", layout).map_err(failure)?;
    let native = squeeze::dfloat11::native::encode(&values, rows, cols, 2).map_err(failure)?;
    let native = native.unit().validate("case").map_err(failure)?;

    let up = |data: &[u8]| gpu.upload("x", data).map_err(Failure::Kernel);
    let x32 = up(bytemuck::cast_slice(&widened))?;
    let x16 = up(bytemuck::cast_slice(&halves))?;
    let y_bytes = (4 * batch * rows) as u64;
    let ys: Vec<_> = (0..6)
        .map(|_| gpu.storage_buffer("y", y_bytes))
        .collect::<Result<_, _>>()
        .map_err(Failure::Kernel)?;
    let fused = Gemv::new(gpu, layout).map_err(failure)?;
    let params = GemvParams::new(&df11, rows, cols, batch).map_err(failure)?;
    let partials = gpu
        .storage_buffer("partials", params.partials_bytes().max(4))
        .map_err(Failure::Kernel)?;
    let df11_buffers = UnitBuffers::upload(gpu, &df11).map_err(failure)?;
    let native_kernel = NativeGemv::new(gpu).map_err(failure)?;
    let native_buffers = NativeBuffers::upload(gpu, &native).map_err(failure)?;
    let plain = Bf16Gemv::new(gpu).map_err(failure)?;
    let plain_params = Bf16Gemv::params(rows, cols, batch).map_err(failure)?;
    let bf16 = gpu
        .upload("w", bytemuck::cast_slice::<u16, u8>(&values))
        .map_err(Failure::Kernel)?;

    let mut encoder = gpu.encoder("f16 activations");
    for (i, (x, dtype)) in [(&x32, DType::F32), (&x16, DType::F16)]
        .into_iter()
        .enumerate()
    {
        let x = Activations {
            x: Binding::whole(x),
            dtype,
        };
        let y = |k: usize| Binding::whole(&ys[3 * i + k]);
        fused
            .encode(
                &mut encoder,
                params,
                df11_buffers.bindings(),
                x,
                y(0),
                Binding::whole(&partials),
            )
            .map_err(failure)?;
        native_kernel
            .encode(
                &mut encoder,
                NativeParams::new(&native, batch),
                native_buffers.bindings(),
                x,
                y(1),
            )
            .map_err(failure)?;
        plain
            .encode(&mut encoder, plain_params, Binding::whole(&bf16), x, y(2))
            .map_err(failure)?;
    }
    gpu.submit_and_wait(encoder).map_err(Failure::Kernel)?;
    let read = |b| -> Result<Vec<u32>, Failure> {
        gpu.read_back("y", b, 0, batch * rows)
            .map_err(Failure::Kernel)
    };
    for (k, name) in ["fused DF11", "fused native", "BF16"].iter().enumerate() {
        let want = read(&ys[k])?;
        expect_equal(
            &format!("{name}: f16 x vs f32 x"),
            &read(&ys[3 + k])?,
            &want,
        )?;
    }
    Ok(())
}
