//! `squeeze run dequant`: quantized weights to f32 on the GPU.

use safetensors::Dtype;
use squeeze::quant::{Dequantize, Format};
use squeeze::{Error, Gpu};

use super::{Inputs, Kernel, Output, ParamSpec, Settings, TensorSpec};

pub const DEQUANT: Kernel = Kernel {
    name: "dequant",
    summary: "GGUF block-quantized weights to f32",
    inputs: &[TensorSpec {
        name: "w",
        dtypes: "U8",
        shape: "[rows, row_bytes] raw GGUF blocks",
        required: true,
    }],
    params: &[
        ParamSpec {
            name: "format",
            default: None,
            help: "q8_0 | q4_0 | q4_1",
        },
        ParamSpec {
            name: "cols",
            default: None,
            help: "weights per row, a multiple of the block size",
        },
    ],
    outputs: &[TensorSpec {
        name: "y",
        dtypes: "F32",
        shape: "[rows, cols]",
        required: true,
    }],
    run: dequant,
};

fn dequant(gpu: &Gpu, inputs: &Inputs, settings: &Settings) -> Result<Vec<Output>, Error> {
    let format: Format = settings.get("format")?;
    let cols: usize = settings.get("cols")?;
    let w = inputs.get("w")?;
    w.expect_dtype(&[Dtype::U8])?;
    let [rows, row_bytes] = w.dims()?;
    let expected = format.row_bytes(cols)?;
    if row_bytes != expected {
        return Err(Error::invalid(
            "w",
            "row bytes (shape[1])",
            format!("{expected} for {cols} {format} weights"),
            row_bytes,
        ));
    }
    let y = Dequantize::new(gpu, format)?.run(w.data, cols)?;
    Ok(vec![Output::f32("y", vec![rows, cols], &y)])
}
