//! `squeeze run dequant` and `squeeze run matmul`: GGUF block or affine int4/int8 weights to
//! f32, or times activations, on the GPU.

use half::f16;
use safetensors::Dtype;
use squeeze::arrays::quant::{Activations, Weights};
use squeeze::arrays::{self, Array};
use squeeze::quant::Format;
use squeeze::{Error, Gpu};

use super::{Inputs, Kernel, Output, ParamDefault, ParamKind, ParamSpec, Settings, TensorSpec};

const W: TensorSpec = TensorSpec {
    name: "w",
    dtypes: "U8",
    shape: "[rows, row_bytes] raw GGUF blocks (GGUF formats)",
    required: false,
};
const QWEIGHT: TensorSpec = TensorSpec {
    name: "qweight",
    dtypes: "U32|I32",
    shape: "[rows, cols·bits/32] codes packed LSB-first (int4, int8)",
    required: false,
};
const SCALES: TensorSpec = TensorSpec {
    name: "scales",
    dtypes: "F16",
    shape: "[rows, cols/group] (int4, int8)",
    required: false,
};
const ZEROS: TensorSpec = TensorSpec {
    name: "zeros",
    dtypes: "F16",
    shape: "[rows, cols/group] zero points in code units; absent = symmetric",
    required: false,
};
const X: TensorSpec = TensorSpec {
    name: "x",
    dtypes: "F32|F16",
    shape: "[batch, cols]",
    required: true,
};
/// Every weight format `dequant` and `matmul` take.
const FORMATS: &[&str] = &[
    "q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "q2_k", "q3_k", "q4_k", "q5_k", "q6_k", "iq4_nl",
    "mxfp4", "int4", "int8",
];
const PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "format",
        kind: ParamKind::Choice(FORMATS),
        default: ParamDefault::Required,
        help: "a GGUF block format, or group-wise affine int4/int8",
    },
    ParamSpec {
        name: "cols",
        kind: ParamKind::Count,
        default: ParamDefault::Unset(
            "required for GGUF formats; affine formats take it from qweight",
        ),
        help: "weights per row",
    },
    ParamSpec {
        name: "group",
        kind: ParamKind::Count,
        default: ParamDefault::Unset("required for int4/int8; not used by GGUF formats"),
        help: "weights per scale (32 | 64 | 128)",
    },
];

pub const DEQUANT: Kernel = Kernel {
    name: "dequant",
    summary: "quantized weights (GGUF blocks or affine int4/int8) to f32",
    inputs: &[W, QWEIGHT, SCALES, ZEROS],
    params: PARAMS,
    outputs: &[TensorSpec {
        name: "y",
        dtypes: "F32",
        shape: "[rows, cols]",
        required: true,
    }],
    run: dequant,
};

pub const MATMUL: Kernel = Kernel {
    name: "matmul",
    summary: "y = x · Wᵀ for quantized W (GEMV for batch ≤ 8, GEMM above)",
    inputs: &[W, QWEIGHT, SCALES, ZEROS, X],
    params: PARAMS,
    outputs: &[TensorSpec {
        name: "y",
        dtypes: "F32",
        shape: "[batch, rows]",
        required: true,
    }],
    run: matmul,
};

/// A tensor's shape and elements.
type Shaped<T> = (Vec<usize>, Vec<T>);

/// Weights read from the input file, owned (a mapped file gives no alignment guarantee) in the
/// element types the kernels take.
enum Owned {
    Gguf {
        format: Format,
        cols: usize,
        shape: Vec<usize>,
        w: Vec<u8>,
    },
    Affine {
        bits: u32,
        group: u32,
        cols: Option<usize>,
        qweight: Shaped<u32>,
        scales: Shaped<f16>,
        zeros: Option<Shaped<f16>>,
    },
}

impl Owned {
    fn weights(&self) -> Weights<'_> {
        match self {
            Owned::Gguf {
                format,
                cols,
                shape,
                w,
            } => Weights::Gguf {
                format: *format,
                w: Array::new("w", shape, w),
                cols: *cols,
            },
            Owned::Affine {
                bits,
                group,
                cols,
                qweight,
                scales,
                zeros,
            } => Weights::Affine {
                bits: *bits,
                group: *group,
                qweight: Array::new("qweight", &qweight.0, &qweight.1),
                scales: Array::new("scales", &scales.0, &scales.1),
                zeros: zeros.as_ref().map(|z| Array::new("zeros", &z.0, &z.1)),
                cols: *cols,
            },
        }
    }
}

fn load(inputs: &Inputs, settings: &Settings) -> Result<Owned, Error> {
    let format: String = settings.get("format")?;
    let bits = match format.as_str() {
        "int4" => 4,
        "int8" => 8,
        _ => return load_gguf(inputs, settings, format.parse()?),
    };
    let group = settings.get("group")?;
    let q = inputs.get("qweight")?;
    q.expect_dtype(&[Dtype::U32, Dtype::I32])?;
    let table = |name: &'static str| -> Result<Option<Shaped<f16>>, Error> {
        let Some(t) = inputs.optional(name) else {
            return Ok(None);
        };
        t.expect_dtype(&[Dtype::F16])?;
        Ok(Some((t.shape.to_vec(), t.to_vec())))
    };
    let scales = table("scales")?
        .ok_or_else(|| Error::invalid("scales", "tensor", "present for int4/int8", "missing"))?;
    Ok(Owned::Affine {
        bits,
        group,
        cols: settings.optional("cols")?,
        qweight: (q.shape.to_vec(), q.to_vec()),
        scales,
        zeros: table("zeros")?,
    })
}

fn load_gguf(inputs: &Inputs, settings: &Settings, format: Format) -> Result<Owned, Error> {
    for name in ["qweight", "scales", "zeros"] {
        if inputs.optional(name).is_some() {
            return Err(Error::invalid(
                name,
                "tensor",
                format!("absent for {format}"),
                "present",
            ));
        }
    }
    if settings.given("group") {
        return Err(Error::invalid(
            "group",
            "parameter",
            format!("unset for {format} (only int4/int8 have groups)"),
            settings.text("group").unwrap_or_default(),
        ));
    }
    let cols: usize = settings.get("cols")?;
    let w = inputs.get("w")?;
    w.expect_dtype(&[Dtype::U8])?;
    Ok(Owned::Gguf {
        format,
        cols,
        shape: w.shape.to_vec(),
        w: w.data.to_vec(),
    })
}

fn dequant(gpu: &Gpu, inputs: &Inputs, settings: &Settings) -> Result<Vec<Output>, Error> {
    let owned = load(inputs, settings)?;
    let y = arrays::quant::dequantize(gpu, owned.weights())?;
    Ok(vec![Output::f32("y", y.shape.to_vec(), &y.values)])
}

fn matmul(gpu: &Gpu, inputs: &Inputs, settings: &Settings) -> Result<Vec<Output>, Error> {
    let owned = load(inputs, settings)?;
    let x = inputs.get("x")?;
    let y = match x.expect_dtype(&[Dtype::F32, Dtype::F16])? {
        Dtype::F16 => {
            let data: Vec<f16> = x.to_vec();
            let x = Activations::F16(Array::new("x", x.shape, &data));
            arrays::quant::matmul(gpu, owned.weights(), x)?
        }
        _ => {
            let data: Vec<f32> = x.to_vec();
            let x = Activations::F32(Array::new("x", x.shape, &data));
            arrays::quant::matmul(gpu, owned.weights(), x)?
        }
    };
    Ok(vec![Output::f32("y", y.shape.to_vec(), &y.values)])
}
