//! `squeeze run topk`: exact top-k of each row on the GPU, as torch.topk ranks (NaN above +inf,
//! ties to the lower index), values in the input dtype and i32 indices, best first.

use half::{bf16, f16};
use safetensors::Dtype;
use squeeze::topk::reference::Score;
use squeeze::topk::{Order, TopK};
use squeeze::{Error, Gpu};

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
    let order = if settings.get::<bool>("largest")? {
        Order::Largest
    } else {
        Order::Smallest
    };
    let x = inputs.get("x")?;
    let dtype = x.expect_dtype(&[Dtype::F32, Dtype::F16, Dtype::BF16])?;
    let [rows, n] = x.dims()?;
    let lengths = match inputs.optional("lengths") {
        None => None,
        Some(t) => {
            t.expect_dtype(&[Dtype::I32])?;
            let [count] = t.dims()?;
            if count != rows {
                return Err(Error::invalid(
                    "lengths",
                    "shape",
                    format!("[{rows}] (one per row of x)"),
                    format!("[{count}]"),
                ));
            }
            let values: Vec<i32> = bytemuck::pod_collect_to_vec(t.data);
            let lengths = values
                .iter()
                .map(|&l| {
                    u32::try_from(l).map_err(|_| Error::invalid("lengths", "entry", "≥ 0", l))
                })
                .collect::<Result<Vec<u32>, Error>>()?;
            Some(lengths)
        }
    };
    let lengths = lengths.as_deref();
    match dtype {
        Dtype::F16 => select::<f16>(gpu, x.data, (rows, n, k), order, lengths),
        Dtype::BF16 => select::<bf16>(gpu, x.data, (rows, n, k), order, lengths),
        _ => select::<f32>(gpu, x.data, (rows, n, k), order, lengths),
    }
}

fn select<T: Score>(
    gpu: &Gpu,
    bytes: &[u8],
    (rows, n, k): (usize, usize, usize),
    order: Order,
    lengths: Option<&[u32]>,
) -> Result<Vec<Output>, Error> {
    let x: Vec<T> = bytemuck::pod_collect_to_vec(bytes);
    let (values, indices) = TopK::new(gpu, T::DTYPE)?.run(&x, n, k, order, lengths)?;
    let dtype = match T::DTYPE {
        squeeze::DType::F16 => Dtype::F16,
        squeeze::DType::Bf16 => Dtype::BF16,
        _ => Dtype::F32,
    };
    Ok(vec![
        Output {
            name: "values",
            dtype,
            shape: vec![rows, k],
            data: bytemuck::cast_slice(&values).to_vec(),
        },
        Output {
            name: "indices",
            dtype: Dtype::I32,
            shape: vec![rows, k],
            data: bytemuck::cast_slice(&indices).to_vec(),
        },
    ])
}
