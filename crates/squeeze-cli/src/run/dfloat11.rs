//! `squeeze run dfloat11-decode`: the DF11 tensors of one unit to BF16 on the GPU; and
//! `squeeze run dfloat11-gemv`: y = x · Wᵀ with W [rows, cols] given as one DF11 unit, decoded
//! inside the GEMV.

use safetensors::Dtype;
use squeeze::dfloat11::{Checked, Decode, Gemv, Layout, Unit};
use squeeze::{Error, Gpu};

use super::{Inputs, Kernel, Output, ParamDefault, ParamKind, ParamSpec, Settings, TensorSpec};

const fn u8_input(name: &'static str, shape: &'static str, required: bool) -> TensorSpec {
    TensorSpec {
        name,
        dtypes: "U8",
        shape,
        required,
    }
}

/// The tensors of one unit.
macro_rules! unit_inputs {
    ($($extra:expr),*) => {
        &[
            u8_input("luts", "[n_luts, 256]", true),
            u8_input("encoded_exponent", "[bytes]", true),
            u8_input("sign_mantissa", "[n]", true),
            u8_input(
                "output_positions",
                "[4 · (blocks + 1)] u32 little-endian",
                true,
            ),
            u8_input("gaps", "[bytes] 5-bit, MSB first", true),
            TensorSpec {
                name: "split_positions",
                dtypes: "I64",
                shape: "[k] (checked, not applied)",
                required: false,
            },
            $($extra),*
        ]
    };
}

/// The unit's layout.
const LAYOUT: [ParamSpec; 2] = [
    ParamSpec {
        name: "threads_per_block",
        kind: ParamKind::Count,
        default: ParamDefault::Value("512"),
        help: "dfloat11_config.threads_per_block: 256 | 512 | 1024 (gemv: 256 | 512)",
    },
    ParamSpec {
        name: "bytes_per_thread",
        kind: ParamKind::Count,
        default: ParamDefault::Value("8"),
        help: "dfloat11_config.bytes_per_thread: 8",
    },
];

pub const DFLOAT11_DECODE: Kernel = Kernel {
    name: "dfloat11-decode",
    summary: "one DFloat11 unit (the tensors of group G, without the `G.`) to BF16, bit-exact",
    inputs: unit_inputs!(),
    params: &LAYOUT,
    outputs: &[TensorSpec {
        name: "y",
        dtypes: "BF16",
        shape: "[n]",
        required: true,
    }],
    run: decode,
};

const X: TensorSpec = TensorSpec {
    name: "x",
    dtypes: "F32",
    shape: "[batch, cols], batch 1..=8",
    required: true,
};

pub const DFLOAT11_GEMV: Kernel = Kernel {
    name: "dfloat11-gemv",
    summary: "y = x · Wᵀ, W [rows, cols] BF16 as one DFloat11 unit decoded inside the GEMV",
    inputs: unit_inputs!(X),
    params: &LAYOUT,
    outputs: &[TensorSpec {
        name: "y",
        dtypes: "F32",
        shape: "[batch, rows], rows = n / cols",
        required: true,
    }],
    run: gemv,
};

fn decode(gpu: &Gpu, inputs: &Inputs, settings: &Settings) -> Result<Vec<Output>, Error> {
    let (checked, layout) = load_unit(inputs, settings)?;
    let y = Decode::new(gpu, layout)?.run(&checked)?;
    Ok(vec![Output::bf16("y", vec![y.len()], &y)])
}

fn gemv(gpu: &Gpu, inputs: &Inputs, settings: &Settings) -> Result<Vec<Output>, Error> {
    let (checked, layout) = load_unit(inputs, settings)?;
    let x = inputs.get("x")?;
    x.expect_dtype(&[Dtype::F32])?;
    let [batch, cols] = x.dims()?;
    let rows = checked.n / cols.max(1);
    let y = Gemv::new(gpu, layout)?.run(&checked, rows, cols, &x.to_vec(), batch)?;
    Ok(vec![Output::f32("y", vec![batch, rows], &y)])
}

/// The unit's tensors from the input file, validated against the layout the settings give.
fn load_unit<'a>(inputs: &'a Inputs, settings: &Settings) -> Result<(Checked<'a>, Layout), Error> {
    let layout = Layout {
        threads_per_block: settings.get("threads_per_block")?,
        bytes_per_thread: settings.get("bytes_per_thread")?,
    };
    let bytes = |name| -> Result<&[u8], Error> {
        let t = inputs.get(name)?;
        t.expect_dtype(&[Dtype::U8])?;
        Ok(t.data)
    };
    let split_positions = match inputs.optional("split_positions") {
        None => Vec::new(),
        Some(t) => {
            t.expect_dtype(&[Dtype::I64])?;
            bytemuck::pod_collect_to_vec(t.data)
        }
    };
    let unit = Unit {
        luts: bytes("luts")?,
        encoded_exponent: bytes("encoded_exponent")?,
        sign_mantissa: bytes("sign_mantissa")?,
        output_positions: bytes("output_positions")?,
        gaps: bytes("gaps")?,
        split_positions,
    };
    Ok((unit.validate("input", layout)?, layout))
}
