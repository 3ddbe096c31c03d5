//! Benchmarks of the quant family: dequantization to f32 at a 4096 × 4096 weight matrix.

use squeeze::quant::{Dequantize, Format};
use squeeze::{Binding, Gpu, Result};

use crate::{Bench, Workload};

/// Dequantizing `rows × cols` weights: reads the blocks, writes 4 bytes per weight.
pub fn dequant_workload(gpu: &Gpu, format: Format, rows: u32, cols: u32) -> Result<Workload> {
    let kernel = Dequantize::new(gpu, format)?;
    let block_bytes = u64::from(rows) * format.row_bytes(cols as usize)? as u64;
    let out_bytes = u64::from(rows) * u64::from(cols) * 4;
    let blocks = gpu.storage_buffer("w", block_bytes)?;
    let out = gpu.storage_buffer("y", out_bytes)?;
    Ok(Workload {
        bytes_moved: block_bytes + out_bytes,
        record: Box::new(move |encoder| {
            kernel.encode(
                encoder,
                rows,
                cols,
                Binding::whole(&blocks),
                Binding::whole(&out),
            )
        }),
    })
}

pub fn benches(_gpu: &Gpu) -> Vec<Bench> {
    // A 4096 × 4096 projection of a 7B-class model; its f32 output (64 MiB) fits every
    // adapter's default storage binding limit (128 MiB).
    let (rows, cols) = (4096u32, 4096u32);
    Format::ALL
        .into_iter()
        .map(|format| Bench {
            kernel: "dequant",
            shape: format!("{format} {rows}×{cols} → f32"),
            prepare: Box::new(move |gpu| dequant_workload(gpu, format, rows, cols)),
        })
        .collect()
}
