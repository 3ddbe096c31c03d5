//! `squeeze run dfloat11-native-decode`: the tensors of one native unit to BF16 on the GPU in
//! one pass; and `squeeze run dfloat11-native-gemv`: y = x · Wᵀ with W [rows, cols] given as
//! one native unit, decoded inside the GEMV.

use safetensors::Dtype;
use squeeze::dfloat11::native::NativeUnit;
use squeeze::dfloat11::native::decode::NativeDecode;
use squeeze::dfloat11::native::gemv::NativeGemv;
use squeeze::{Error, Gpu};

use super::{Inputs, Kernel, Output, ParamDefault, ParamKind, ParamSpec, Settings, TensorSpec};

const fn input(name: &'static str, dtypes: &'static str, shape: &'static str) -> TensorSpec {
    TensorSpec {
        name,
        dtypes,
        shape,
        required: true,
    }
}

/// The tensors of one unit (`W.<tensor>` of a native file, without the `W.`).
macro_rules! unit_inputs {
    ($($extra:expr),*) => {
        &[
            input("lengths", "U8", "[256]"),
            input("exponents", "U32", "[words]"),
            input("sign_mantissa", "U8", "[rows · cols]"),
            input("tile_offsets", "U32", "[⌈chunks / 32⌉ + 1]"),
            input("chunk_offsets", "U16", "[chunks], chunks = rows · ⌈cols / 128⌉"),
            $($extra),*
        ]
    };
}

pub const NATIVE_DECODE: Kernel = Kernel {
    name: "dfloat11-native-decode",
    summary: "one native-format unit (the tensors of weight W, without the `W.`) to BF16, bit-exact, one pass",
    inputs: unit_inputs!(),
    params: &[ParamSpec {
        name: "cols",
        kind: ParamKind::Count,
        default: ParamDefault::Required,
        help: "columns of W (the last dimension); rows = len(sign_mantissa) / cols",
    }],
    outputs: &[TensorSpec {
        name: "y",
        dtypes: "BF16",
        shape: "[rows, cols]",
        required: true,
    }],
    run: decode,
};

pub const NATIVE_GEMV: Kernel = Kernel {
    name: "dfloat11-native-gemv",
    summary: "y = x · Wᵀ, W [rows, cols] BF16 as one native-format unit decoded inside the GEMV",
    inputs: unit_inputs!(input("x", "F32", "[batch, cols], batch 1..=8")),
    params: &[],
    outputs: &[TensorSpec {
        name: "y",
        dtypes: "F32",
        shape: "[batch, rows], rows = len(sign_mantissa) / cols",
        required: true,
    }],
    run: gemv,
};

fn decode(gpu: &Gpu, inputs: &Inputs, settings: &Settings) -> Result<Vec<Output>, Error> {
    let cols: usize = settings.get("cols")?;
    with_unit(inputs, cols, |unit| {
        let checked = unit.validate("input")?;
        let y = NativeDecode::new(gpu)?.run(&checked)?;
        Ok(vec![Output::bf16("y", vec![unit.rows, cols], &y)])
    })
}

fn gemv(gpu: &Gpu, inputs: &Inputs, _: &Settings) -> Result<Vec<Output>, Error> {
    let x = inputs.get("x")?;
    x.expect_dtype(&[Dtype::F32])?;
    let [batch, cols] = x.dims()?;
    with_unit(inputs, cols, |unit| {
        let checked = unit.validate("input")?;
        let y = NativeGemv::new(gpu)?.run(&checked, &x.to_vec(), batch)?;
        Ok(vec![Output::f32("y", vec![batch, unit.rows], &y)])
    })
}

/// Runs `f` on the unit the input tensors hold, a matrix of `cols` columns.
fn with_unit(
    inputs: &Inputs,
    cols: usize,
    f: impl FnOnce(NativeUnit<'_>) -> Result<Vec<Output>, squeeze::dfloat11::Df11Error>,
) -> Result<Vec<Output>, Error> {
    let bytes = |name, dtype| -> Result<&[u8], Error> {
        let t = inputs.get(name)?;
        t.expect_dtype(&[dtype])?;
        Ok(t.data)
    };
    let sign_mantissa = bytes("sign_mantissa", Dtype::U8)?;
    if cols == 0 || !sign_mantissa.len().is_multiple_of(cols) {
        return Err(Error::invalid(
            "cols",
            "value",
            format!(
                "a nonzero divisor of len(sign_mantissa) = {}",
                sign_mantissa.len()
            ),
            cols,
        ));
    }
    let unit = NativeUnit {
        rows: sign_mantissa.len() / cols,
        cols,
        lengths: bytes("lengths", Dtype::U8)?,
        exponents: bytes("exponents", Dtype::U32)?,
        sign_mantissa,
        tile_offsets: bytes("tile_offsets", Dtype::U32)?,
        chunk_offsets: bytes("chunk_offsets", Dtype::U16)?,
    };
    Ok(f(unit)?)
}
