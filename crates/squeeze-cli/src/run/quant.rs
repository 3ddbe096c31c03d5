//! `squeeze run dequant` and `squeeze run matmul`: GGUF block or affine int4/int8 weights to
//! f32, or times activations, on the GPU.

use half::f16;
use safetensors::Dtype;
use squeeze::quant::{
    Activations, Affine, AffineWeights, Dequantize, Format, HostWeights, Matmul, Scheme,
};
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

/// Weights read from the input file, owned in the layout the kernels take.
enum Weights {
    Gguf(Vec<u8>),
    Affine(AffineWeights),
}

struct Matrix {
    scheme: Scheme,
    rows: usize,
    cols: usize,
    weights: Weights,
}

impl Matrix {
    fn host(&self) -> HostWeights<'_> {
        match &self.weights {
            Weights::Gguf(blocks) => HostWeights::Gguf(blocks),
            Weights::Affine(w) => HostWeights::Affine(w.as_ref()),
        }
    }
}

fn load(inputs: &Inputs, settings: &Settings) -> Result<Matrix, Error> {
    let format: String = settings.get("format")?;
    let bits = match format.as_str() {
        "int4" => 4,
        "int8" => 8,
        _ => return load_gguf(inputs, settings, format.parse()?),
    };
    let affine = Affine::new(
        bits,
        settings.get("group")?,
        inputs.optional("zeros").is_some(),
    )?;
    let q = inputs.get("qweight")?;
    q.expect_dtype(&[Dtype::U32, Dtype::I32])?;
    let [rows, words] = q.dims()?;
    let cols = words * 32 / bits as usize;
    if let Some(c) = settings.text("cols")
        && c.parse::<usize>().ok() != Some(cols)
    {
        return Err(Error::invalid(
            "cols",
            "parameter",
            format!("{cols} (from qweight's shape) or unset"),
            c,
        ));
    }
    let table = |name: &'static str| -> Result<Option<Vec<f16>>, Error> {
        let Some(t) = inputs.optional(name) else {
            return Ok(None);
        };
        t.expect_dtype(&[Dtype::F16])?;
        let groups = cols / affine.group() as usize;
        if t.dims::<2>()? != [rows, groups] {
            return Err(Error::invalid(
                name,
                "shape",
                format!("[{rows}, {groups}]"),
                format!("{:?}", t.shape),
            ));
        }
        Ok(Some(t.to_vec()))
    };
    let scales = table("scales")?
        .ok_or_else(|| Error::invalid("scales", "tensor", "present for int4/int8", "missing"))?;
    let weights = AffineWeights {
        qweight: q.to_vec(),
        scales,
        zeros: table("zeros")?,
    };
    affine.rows(weights.as_ref(), cols)?;
    Ok(Matrix {
        scheme: affine.into(),
        rows,
        cols,
        weights: Weights::Affine(weights),
    })
}

fn load_gguf(inputs: &Inputs, settings: &Settings, format: Format) -> Result<Matrix, Error> {
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
    Ok(Matrix {
        scheme: format.into(),
        rows,
        cols,
        weights: Weights::Gguf(w.data.to_vec()),
    })
}

fn dequant(gpu: &Gpu, inputs: &Inputs, settings: &Settings) -> Result<Vec<Output>, Error> {
    let m = load(inputs, settings)?;
    let y = Dequantize::new(gpu, m.scheme)?.run(m.host(), m.cols)?;
    Ok(vec![Output::f32("y", vec![m.rows, m.cols], &y)])
}

fn matmul(gpu: &Gpu, inputs: &Inputs, settings: &Settings) -> Result<Vec<Output>, Error> {
    let m = load(inputs, settings)?;
    let x = inputs.get("x")?;
    let [batch, cols] = x.dims()?;
    if cols != m.cols {
        return Err(Error::invalid(
            "x",
            "shape[1]",
            format!("{} (the weights' cols)", m.cols),
            cols,
        ));
    }
    let kernel = Matmul::new(gpu, m.scheme)?;
    let y = match x.expect_dtype(&[Dtype::F32, Dtype::F16])? {
        Dtype::F16 => kernel.run(m.host(), m.cols, Activations::F16(&x.to_vec()))?,
        _ => kernel.run(m.host(), m.cols, Activations::F32(&x.to_vec()))?,
    };
    Ok(vec![Output::f32("y", vec![batch, m.rows], &y)])
}
