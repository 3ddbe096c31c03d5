//! Conformance of the LLaMA glue kernels (squeeze-llama) against their CPU references: embedding
//! rows (f32, f16 and BF16 tables, ids past the table), RMSNorm, RoPE in both pairings, SwiGLU
//! and the residual add, at size 1, odd sizes and large values. Gathers and adds are exact;
//! RMSNorm, RoPE and SwiGLU within the tolerances each check states.

use half::f16;
use squeeze::{Binding, Gpu};
use squeeze_llama::reference::{self, RopeInput};
use squeeze_llama::{
    Embedding, Narrow, NormShape, Pairing, Residual, RmsNorm, Rope, RopeConfig, SwiGlu, Table,
    TableDtype,
};

use crate::rng::SplitMix64;
use crate::{Case, Failure, expect_equal};

pub fn cases() -> Vec<Case> {
    vec![
        Case::portable("llama-embedding", "f32: one token of one value", |gpu| {
            embedding(gpu, TableDtype::F32, (1, 1), &[0], 1.0)
        }),
        Case::portable(
            "llama-embedding",
            "f32: odd sizes, repeated ids, ids past the table",
            |gpu| {
                embedding(
                    gpu,
                    TableDtype::F32,
                    (37, 13),
                    &[5, 36, 5, 37, 0, u32::MAX, 2],
                    1.0,
                )
            },
        ),
        Case::portable("llama-embedding", "f32: large values", |gpu| {
            embedding(gpu, TableDtype::F32, (9, 7), &[8, 1, 3], 3e38)
        }),
        Case::portable("llama-embedding", "f16: odd row length", |gpu| {
            embedding(gpu, TableDtype::F16, (11, 5), &[3, 10, 0, 11], 60000.0)
        }),
        Case::portable(
            "llama-embedding",
            "bf16: odd row length, ids past the table, large values",
            |gpu| embedding(gpu, TableDtype::Bf16, (13, 7), &[12, 0, 13, 5, 5], 3e38),
        ),
        Case::portable("llama-rms_norm", "one row of one value", |gpu| {
            rms_norm(gpu, 1, 1, 1.0, 1e-5)
        }),
        Case::portable("llama-rms_norm", "odd sizes (3 × 577)", |gpu| {
            rms_norm(gpu, 3, 577, 1.0, 1e-6)
        }),
        Case::portable("llama-rms_norm", "large values, eps 0", |gpu| {
            rms_norm(gpu, 2, 129, 1e15, 0.0)
        }),
        Case::portable(
            "llama-rms_norm",
            "more rows than one pass of workgroups",
            |gpu| rms_norm(gpu, 70_001, 3, 1.0, 1e-5),
        ),
        Case::portable("llama-rope", "adjacent: one pair", |gpu| {
            rope(gpu, Pairing::Adjacent, (1, 1, 2), &[7], 10000.0)
        }),
        Case::portable("llama-rope", "halves: one pair", |gpu| {
            rope(gpu, Pairing::Halves, (1, 1, 2), &[7], 10000.0)
        }),
        Case::portable("llama-rope", "adjacent: 3 rows × 5 heads × 64", |gpu| {
            rope(gpu, Pairing::Adjacent, (3, 5, 64), &[0, 1, 4095], 10000.0)
        }),
        Case::portable(
            "llama-rope",
            "halves: 2 rows × 3 heads × 128, theta 5e5",
            |gpu| rope(gpu, Pairing::Halves, (2, 3, 128), &[17, 2047], 500000.0),
        ),
        Case::portable("llama-swiglu", "one value", |gpu| swiglu(gpu, 1, 1.0)),
        Case::portable("llama-swiglu", "odd length", |gpu| swiglu(gpu, 1001, 4.0)),
        Case::portable("llama-swiglu", "large gates (silu saturates)", |gpu| {
            swiglu(gpu, 257, 1e4)
        }),
        Case::portable("llama-residual", "one value", |gpu| residual(gpu, 1, 1.0)),
        Case::portable("llama-narrow", "one value", |gpu| narrow(gpu, &[1.0 / 3.0])),
        Case::portable(
            "llama-narrow",
            "ties, subnormals, overflow, ±0, ±inf, NaN",
            |gpu| narrow(gpu, &special_f32s()),
        ),
        Case::portable("llama-narrow", "random bit patterns, odd length", |gpu| {
            let bits = SplitMix64::new(11).words(100_001);
            narrow(
                gpu,
                &bits.iter().map(|&b| f32::from_bits(b)).collect::<Vec<_>>(),
            )
        }),
        Case::portable("llama-residual", "odd length, large values", |gpu| {
            residual(gpu, 4099, 1e30)
        }),
    ]
}

/// `n` values uniform in (−scale, scale).
fn values(seed: u64, n: usize, scale: f32) -> Vec<f32> {
    let mut rng = SplitMix64::new(seed);
    (0..n)
        .map(|_| ((rng.next_u32() >> 8) as f32 / (1 << 23) as f32 - 1.0) * scale)
        .collect()
}

/// Fails unless each `got[i]` is within `tol · scale` of `want[i]`, where `scale` is the largest
/// magnitude among the reference values (the error of an f32 pass is relative to what it
/// handles).
fn expect_close(what: &str, got: &[f32], want: &[f32], tol: f32) -> Result<(), Failure> {
    if got.len() != want.len() {
        return Err(Failure::Mismatch(format!(
            "{what}: {} values, expected {}",
            got.len(),
            want.len()
        )));
    }
    let scale = want.iter().fold(f32::MIN_POSITIVE, |m, v| m.max(v.abs()));
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        if (g - w).is_nan() || (g - w).abs() > tol * scale {
            return Err(Failure::Mismatch(format!(
                "{what}: value {i} is {g}, reference {w} (tolerance {tol} × {scale})"
            )));
        }
    }
    Ok(())
}

fn read(gpu: &Gpu, buffer: &squeeze::wgpu::Buffer, n: usize) -> Result<Vec<f32>, Failure> {
    Ok(gpu.read_back("out", buffer, 0, n)?)
}

fn embedding(
    gpu: &Gpu,
    dtype: TableDtype,
    (vocab, cols): (usize, usize),
    tokens: &[u32],
    scale: f32,
) -> Result<(), Failure> {
    let values = values(vocab as u64, vocab * cols, scale);
    let (table, data) = match dtype {
        TableDtype::F32 => (values.clone(), gpu.upload("table", &values)?),
        TableDtype::F16 => {
            let halves: Vec<f16> = values.iter().map(|&v| f16::from_f32(v)).collect();
            let bits: Vec<u16> = halves.iter().map(|h| h.to_bits()).collect();
            let widened = halves.iter().map(|h| h.to_f32()).collect();
            (
                widened,
                gpu.upload::<u8>("table", bytemuck::cast_slice(&bits))?,
            )
        }
        TableDtype::Bf16 => {
            let bits: Vec<u16> = values
                .iter()
                .map(|&v| half::bf16::from_f32(v).to_bits())
                .collect();
            let widened = bits
                .iter()
                .map(|&b| half::bf16::from_bits(b).to_f32())
                .collect();
            (
                widened,
                gpu.upload::<u8>("table", bytemuck::cast_slice(&bits))?,
            )
        }
    };
    let ids = gpu.upload("tokens", tokens)?;
    let out = gpu.storage_buffer("out", (tokens.len() * cols * 4) as u64)?;
    let kernel = Embedding::new(gpu, dtype)?;
    let mut encoder = gpu.encoder("embedding");
    let table_binding = Table {
        data: Binding::whole(&data),
        vocab: vocab as u32,
        cols: cols as u32,
    };
    kernel.encode(
        &mut encoder,
        tokens.len() as u32,
        Binding::whole(&ids),
        &table_binding,
        Binding::whole(&out),
    )?;
    gpu.submit_and_wait(encoder)?;
    let got = read(gpu, &out, tokens.len() * cols)?;
    let want = reference::embedding_rows(&table, cols, tokens);
    expect_equal("out", &got, &want)
}

fn rms_norm(gpu: &Gpu, rows: usize, cols: usize, scale: f32, eps: f32) -> Result<(), Failure> {
    let x = values(cols as u64, rows * cols, scale);
    let weight = values(7, cols, 2.0);
    let x_buffer = gpu.upload("x", &x)?;
    let w_buffer = gpu.upload("weight", &weight)?;
    let y = gpu.storage_buffer("y", (rows * cols * 4) as u64)?;
    let mut encoder = gpu.encoder("rms_norm");
    let shape = NormShape {
        rows: rows as u32,
        cols: cols as u32,
        eps,
    };
    RmsNorm::new(gpu)?.encode(
        &mut encoder,
        shape,
        Binding::whole(&x_buffer),
        Binding::whole(&w_buffer),
        Binding::whole(&y),
    )?;
    gpu.submit_and_wait(encoder)?;
    let got = read(gpu, &y, rows * cols)?;
    // f32 sums of squares over a row, inverse square root: a few ulp of the largest output.
    expect_close("y", &got, &reference::rms_norm(&x, &weight, eps), 1e-5)
}

fn rope(
    gpu: &Gpu,
    pairing: Pairing,
    (rows, heads, head_dim): (usize, usize, usize),
    positions: &[u32],
    theta: f32,
) -> Result<(), Failure> {
    let x = values(head_dim as u64, rows * heads * head_dim, 3.0);
    let x_buffer = gpu.upload("x", &x)?;
    let pos = gpu.upload("positions", positions)?;
    let kernel = Rope::new(
        gpu,
        RopeConfig {
            head_dim: head_dim as u32,
            theta,
            pairing,
        },
    )?;
    let mut encoder = gpu.encoder("rope");
    kernel.encode(
        &mut encoder,
        rows as u32,
        heads as u32,
        Binding::whole(&pos),
        Binding::whole(&x_buffer),
    )?;
    gpu.submit_and_wait(encoder)?;
    let got = read(gpu, &x_buffer, x.len())?;
    let mut want = x;
    let input = RopeInput {
        positions,
        heads,
        head_dim,
        theta,
        pairing,
    };
    reference::rope(&mut want, &input);
    // The angle is the same f32 on both sides; the device's cos and sin of it (Vulkan allows
    // an absolute error of 2^-11 in [-π, π], more past it) bound the difference.
    expect_close("x", &got, &want, 2e-3)
}

fn swiglu(gpu: &Gpu, n: usize, scale: f32) -> Result<(), Failure> {
    let gate = values(n as u64, n, scale);
    let up = values(n as u64 + 1, n, 3.0);
    let g = gpu.upload("gate", &gate)?;
    let u = gpu.upload("up", &up)?;
    let out = gpu.storage_buffer("out", (n * 4) as u64)?;
    let mut encoder = gpu.encoder("swiglu");
    SwiGlu::new(gpu)?.encode(
        &mut encoder,
        n as u32,
        Binding::whole(&g),
        Binding::whole(&u),
        Binding::whole(&out),
    )?;
    gpu.submit_and_wait(encoder)?;
    let got = read(gpu, &out, n)?;
    // exp and one division in f32: a few ulp of the largest output.
    expect_close("out", &got, &reference::swiglu(&gate, &up), 1e-5)
}

/// Values at every rounding boundary of f16: halfway cases both ways, the subnormal range and
/// its edge, the largest finite values and the overflow point, zeros, infinities, NaNs.
fn special_f32s() -> Vec<f32> {
    let mut v = vec![
        0.0,
        -0.0,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        -f32::NAN,
        f32::from_bits(0x7f80_0001),
        f32::from_bits(0xffc1_2345),
        65504.0,
        65519.99,
        65520.0,
        -65520.0,
        1e10,
        f32::MAX,
        f32::MIN_POSITIVE,
        f32::from_bits(1),
    ];
    for e in -26..=16 {
        let base = 2f32.powi(e);
        for m in 0..=8u32 {
            // Steps of an eighth of an f16 ulp, across 1024-ulp mantissas: ties land exactly.
            let ulp = base / 1024.0;
            let x = base * 1.5 + ulp * m as f32 / 8.0;
            v.extend([x, -x, base + ulp * (m as f32 / 8.0 + 0.5)]);
        }
    }
    v
}

fn narrow(gpu: &Gpu, x: &[f32]) -> Result<(), Failure> {
    let src = gpu.upload("src", x)?;
    let dst = gpu.storage_buffer("dst", x.len().div_ceil(2) as u64 * 4)?;
    let mut encoder = gpu.encoder("narrow");
    Narrow::new(gpu)?.encode(
        &mut encoder,
        x.len() as u32,
        Binding::whole(&src),
        Binding::whole(&dst),
    )?;
    gpu.submit_and_wait(encoder)?;
    let words: Vec<u32> = gpu.read_back("dst", &dst, 0, x.len().div_ceil(2))?;
    let got: Vec<u16> = words
        .iter()
        .flat_map(|w| [*w as u16, (w >> 16) as u16])
        .take(x.len())
        .collect();
    expect_equal("f16 bits", &got, &reference::narrow_f16(x))?;
    // An odd length leaves the last word's high half zero.
    match words.last() {
        Some(w) if x.len() % 2 == 1 && w >> 16 != 0 => Err(Failure::Mismatch(format!(
            "last word's high half is {:#x}, expected 0",
            w >> 16
        ))),
        _ => Ok(()),
    }
}

fn residual(gpu: &Gpu, n: usize, scale: f32) -> Result<(), Failure> {
    let h = values(n as u64, n, scale);
    let delta = values(n as u64 + 9, n, scale);
    let h_buffer = gpu.upload("h", &h)?;
    let d = gpu.upload("delta", &delta)?;
    let mut encoder = gpu.encoder("residual");
    Residual::new(gpu)?.encode(
        &mut encoder,
        n as u32,
        Binding::whole(&d),
        Binding::whole(&h_buffer),
    )?;
    gpu.submit_and_wait(encoder)?;
    let got = read(gpu, &h_buffer, n)?;
    let mut want = h;
    reference::residual_add(&mut want, &delta);
    expect_equal("h", &got, &want)
}
