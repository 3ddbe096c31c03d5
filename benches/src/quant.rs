//! Benchmarks of the quant family at the shapes of a 7B-class model's projections: dequantization
//! to f32, GEMV at batch 1, 2, 4 and 8, and GEMM at a prefill of many tokens, for every GGUF
//! format and the int4 / int8 affine schemes.

use squeeze::quant::{
    Affine, Dequantize, Format, Gemm, GemmPath, Gemv, Problem, Reduction, Scheme,
};
use squeeze::{Binding, DType, Gpu, Result};

use crate::{Bench, Scope, Sizes, Workload, is_emulated};

const FAMILY: &str = "quant";

/// Every scheme benchmarked: the GGUF formats, then symmetric int4 and int8 at group 128 (the
/// common GPTQ / AWQ setting).
fn schemes() -> Vec<Scheme> {
    let mut all: Vec<Scheme> = Format::ALL.into_iter().map(Scheme::from).collect();
    for bits in [4, 8] {
        if let Ok(affine) = Affine::new(bits, 128, false) {
            all.push(affine.into());
        }
    }
    all
}

/// Device buffers holding a `rows × cols` matrix of `scheme` (contents do not matter for time).
struct Weights {
    data: squeeze::wgpu::Buffer,
    tables: Option<squeeze::wgpu::Buffer>,
    bytes: u64,
}

impl Weights {
    fn new(gpu: &Gpu, scheme: Scheme, rows: usize, cols: usize) -> Result<Self> {
        let data_bytes = (rows * scheme.row_bytes(cols)?) as u64;
        let (tables, table_bytes) = match scheme {
            Scheme::Gguf(_) => (None, 0),
            Scheme::Affine(a) => {
                let bytes = (rows * cols / a.group() as usize * 2) as u64;
                (Some(gpu.storage_buffer("scales", bytes)?), bytes)
            }
        };
        Ok(Self {
            data: gpu.storage_buffer("w", data_bytes)?,
            tables,
            bytes: data_bytes + table_bytes,
        })
    }

    fn bindings(&self) -> squeeze::quant::QuantWeights<'_> {
        squeeze::quant::QuantWeights {
            data: Binding::whole(&self.data),
            scales: self.tables.as_ref().map(Binding::whole),
            zeros: None,
        }
    }
}

/// Dequantizing `rows × cols` weights: reads the weights, writes 4 bytes per weight.
pub fn dequant_workload(gpu: &Gpu, scheme: Scheme, rows: usize, cols: usize) -> Result<Workload> {
    let kernel = Dequantize::new(gpu, scheme)?;
    let w = Weights::new(gpu, scheme, rows, cols)?;
    let out_bytes = (rows * cols * 4) as u64;
    let out = gpu.storage_buffer("y", out_bytes)?;
    Ok(Workload {
        bytes_moved: w.bytes + out_bytes,
        flops: 0,
        record: Box::new(move |encoder| {
            kernel.encode(encoder, rows, cols, w.bindings(), Binding::whole(&out))
        }),
    })
}

/// Which matmul kernel a workload times.
#[derive(Clone, Copy)]
enum Kernel {
    Gemv(Reduction),
    Gemm(GemmPath),
}

/// `y = x · Wᵀ` for `batch` f32 activation rows: reads the weights and x once, writes y.
fn matmul_workload(
    gpu: &Gpu,
    scheme: Scheme,
    kernel: Kernel,
    problem: Problem,
) -> Result<Workload> {
    let Problem {
        rows, cols, batch, ..
    } = problem;
    let w = Weights::new(gpu, scheme, rows, cols)?;
    let (x_bytes, y_bytes) = ((batch * cols * 4) as u64, (batch * rows * 4) as u64);
    let x = gpu.storage_buffer("x", x_bytes)?;
    let y = gpu.storage_buffer("y", y_bytes)?;
    let bytes_moved = w.bytes + x_bytes + y_bytes;
    let flops = 2 * (rows * cols * batch) as u64;
    let record: crate::Record = match kernel {
        Kernel::Gemv(reduction) => {
            let gemv = Gemv::with_reduction(gpu, scheme, reduction)?;
            Box::new(move |encoder| {
                gemv.encode(
                    encoder,
                    problem,
                    w.bindings(),
                    Binding::whole(&x),
                    Binding::whole(&y),
                )
            })
        }
        Kernel::Gemm(path) => {
            let gemm = Gemm::with_path(gpu, scheme, path)?;
            Box::new(move |encoder| {
                gemm.encode(
                    encoder,
                    problem,
                    w.bindings(),
                    Binding::whole(&x),
                    Binding::whole(&y),
                )
            })
        }
    };
    Ok(Workload {
        bytes_moved,
        flops: if matches!(kernel, Kernel::Gemm(_)) {
            flops
        } else {
            0
        },
        record,
    })
}

/// Whether the default run measures `scheme`: one format of each family — q8_0 and q4_0 (the
/// legacy blocks, and the pair whose time ratio shows what 4-bit reads save), q4_k (k-quants),
/// iq4_nl, mxfp4 and affine int4.
fn representative(scheme: Scheme) -> bool {
    match scheme {
        Scheme::Gguf(format) => matches!(
            format,
            Format::Q8_0 | Format::Q4_0 | Format::Q4K | Format::Iq4Nl | Format::Mxfp4
        ),
        Scheme::Affine(affine) => affine.bits() == 4,
    }
}

/// [`Scope::Default`] where `default` holds, else [`Scope::Full`].
fn scope(default: bool) -> Scope {
    if default { Scope::Default } else { Scope::Full }
}

pub fn benches(gpu: &Gpu, sizes: Sizes) -> Vec<Bench> {
    let mut all = Vec::new();
    // A 4096 × 4096 projection; its f32 output (64 MiB) fits every adapter's default storage
    // binding limit (128 MiB).
    let (rows, cols) = match sizes {
        Sizes::Real => (4096, 4096),
        Sizes::Smoke => (64, 256),
    };
    for scheme in schemes() {
        all.push(Bench {
            family: FAMILY,
            kernel: "dequant",
            shape: format!("{scheme} {rows}×{cols} → f32"),
            scope: scope(scheme == Scheme::Gguf(Format::Q4K)),
            prepare: Box::new(move |gpu| dequant_workload(gpu, scheme, rows, cols)),
        });
    }
    // Attention projection, MLP up (11008 × 4096) and MLP down (4096 × 14336), and a 512-token
    // prefill; on an emulated adapter (a CPU) only the first shape and 128 tokens, which give
    // the same ratios in far less time.
    let (shapes, tokens): (&[(usize, usize)], usize) = match sizes {
        Sizes::Smoke => (&[(64, 256)], 16),
        Sizes::Real if is_emulated(gpu) => (&[(4096, 4096)], 128),
        Sizes::Real => (&[(4096, 4096), (11008, 4096), (4096, 14336)], 512),
    };
    let reduction = Reduction::best(gpu);
    let path = match reduction {
        Reduction::Subgroup => "subgroup",
        Reduction::Workgroup => "workgroup",
    };
    // The best GEMM path, and in the full run the tiled one beside it where that is not it.
    let best_gemm = GemmPath::best(gpu);
    let gemm_paths: &[GemmPath] = match best_gemm {
        GemmPath::Subgroup => &[GemmPath::Subgroup, GemmPath::Tiled],
        GemmPath::Tiled => &[GemmPath::Tiled],
    };
    for scheme in schemes() {
        let q4_0 = scheme == Scheme::Gguf(Format::Q4_0);
        for (i, &(rows, cols)) in shapes.iter().enumerate() {
            let first = i == 0;
            let problem = move |batch| Problem {
                rows,
                cols,
                batch,
                x_dtype: DType::F32,
            };
            for batch in [1, 2, 4, 8] {
                // Batch 1 of every representative format; batch 8 of q4_0 for the cost of a
                // batch.
                let default = first && representative(scheme) && (batch == 1 || q4_0 && batch == 8);
                all.push(Bench {
                    family: FAMILY,
                    kernel: "gemv",
                    shape: format!("{scheme} {rows}×{cols} b{batch} ({path})"),
                    scope: scope(default),
                    prepare: Box::new(move |gpu| {
                        matmul_workload(gpu, scheme, Kernel::Gemv(reduction), problem(batch))
                    }),
                });
            }
            for &gemm_path in gemm_paths {
                let label = match gemm_path {
                    GemmPath::Subgroup => "subgroup",
                    GemmPath::Tiled => "tiled",
                };
                all.push(Bench {
                    family: FAMILY,
                    kernel: "gemm",
                    shape: format!("{scheme} {rows}×{cols} × {tokens} tokens ({label})"),
                    scope: scope(first && q4_0 && gemm_path == best_gemm),
                    prepare: Box::new(move |gpu| {
                        matmul_workload(gpu, scheme, Kernel::Gemm(gemm_path), problem(tokens))
                    }),
                });
            }
        }
    }
    all
}
