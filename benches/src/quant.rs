//! Benchmarks of the quant family: dequantization to f32 and GEMV, every format, at the shapes
//! of a 7B-class model's projections.

use squeeze::quant::gemv::Reduction;
use squeeze::quant::{Dequantize, Format, Gemv};
use squeeze::{Binding, DType, Gpu, Result};

use crate::{Bench, Workload, is_emulated};

/// Dequantizing `rows × cols` weights: reads the blocks, writes 4 bytes per weight.
pub fn dequant_workload(gpu: &Gpu, format: Format, rows: usize, cols: usize) -> Result<Workload> {
    let kernel = Dequantize::new(gpu, format)?;
    let block_bytes = (rows * format.row_bytes(cols)?) as u64;
    let out_bytes = (rows * cols * 4) as u64;
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

/// `y = x · Wᵀ` for `batch` f32 activation rows: reads the blocks and x once, writes y.
pub fn gemv_workload(
    gpu: &Gpu,
    format: Format,
    reduction: Reduction,
    (rows, cols, batch): (usize, usize, usize),
) -> Result<Workload> {
    let kernel = Gemv::with_reduction(gpu, format, reduction)?;
    let block_bytes = (rows * format.row_bytes(cols)?) as u64;
    let (x_bytes, y_bytes) = ((batch * cols * 4) as u64, (batch * rows * 4) as u64);
    let w = gpu.storage_buffer("w", block_bytes)?;
    let x = gpu.storage_buffer("x", x_bytes)?;
    let y = gpu.storage_buffer("y", y_bytes)?;
    Ok(Workload {
        bytes_moved: block_bytes + x_bytes + y_bytes,
        record: Box::new(move |encoder| {
            kernel.encode(
                encoder,
                rows,
                cols,
                batch,
                DType::F32,
                Binding::whole(&w),
                Binding::whole(&x),
                Binding::whole(&y),
            )
        }),
    })
}

pub fn benches(gpu: &Gpu) -> Vec<Bench> {
    let mut all = Vec::new();
    // A 4096 × 4096 projection; its f32 output (64 MiB) fits every adapter's default storage
    // binding limit (128 MiB).
    let (rows, cols) = (4096, 4096);
    for format in Format::ALL {
        all.push(Bench {
            kernel: "dequant",
            shape: format!("{format} {rows}×{cols} → f32"),
            prepare: Box::new(move |gpu| dequant_workload(gpu, format, rows, cols)),
        });
    }
    // Attention projection, MLP up (11008 × 4096) and MLP down (4096 × 14336); on an emulated
    // adapter only the first, where every shape costs CPU time and the ratios are the same.
    let shapes: &[(usize, usize)] = if is_emulated(gpu) {
        &[(4096, 4096)]
    } else {
        &[(4096, 4096), (11008, 4096), (4096, 14336)]
    };
    let reduction = Reduction::best(gpu);
    let path = match reduction {
        Reduction::Subgroup => "subgroup",
        Reduction::Workgroup => "workgroup",
    };
    for format in Format::ALL {
        for &(rows, cols) in shapes {
            for batch in [1, 2, 4, 8] {
                all.push(Bench {
                    kernel: "gemv",
                    shape: format!("{format} {rows}×{cols} batch {batch} f32 ({path})"),
                    prepare: Box::new(move |gpu| {
                        gemv_workload(gpu, format, reduction, (rows, cols, batch))
                    }),
                });
            }
        }
    }
    all
}
