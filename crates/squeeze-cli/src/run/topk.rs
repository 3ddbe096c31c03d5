//! `squeeze run topk`: exact top-k of each row on the GPU, as torch.topk ranks (NaN above +inf,
//! ties to the lower index), values in the input dtype and i32 indices, best first.

use half::{bf16, f16};
use safetensors::Dtype;
use squeeze::arrays::{self, Array};
use squeeze::topk::reference::Score;
use squeeze::{Error, Gpu};

use super::tensors::Tensor;
use super::{Inputs, Kernel, Output, ParamDefault, ParamKind, ParamSpec, Settings, TensorSpec};

pub const TOPK: Kernel = Kernel {
    name: "topk",
    summary: "exact top-k of each row: values and indices best first, ties to the lower index",
    inputs: &[
        TensorSpec {
            name: "x",
            dtypes: "F32|F16|BF16",
            shape: "[rows, n]",
            required: true,
        },
        TensorSpec {
            name: "lengths",
            dtypes: "I32",
            shape: "[rows] valid elements of each row, 0..=n",
            required: false,
        },
    ],
    params: &[
        ParamSpec {
            name: "k",
            kind: ParamKind::Count,
            default: ParamDefault::Required,
            help: "elements kept per row, 1 ≤ k ≤ n",
        },
        ParamSpec {
            name: "largest",
            kind: ParamKind::Bool,
            default: ParamDefault::Value("true"),
            help: "true: largest first (NaN above +inf); false: smallest first (NaN last)",
        },
    ],
    outputs: &[
        TensorSpec {
            name: "values",
            dtypes: "F32|F16|BF16 (as x)",
            shape: "[rows, k]; rows shorter than k padded with -inf (largest) or +inf",
            required: true,
        },
        TensorSpec {
            name: "indices",
            dtypes: "I32",
            shape: "[rows, k]; -1 in padding slots",
            required: true,
        },
    ],
    run: topk,
};

fn topk(gpu: &Gpu, inputs: &Inputs, settings: &Settings) -> Result<Vec<Output>, Error> {
    let k: usize = settings.get("k")?;
    let largest: bool = settings.get("largest")?;
    let x = inputs.get("x")?;
    let dtype = x.expect_dtype(&[Dtype::F32, Dtype::F16, Dtype::BF16])?;
    let lengths = match inputs.optional("lengths") {
        None => None,
        Some(t) => {
            t.expect_dtype(&[Dtype::I32])?;
            Some((t.shape, t.to_vec::<i32>()))
        }
    };
    let lengths = lengths
        .as_ref()
        .map(|(shape, data)| Array::new("lengths", shape, data));
    match dtype {
        Dtype::F16 => select::<f16>(gpu, &x, k, largest, lengths),
        Dtype::BF16 => select::<bf16>(gpu, &x, k, largest, lengths),
        _ => select::<f32>(gpu, &x, k, largest, lengths),
    }
}

fn select<T: Score>(
    gpu: &Gpu,
    x: &Tensor<'_>,
    k: usize,
    largest: bool,
    lengths: Option<Array<'_, i32>>,
) -> Result<Vec<Output>, Error> {
    let data: Vec<T> = x.to_vec();
    let top = arrays::topk::topk(gpu, Array::new(x.name, x.shape, &data), k, largest, lengths)?;
    let dtype = match T::DTYPE {
        squeeze::DType::F16 => Dtype::F16,
        squeeze::DType::Bf16 => Dtype::BF16,
        _ => Dtype::F32,
    };
    let shape = top.shape.to_vec();
    Ok(vec![
        Output {
            name: "values",
            dtype,
            shape: shape.clone(),
            data: bytemuck::cast_slice(&top.values).to_vec(),
        },
        Output {
            name: "indices",
            dtype: Dtype::I32,
            shape,
            data: bytemuck::cast_slice(&top.indices).to_vec(),
        },
    ])
}
