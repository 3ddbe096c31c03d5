//! `squeeze gguf matmul FILE.gguf --tensor NAME --x X.safetensors -o Y.safetensors`:
//! `y = x · Wᵀ` on the GPU for one block-quantized weight tensor of a GGUF file, with the same
//! tensor names as `squeeze run matmul` (`x` in, `y` out) so results compare directly with
//! PyTorch's `x @ W.T`.

use std::path::Path;

use half::{bf16, f16};
use safetensors::{Dtype, SafeTensors};
use squeeze::quant::Activations;
use squeeze::quant::gemv::MAX_BATCH;
use squeeze::quant::gguf::{GgufFile, TensorMatmul};
use squeeze::{Error, Gpu, GpuOptions};

use crate::paths;
use crate::run::{Output, write};

/// Activations as read from the file: f32 and f16 go to the GPU as they are; bf16 is widened
/// to f32 on the host (exact) since the matmul kernels read f32 or f16.
enum X {
    F32(Vec<f32>),
    F16(Vec<f16>),
}

/// Runs the command; see the module doc.
pub fn run(
    options: GpuOptions,
    file: &Path,
    tensor: &str,
    x_path: &Path,
    output: paths::Output,
) -> Result<(), Box<dyn std::error::Error>> {
    let gguf = GgufFile::open(file)?;
    let w = gguf.tensor(tensor)?;
    let (_, rows, w_cols) = TensorMatmul::matrix(&w)?;
    let bytes = std::fs::read(x_path).map_err(|e| format!("{}: {e}", x_path.display()))?;
    let file_x =
        SafeTensors::deserialize(&bytes).map_err(|e| format!("{}: {e}", x_path.display()))?;
    let names = file_x.names();
    let name = match names.as_slice() {
        [only] => *only,
        _ => "x",
    };
    let x = file_x.tensor(name).map_err(|_| {
        Error::invalid(
            "--x",
            "tensors",
            "a tensor named `x`, or exactly one tensor",
            format!("{names:?}"),
        )
    })?;
    let [batch, cols] = <[usize; 2]>::try_from(x.shape())
        .map_err(|_| Error::invalid("x", "shape", "[batch, cols]", format!("{:?}", x.shape())))?;
    if cols != w_cols {
        return Err(Error::invalid(
            "x",
            "shape",
            format!("[batch, {w_cols}] (the row length of `{tensor}`)"),
            format!("[{batch}, {cols}]"),
        )
        .into());
    }
    let values = match x.dtype() {
        Dtype::F32 => X::F32(bytemuck::pod_collect_to_vec(x.data())),
        Dtype::F16 => X::F16(bytemuck::pod_collect_to_vec(x.data())),
        Dtype::BF16 => X::F32(
            bytemuck::pod_collect_to_vec::<u8, bf16>(x.data())
                .iter()
                .map(|v| v.to_f32())
                .collect(),
        ),
        other => {
            return Err(
                Error::invalid("x", "dtype", "F32 | F16 | BF16", format!("{other:?}")).into(),
            );
        }
    };
    let activations = match &values {
        X::F32(v) => Activations::F32(v),
        X::F16(v) => Activations::F16(v),
    };

    let gpu = Gpu::new(options)?;
    let y = TensorMatmul::new(&gpu).run(&w, activations)?;
    write(output.path(), &[Output::f32("y", vec![batch, rows], &y)])?;
    let target = output.target().to_path_buf();
    output.commit()?;
    println!(
        "wrote y [{batch}, {rows}] = x · {tensor}ᵀ ({} {} on {}) to {}",
        w.ggml_type.name(),
        if batch <= MAX_BATCH { "GEMV" } else { "GEMM" },
        gpu.info().name,
        target.display()
    );
    Ok(())
}
