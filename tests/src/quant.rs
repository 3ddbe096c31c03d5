//! Conformance of the quant family, GGUF formats and affine int4/int8 schemes: GPU
//! dequantization equals the CPU reference exactly (NaN compared as "any NaN": an f16 scale of
//! inf or NaN is legal bytes, and the NaN it yields has no defined payload); GEMV (both reduction
//! paths, batch 1 to 8) and GEMM (both paths: partial tiles, batch ≥ 9) equal the f64 reference within
//! `MATMUL_TOLERANCE`, with f32 and f16 activations.

use half::f16;
use squeeze::Gpu;
use squeeze::quant::{
    Activations, Affine, Dequantize, Format, Gemm, GemmPath, Gemv, HostWeights, Reduction, Scheme,
    affine, reference,
};

use crate::core::GRID_ITEMS;
use crate::rng::SplitMix64;
use crate::{Case, Failure, Path, expect_equal};

/// |gpu − f64| ≤ MATMUL_TOLERANCE · Σ|w·x| (+ 1e-30 for products in the f32 subnormal range,
/// which a GPU may flush): f32 accumulation over a few thousand terms in any order stays
/// well inside it.
const MATMUL_TOLERANCE: f64 = 1e-5;

/// The matmul kernel a case runs.
#[derive(Debug, Clone, Copy)]
enum Kernel {
    Gemv(Path),
    Gemm(Path),
}

/// The GEMM path a case's path names: subgroup broadcasts, or the portable tiles.
fn gemm_path(path: Path) -> GemmPath {
    match path {
        Path::Subgroup => GemmPath::Subgroup,
        _ => GemmPath::Tiled,
    }
}

impl Kernel {
    fn run(
        self,
        gpu: &Gpu,
        scheme: Scheme,
        w: HostWeights<'_>,
        cols: usize,
        x: Activations<'_>,
    ) -> Result<Vec<f32>, Failure> {
        Ok(match self {
            Kernel::Gemv(path) => {
                let reduction = match path {
                    Path::Subgroup => Reduction::Subgroup,
                    _ => Reduction::Workgroup,
                };
                Gemv::with_reduction(gpu, scheme, reduction)?.run(w, cols, x)?
            }
            Kernel::Gemm(path) => Gemm::with_path(gpu, scheme, gemm_path(path))?.run(w, cols, x)?,
        })
    }
}

pub fn cases() -> Vec<Case> {
    let mut all = Vec::new();
    for format in Format::ALL {
        let dequant = leak(format!("dequant/{format}"));
        let gemv = leak(format!("gemv/{format}"));
        let gemm = leak(format!("gemm/{format}"));
        let bw = format.block_weights();
        let scheme = Scheme::from(format);
        all.extend([
            Case::portable(dequant, "one block", move |g| {
                check_dequant(g, format, &sample_blocks(format, 1, bw), bw)
            }),
            Case::portable(dequant, "odd rows, several blocks", move |g| {
                check_dequant(g, format, &sample_blocks(format, 7, 3 * bw), 3 * bw)
            }),
            Case::portable(dequant, "grid-stride, random bytes", move |g| {
                let rows = GRID_ITEMS / 8 / bw + 3;
                check_dequant(g, format, &random_bytes(format, rows, bw), bw)
            }),
            Case::portable(dequant, "edge scales and codes", move |g| {
                check_dequant(g, format, &edge_blocks(format, false), bw)
            }),
        ]);
        for path in [Path::Portable, Path::Subgroup] {
            all.extend([
                Case::new(gemv, path, "one block, batch 1", move |g| {
                    check_matmul(g, Kernel::Gemv(path), format, 1, bw, &[1])
                }),
                Case::new(gemv, path, "odd rows, batch 1..8", move |g| {
                    check_matmul(
                        g,
                        Kernel::Gemv(path),
                        format,
                        7,
                        3 * bw,
                        &[1, 2, 3, 4, 5, 6, 7, 8],
                    )
                }),
                Case::new(gemv, path, "more rows than workgroups", move |g| {
                    check_matmul(g, Kernel::Gemv(path), format, 4099, bw, &[3])
                }),
                Case::new(gemv, path, "long rows, batch 8", move |g| {
                    check_matmul(
                        g,
                        Kernel::Gemv(path),
                        format,
                        5,
                        4096.max(2 * bw) + bw,
                        &[8],
                    )
                }),
                Case::new(gemv, path, "edge scales, inf and NaN", move |g| {
                    let blocks = edge_blocks(format, true);
                    let kernel = Kernel::Gemv(path);
                    matmul_against_reference(g, kernel, scheme, (&blocks).into(), bw, 2)
                }),
            ]);
        }
        if matches!(format, Format::Q4_0 | Format::Q4K) {
            for path in [Path::Portable, Path::Subgroup] {
                all.push(Case::new(
                    gemv,
                    path,
                    "f16 results, batch 1 and 5",
                    move |g| f16_results(g, Kernel::Gemv(path), format, &[1, 5]),
                ));
            }
            for path in [Path::Portable, Path::Subgroup] {
                all.push(Case::new(gemm, path, "f16 results, batch 9", move |g| {
                    f16_results(g, Kernel::Gemm(path), format, &[9])
                }));
            }
        }
        if format == Format::Q4_0 {
            // Tiles past the dispatch's subgroups (the grid stride): 129 × 2 subgroup tiles and
            // 129 portable ones, against at most 8 workgroups per CPU thread on CPU adapters.
            for path in [Path::Portable, Path::Subgroup] {
                all.push(Case::new(
                    gemm,
                    path,
                    "more tiles than workgroups, batch 33",
                    move |g| check_matmul(g, Kernel::Gemm(path), format, 8219, bw, &[33]),
                ));
            }
        }
        for path in [Path::Portable, Path::Subgroup] {
            let kernel = Kernel::Gemm(path);
            all.extend([
                Case::new(gemm, path, "partial tiles, batch 9 and 130", move |g| {
                    check_matmul(g, kernel, format, 70, 2 * bw, &[9, 130])
                }),
                Case::new(gemm, path, "one block, batch 64", move |g| {
                    check_matmul(g, kernel, format, 1, bw, &[64])
                }),
                Case::new(gemm, path, "edge scales, inf and NaN", move |g| {
                    let blocks = edge_blocks(format, true);
                    matmul_against_reference(g, kernel, scheme, (&blocks).into(), bw, 11)
                }),
            ]);
        }
    }
    for bits in [4, 8] {
        for group in Affine::GROUPS {
            for zeros in [false, true] {
                let Ok(scheme) = Affine::new(bits, group, zeros) else {
                    unreachable!("every listed scheme is valid")
                };
                all.extend(affine_cases(scheme));
            }
        }
    }
    all
}

fn leak(text: String) -> &'static str {
    Box::leak(text.into_boxed_str())
}

/// Dequant and GEMV cases of one affine scheme, named after it (`dequant/int4 g32 sym`).
fn affine_cases(scheme: Affine) -> Vec<Case> {
    let dequant = leak(format!("dequant/{scheme}"));
    let gemv = leak(format!("gemv/{scheme}"));
    let gemm = leak(format!("gemm/{scheme}"));
    let g = scheme.group() as usize;
    let mut all = vec![
        Case::portable(dequant, "odd rows, several groups", move |gpu| {
            let w = affine_weights(scheme, 5, 3 * g);
            check_affine_dequant(gpu, scheme, &w, 3 * g)
        }),
        Case::portable(dequant, "random codes, edge scales and zeros", move |gpu| {
            check_affine_dequant(gpu, scheme, &affine_edges(scheme, 9, g), g)
        }),
    ];
    for path in [Path::Portable, Path::Subgroup] {
        all.push(Case::new(gemv, path, "odd rows, batch 1..8", move |gpu| {
            let cols = 4 * g;
            let w = affine_weights(scheme, 7, cols);
            for batch in 1..=8 {
                let kernel = Kernel::Gemv(path);
                matmul_against_reference(
                    gpu,
                    kernel,
                    scheme.into(),
                    w.as_ref().into(),
                    cols,
                    batch,
                )?;
            }
            Ok(())
        }));
    }
    for path in [Path::Portable, Path::Subgroup] {
        all.push(Case::new(
            gemm,
            path,
            "partial tiles, batch 65",
            move |gpu| {
                let cols = 2 * g;
                let w = affine_weights(scheme, 67, cols);
                matmul_against_reference(
                    gpu,
                    Kernel::Gemm(path),
                    scheme.into(),
                    w.as_ref().into(),
                    cols,
                    65,
                )
            },
        ));
    }
    all
}

fn check_affine_dequant(
    gpu: &Gpu,
    scheme: Affine,
    w: &affine::AffineWeights,
    cols: usize,
) -> Result<(), Failure> {
    let got = Dequantize::new(gpu, scheme)?.run(w.as_ref(), cols)?;
    let want = affine::dequantize(scheme, w.as_ref(), cols)?;
    expect_equal("y", &canonical(&got), &canonical(&want))
}

/// Affine weights quantized from random values.
fn affine_weights(scheme: Affine, rows: usize, cols: usize) -> affine::AffineWeights {
    let mut rng = SplitMix64::new((rows * cols) as u64 + u64::from(scheme.bits()));
    let x: Vec<f32> = (0..rows * cols).map(|_| uniform(&mut rng) * 0.2).collect();
    match affine::quantize(scheme, &x, cols) {
        Ok(w) => w,
        Err(e) => unreachable!("cols is a multiple of the group: {e}"),
    }
}

/// Random codes under edge scales (±0, subnormal, ±max, ±inf, NaN) and zero points (0, the top
/// code, fractional, negative).
fn affine_edges(scheme: Affine, rows: usize, cols: usize) -> affine::AffineWeights {
    let mut rng = SplitMix64::new(7 + u64::from(scheme.bits()));
    let words = rows * cols * scheme.bits() as usize / 32;
    let edge = [
        0x0000u16, 0x8000, 0x0001, 0x3c00, 0x7bff, 0xfbff, 0x7c00, 0xfc00, 0x7e01,
    ];
    let zeros = [0.0f32, 15.0, 255.0, 7.5, -3.0, 1e-3, 128.0, 8.0, 0.25];
    let groups = rows * cols / scheme.group() as usize;
    affine::AffineWeights {
        qweight: (0..words).map(|_| rng.next_u32()).collect(),
        scales: (0..groups)
            .map(|i| f16::from_bits(edge[i % edge.len()]))
            .collect(),
        zeros: scheme.has_zeros().then(|| {
            (0..groups)
                .map(|i| f16::from_f32(zeros[(i + 4) % zeros.len()]))
                .collect()
        }),
    }
}

/// f32 bits with every NaN made one NaN.
fn canonical(values: &[f32]) -> Vec<u32> {
    values
        .iter()
        .map(|v| if v.is_nan() { 0x7fc0_0000 } else { v.to_bits() })
        .collect()
}

fn check_dequant(gpu: &Gpu, format: Format, bytes: &[u8], cols: usize) -> Result<(), Failure> {
    let got = Dequantize::new(gpu, format)?.run(bytes, cols)?;
    let want = reference::dequantize(format, bytes, cols)?;
    expect_equal("y", &canonical(&got), &canonical(&want))
}

fn uniform(rng: &mut SplitMix64) -> f32 {
    rng.next_u32() as f32 / u32::MAX as f32 - 0.5
}

/// Blocks as a model file has them: quantized from random weights where squeeze has the
/// quantizer, else random codes under moderate scales.
fn sample_blocks(format: Format, rows: usize, cols: usize) -> Vec<u8> {
    let mut rng = SplitMix64::new((rows * cols) as u64 ^ format.ggml_type() as u64);
    if let Ok(bytes) = reference::quantize(
        format,
        &(0..rows * cols)
            .map(|_| uniform(&mut rng) * 0.2)
            .collect::<Vec<_>>(),
    ) {
        return bytes;
    }
    let mut bytes = random_bytes(format, rows, cols);
    for block in bytes.chunks_exact_mut(format.block_bytes()) {
        let mut scale = || f16::from_f32(0.001 + uniform(&mut rng).abs() * 0.01).to_le_bytes();
        match format {
            Format::Q4K | Format::Q5K | Format::Q5_1 => {
                block[0..2].copy_from_slice(&scale());
                block[2..4].copy_from_slice(&scale());
            }
            Format::Q5_0 | Format::Iq4Nl => block[0..2].copy_from_slice(&scale()),
            Format::Q6K => block[208..210].copy_from_slice(&scale()),
            Format::Q3K => block[108..110].copy_from_slice(&scale()),
            Format::Q2K => {
                block[80..82].copy_from_slice(&scale());
                block[82..84].copy_from_slice(&scale());
            }
            Format::Mxfp4 => block[0] = 118 + (rng.next_u32() % 12) as u8,
            Format::Q8_0 | Format::Q4_0 | Format::Q4_1 => unreachable!("quantized above"),
        }
    }
    bytes
}

fn random_bytes(format: Format, rows: usize, cols: usize) -> Vec<u8> {
    let mut rng = SplitMix64::new(99 + format.ggml_type() as u64);
    let len = rows * cols / format.block_weights() * format.block_bytes();
    (0..len).map(|_| rng.next_u32() as u8).collect()
}

/// One block per edge scale, each with codes at both extremes and in between. f16 scales: ±0,
/// the smallest subnormal, 1, ±the largest finite, ±inf and NaN. MXFP4 E8M0 scales: the two
/// subnormal results, 1, and (unless `for_gemv`, whose f32 sums must not overflow where the f64
/// reference does not) the top of the range, where products overflow to inf.
fn edge_blocks(format: Format, for_gemv: bool) -> Vec<u8> {
    let f16_scales = [
        0x0000u16, 0x8000, 0x0001, 0x3c00, 0x7bff, 0xfbff, 0x7c00, 0xfc00, 0x7e01,
    ];
    let e8m0_scales: &[u8] = if for_gemv {
        &[0, 1, 2, 127, 128, 150]
    } else {
        &[0, 1, 2, 127, 128, 200, 252, 253, 254, 255]
    };
    let count = if format == Format::Mxfp4 {
        e8m0_scales.len()
    } else {
        f16_scales.len()
    };
    let mut bytes = Vec::new();
    for k in 0..count {
        let mut block: Vec<u8> = (0..format.block_bytes())
            .map(|j| [0x00, 0xff, 0x80, 0x7f, 0x11 * (j % 16) as u8][j % 5])
            .collect();
        let d = f16_scales[k % f16_scales.len()].to_le_bytes();
        let m = f16_scales[(k + 3) % f16_scales.len()].to_le_bytes();
        match format {
            Format::Q8_0 | Format::Q4_0 | Format::Q5_0 | Format::Iq4Nl => {
                block[0..2].copy_from_slice(&d)
            }
            Format::Q4_1 | Format::Q4K | Format::Q5_1 | Format::Q5K => {
                block[0..2].copy_from_slice(&d);
                block[2..4].copy_from_slice(&m);
            }
            Format::Q6K => block[208..210].copy_from_slice(&d),
            Format::Q3K => block[108..110].copy_from_slice(&d),
            Format::Q2K => {
                block[80..82].copy_from_slice(&d);
                block[82..84].copy_from_slice(&m);
            }
            Format::Mxfp4 => block[0] = e8m0_scales[k],
        }
        bytes.extend(block);
    }
    debug_assert_eq!(f16::from_bits(0x7bff).to_f32(), 65504.0);
    bytes
}

/// The CPU reference's dequantized weights.
fn reference_weights(scheme: Scheme, w: HostWeights<'_>, cols: usize) -> Result<Vec<f32>, Failure> {
    Ok(match (scheme, w) {
        (Scheme::Gguf(format), HostWeights::Gguf(blocks)) => {
            reference::dequantize(format, blocks, cols)?
        }
        (Scheme::Affine(a), HostWeights::Affine(w)) => affine::dequantize(a, w, cols)?,
        _ => return Err(Failure::Mismatch("weights of the other scheme".into())),
    })
}

fn check_matmul(
    gpu: &Gpu,
    kernel: Kernel,
    format: Format,
    rows: usize,
    cols: usize,
    batches: &[usize],
) -> Result<(), Failure> {
    let blocks = sample_blocks(format, rows, cols);
    for &batch in batches {
        matmul_against_reference(gpu, kernel, format.into(), (&blocks).into(), cols, batch)?;
    }
    Ok(())
}

/// Runs the kernel with f32 and with f16 activations and compares each with the f64 reference.
fn matmul_against_reference(
    gpu: &Gpu,
    kernel: Kernel,
    scheme: Scheme,
    weights: HostWeights<'_>,
    cols: usize,
    batch: usize,
) -> Result<(), Failure> {
    let w = reference_weights(scheme, weights, cols)?;
    let mut rng = SplitMix64::new((batch * cols) as u64);
    let x16: Vec<f16> = (0..batch * cols)
        .map(|_| f16::from_f32(uniform(&mut rng)))
        .collect();
    let x32: Vec<f32> = x16.iter().map(|v| v.to_f32()).collect();
    let (want, magnitude) = reference::matmul(&w, cols, &x32);
    for (dtype, x) in [
        ("f32", Activations::F32(&x32)),
        ("f16", Activations::F16(&x16)),
    ] {
        let got = kernel.run(gpu, scheme, weights, cols, x)?;
        let what = format!("y ({dtype} x, batch {batch})");
        expect_close(&what, &got, &want, &magnitude)?;
    }
    Ok(())
}

pub(crate) fn expect_close(
    what: &str,
    got: &[f32],
    want: &[f64],
    magnitude: &[f64],
) -> Result<(), Failure> {
    if got.len() != want.len() {
        return Err(Failure::Mismatch(format!(
            "{what}: {} elements, expected {}",
            got.len(),
            want.len()
        )));
    }
    for (i, ((&g, &w), &m)) in got.iter().zip(want).zip(magnitude).enumerate() {
        let g = f64::from(g);
        let ok = if w.is_finite() {
            (g - w).abs() <= MATMUL_TOLERANCE * m + 1e-30
        } else {
            g.is_nan() == w.is_nan() && (w.is_nan() || g == w)
        };
        if !ok {
            return Err(Failure::Mismatch(format!(
                "{what}: element {i} is {g}, expected {w} (Σ|w·x| = {m})"
            )));
        }
    }
    Ok(())
}

/// GEMV or GEMM with f16 results (`YRows::dtype`): each equal bit for bit to the kernel's f32
/// result rounded to nearest even (`half::f16::from_f32`), over rows with ±inf and NaN sums
/// too — NaN as any NaN: which of two NaN operands a sum keeps is the compiler's choice, and
/// the f32 and f16 pipelines are compiled apart. Rows are even, as f16 results require.
fn f16_results(
    gpu: &Gpu,
    kernel: Kernel,
    format: Format,
    batches: &[usize],
) -> Result<(), Failure> {
    use squeeze::quant::{Problem, YRows};
    use squeeze::{Binding, DType};

    let bw = format.block_weights();
    let mut blocks = sample_blocks(format, 6, 2 * bw);
    blocks.extend(edge_blocks(format, true));
    let row_bytes = format.row_bytes(2 * bw)?;
    blocks.truncate(blocks.len() / row_bytes / 2 * 2 * row_bytes);
    let rows = blocks.len() / row_bytes;
    let cols = 2 * bw;
    let w = gpu.upload("w", &blocks)?;
    for &batch in batches {
        let x: Vec<f32> = SplitMix64::new(batch as u64)
            .words(batch * cols)
            .iter()
            .map(|&u| (u >> 8) as f32 / (1u32 << 23) as f32 - 1.0)
            .collect();
        let x_buf = gpu.upload("x", &x)?;
        let y32 = gpu.storage_buffer("y", (4 * batch * rows) as u64)?;
        let y16 = gpu.storage_buffer("y", (2 * batch * rows) as u64)?;
        let problem = Problem {
            rows,
            cols,
            batch,
            x_dtype: DType::F32,
        };
        let mut encoder = gpu.encoder("f16 results");
        for (y, dtype) in [(&y32, DType::F32), (&y16, DType::F16)] {
            let out = YRows {
                y: Binding::whole(y),
                row_stride: None,
                dtype,
            };
            let (w, x) = (Binding::whole(&w), Binding::whole(&x_buf));
            match kernel {
                Kernel::Gemv(path) => {
                    let reduction = match path {
                        Path::Subgroup => Reduction::Subgroup,
                        _ => Reduction::Workgroup,
                    };
                    Gemv::with_reduction(gpu, format, reduction)?.encode(
                        &mut encoder,
                        problem,
                        w,
                        x,
                        out,
                    )?
                }
                Kernel::Gemm(path) => Gemm::with_path(gpu, format, gemm_path(path))?.encode(
                    &mut encoder,
                    problem,
                    w,
                    x,
                    out,
                )?,
            }
        }
        gpu.submit_and_wait(encoder)?;
        let full: Vec<f32> = gpu.read_back("y", &y32, 0, batch * rows)?;
        let bits = |h: f16| if h.is_nan() { 0x7e00 } else { h.to_bits() };
        let halves: Vec<u16> = gpu
            .read_back::<f16>("y", &y16, 0, batch * rows)?
            .into_iter()
            .map(bits)
            .collect();
        let want: Vec<u16> = full.iter().map(|&v| bits(f16::from_f32(v))).collect();
        expect_equal(&format!("f16 results, batch {batch}"), &halves, &want)?;
    }
    Ok(())
}
