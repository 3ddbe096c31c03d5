//! Conformance of the LLaMA glue kernels (squeeze-llama) against their CPU references: embedding
//! rows (f32, f16 and BF16 tables, ids past the table), RMSNorm (alone and after the residual
//! add), RoPE in both pairings (in place and splitting stacked q|k|v rows), SwiGLU (separate and
//! stacked gate|up), at size 1, odd sizes and large values. Gathers and adds are exact;
//! RMSNorm, RoPE and SwiGLU within the tolerances each check states.

use half::f16;
use squeeze::{Binding, Gpu};
use squeeze_llama::reference::{self, RopeInput};
use squeeze_llama::{
    Embedding, NormShape, Pairing, ResidualUpdate, RmsNorm, Rope, RopeConfig, StackedQkv, SwiGlu,
    Table, TableDtype,
};

use crate::rng::SplitMix64;
use crate::{Case, Failure, expect_equal};

/// RMSNorm's shapes (rows, cols, value scale, eps), each run alone and after the residual add.
const NORMS: [(&str, usize, usize, f32, f32); 4] = [
    ("one row of one value", 1, 1, 1.0, 1e-5),
    ("odd sizes (3 × 577)", 3, 577, 1.0, 1e-6),
    ("large values, eps 0", 2, 129, 1e15, 0.0),
    (
        "more rows than one pass of workgroups",
        70_001,
        3,
        1.0,
        1e-5,
    ),
];

pub fn cases() -> Vec<Case> {
    let mut cases = glue_cases();
    for (name, rows, cols, scale, eps) in NORMS {
        cases.push(Case::portable("llama-rms_norm", name, move |gpu| {
            rms_norm(gpu, rows, cols, scale, eps)
        }));
        cases.push(Case::portable("llama-add_rms_norm", name, move |gpu| {
            add_rms_norm(gpu, rows, cols, scale, eps)
        }));
    }
    cases
}

/// The cases of every kernel but RMSNorm's.
fn glue_cases() -> Vec<Case> {
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
        Case::portable(
            "llama-rope_qkv",
            "adjacent: one head each, one pair",
            |gpu| rope_qkv(gpu, Pairing::Adjacent, (1, 1, 1, 2), &[7], 10000.0),
        ),
        Case::portable(
            "llama-rope_qkv",
            "halves: 3 rows × (9 + 2 × 3) heads × 64 (SmolLM2's)",
            |gpu| rope_qkv(gpu, Pairing::Halves, (3, 9, 3, 64), &[0, 1, 4095], 100000.0),
        ),
        Case::portable(
            "llama-rope_qkv",
            "adjacent: 2 rows × (5 + 2 × 1) heads × 6",
            |gpu| rope_qkv(gpu, Pairing::Adjacent, (2, 5, 1, 6), &[17, 2047], 500000.0),
        ),
        Case::portable("llama-swiglu_stacked", "one value", |gpu| {
            swiglu_stacked(gpu, 1, 1, 1.0)
        }),
        Case::portable("llama-swiglu_stacked", "odd rows × odd columns", |gpu| {
            swiglu_stacked(gpu, 7, 1001, 4.0)
        }),
        Case::portable(
            "llama-swiglu_stacked",
            "large gates (silu saturates)",
            |gpu| swiglu_stacked(gpu, 2, 257, 1e4),
        ),
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

fn add_rms_norm(gpu: &Gpu, rows: usize, cols: usize, scale: f32, eps: f32) -> Result<(), Failure> {
    let h = values(cols as u64 + 3, rows * cols, scale);
    let delta = values(cols as u64 + 5, rows * cols, scale);
    let weight = values(7, cols, 2.0);
    let h_buffer = gpu.upload("h", &h)?;
    let d_buffer = gpu.upload("delta", &delta)?;
    let w_buffer = gpu.upload("weight", &weight)?;
    let y = gpu.storage_buffer("y", (rows * cols * 4) as u64)?;
    let mut encoder = gpu.encoder("add_rms_norm");
    let shape = NormShape {
        rows: rows as u32,
        cols: cols as u32,
        eps,
    };
    let residual = ResidualUpdate {
        h: Binding::whole(&h_buffer),
        delta: Binding::whole(&d_buffer),
    };
    RmsNorm::new(gpu)?.encode_add(
        &mut encoder,
        shape,
        residual,
        Binding::whole(&w_buffer),
        Binding::whole(&y),
    )?;
    gpu.submit_and_wait(encoder)?;
    // The sum is one f32 add: exact against the reference's.
    let mut sum = h;
    reference::residual_add(&mut sum, &delta);
    expect_equal("h", &read(gpu, &h_buffer, rows * cols)?, &sum)?;
    let got = read(gpu, &y, rows * cols)?;
    // As RMSNorm alone: a few ulp of the largest output.
    expect_close("y", &got, &reference::rms_norm(&sum, &weight, eps), 1e-5)
}

fn rope_qkv(
    gpu: &Gpu,
    pairing: Pairing,
    (rows, heads, kv_heads, head_dim): (usize, usize, usize, usize),
    positions: &[u32],
    theta: f32,
) -> Result<(), Failure> {
    let width = (heads + 2 * kv_heads) * head_dim;
    let qkv = values(head_dim as u64 + 11, rows * width, 3.0);
    let qkv_buffer = gpu.upload("qkv", &qkv)?;
    let pos = gpu.upload("positions", positions)?;
    let f32s = |arg, n: usize| gpu.storage_buffer(arg, (n * 4) as u64);
    let q = f32s("q", rows * heads * head_dim)?;
    let k = f32s("k", rows * kv_heads * head_dim)?;
    let v = f32s("v", rows * kv_heads * head_dim)?;
    let kernel = Rope::new(
        gpu,
        RopeConfig {
            head_dim: head_dim as u32,
            theta,
            pairing,
        },
    )?;
    let mut encoder = gpu.encoder("rope_qkv");
    let stacked = StackedQkv {
        rows: rows as u32,
        positions: Binding::whole(&pos),
        heads: heads as u32,
        kv_heads: kv_heads as u32,
        qkv: Binding::whole(&qkv_buffer),
        q: Binding::whole(&q),
        k: Binding::whole(&k),
        v: Binding::whole(&v),
    };
    kernel.encode_qkv(&mut encoder, &stacked)?;
    gpu.submit_and_wait(encoder)?;
    // Each part of each row, cut out of the stacked rows; q and k turned by the reference.
    let part = |from: usize, n_heads: usize| -> Vec<f32> {
        qkv.chunks(width)
            .flat_map(|row| row[from * head_dim..(from + n_heads) * head_dim].to_vec())
            .collect()
    };
    let turned = |mut x: Vec<f32>, n_heads: usize| {
        let input = RopeInput {
            positions,
            heads: n_heads,
            head_dim,
            theta,
            pairing,
        };
        reference::rope(&mut x, &input);
        x
    };
    // As `rope`: the device's cos and sin bound the difference; v is copied exactly.
    let want_q = turned(part(0, heads), heads);
    expect_close("q", &read(gpu, &q, want_q.len())?, &want_q, 2e-3)?;
    let want_k = turned(part(heads, kv_heads), kv_heads);
    expect_close("k", &read(gpu, &k, want_k.len())?, &want_k, 2e-3)?;
    let want_v = part(heads + kv_heads, kv_heads);
    expect_equal("v", &read(gpu, &v, want_v.len())?, &want_v)
}

fn swiglu_stacked(gpu: &Gpu, rows: usize, cols: usize, scale: f32) -> Result<(), Failure> {
    let gate = values(cols as u64, rows * cols, scale);
    let up = values(cols as u64 + 1, rows * cols, 3.0);
    let stacked: Vec<f32> = gate
        .chunks(cols)
        .zip(up.chunks(cols))
        .flat_map(|(g, u)| g.iter().chain(u).copied())
        .collect();
    let gate_up = gpu.upload("gate_up", &stacked)?;
    let out = gpu.storage_buffer("out", (rows * cols * 4) as u64)?;
    let mut encoder = gpu.encoder("swiglu_stacked");
    SwiGlu::new(gpu)?.encode_stacked(
        &mut encoder,
        (rows as u32, cols as u32),
        Binding::whole(&gate_up),
        Binding::whole(&out),
    )?;
    gpu.submit_and_wait(encoder)?;
    let got = read(gpu, &out, rows * cols)?;
    // As `swiglu`: a few ulp of the largest output.
    expect_close("out", &got, &reference::swiglu(&gate, &up), 1e-5)
}
