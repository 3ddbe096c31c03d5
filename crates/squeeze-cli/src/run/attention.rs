//! `squeeze run attention-decode`: one query token against a contiguous or paged KV cache —
//! dense, sinks + window, or a sparse step (Quest pages, TidalDecode-style summed logits,
//! TokenSelect soft voting) — with the kept indices for sparse runs.

use half::f16;
use safetensors::Dtype;
use squeeze::arrays::Array;
use squeeze::arrays::attention::{
    Cache, Kv, Params, Query, Select, attention_decode as attention_decode_arrays,
};
use squeeze::attention::KvDtype;
use squeeze::{Error, Gpu};

use super::tensors::Tensor;
use super::{Inputs, Kernel, Output, ParamDefault, ParamKind, ParamSpec, Settings, TensorSpec};

pub const ATTENTION_DECODE: Kernel = Kernel {
    name: "attention-decode",
    summary: "decode attention of one query token over a contiguous or paged KV cache, dense or sparse",
    inputs: &[
        TensorSpec {
            name: "q",
            dtypes: "F32|F16",
            shape: "[q_heads, d], d = 64 | 128 | 256",
            required: true,
        },
        TensorSpec {
            name: "k",
            dtypes: "F32|F16",
            shape: "[seq, kv_heads, d] (contiguous cache)",
            required: false,
        },
        TensorSpec {
            name: "v",
            dtypes: "F32|F16 (as k)",
            shape: "[seq, kv_heads, d] (contiguous cache)",
            required: false,
        },
        TensorSpec {
            name: "k_pages",
            dtypes: "F32|F16",
            shape: "[pages, page_size, kv_heads, d] (paged cache)",
            required: false,
        },
        TensorSpec {
            name: "v_pages",
            dtypes: "F32|F16 (as k_pages)",
            shape: "[pages, page_size, kv_heads, d] (paged cache)",
            required: false,
        },
        TensorSpec {
            name: "page_table",
            dtypes: "I32",
            shape: "[n_pages] pool pages of the sequence, in order (paged cache)",
            required: false,
        },
    ],
    params: &[
        ParamSpec {
            name: "seq_len",
            kind: ParamKind::Count,
            default: ParamDefault::Unset("required with k_pages; not used by a contiguous cache"),
            help: "tokens in the paged sequence",
        },
        ParamSpec {
            name: "scale",
            kind: ParamKind::Number,
            default: ParamDefault::Unset("1/sqrt(d)"),
            help: "softmax scale",
        },
        ParamSpec {
            name: "sink",
            kind: ParamKind::Count,
            default: ParamDefault::Value("0"),
            help: "first tokens always attended",
        },
        ParamSpec {
            name: "window",
            kind: ParamKind::Count,
            default: ParamDefault::Value("0"),
            help: "last tokens always attended; with select=none, sink or window > 0 attends to those only",
        },
        ParamSpec {
            name: "select",
            kind: ParamKind::Choice(Select::NAMES),
            default: ParamDefault::Value("none"),
            help: "selection: quest (pages), token (summed logits, TidalDecode), tokenselect (soft voting)",
        },
        ParamSpec {
            name: "budget",
            kind: ParamKind::Count,
            default: ParamDefault::Unset(
                "required by select=quest|token|tokenselect; not used by select=none",
            ),
            help: "tokens kept by a sparse run, sinks and window included (Quest: whole pages)",
        },
        ParamSpec {
            name: "kv",
            kind: ParamKind::Choice(KvDtype::NAMES),
            default: ParamDefault::Unset("the dtype of k / k_pages"),
            help: "cache format k and v are stored in on the GPU before decoding (q8_0, q4_0: ggml's blocks of 32 along d; int4, int2: KIVI's, K per channel over each page, V per token over 32 channels, the last partial page in f16; quantized by the append kernel)",
        },
        ParamSpec {
            name: "page_size",
            kind: ParamKind::Count,
            default: ParamDefault::Unset(
                "16 for a contiguous cache; a paged cache has it in its shape",
            ),
            help: "tokens per page a contiguous cache is laid out on",
        },
    ],
    outputs: &[
        TensorSpec {
            name: "o",
            dtypes: "F32",
            shape: "[q_heads, d]",
            required: true,
        },
        TensorSpec {
            name: "selected",
            dtypes: "I32",
            shape: "[kv_heads, k] kept pages (quest) or tokens, ascending, -1 padding last (sparse runs)",
            required: false,
        },
    ],
    run: attention_decode,
};

fn same_as(t: &Tensor<'_>, other: &Tensor<'_>) -> Result<(), Error> {
    if t.dtype != other.dtype || t.shape != other.shape {
        return Err(Error::invalid(
            t.name,
            "dtype and shape",
            format!("{:?} {:?} (as {})", other.dtype, other.shape, other.name),
            format!("{:?} {:?}", t.dtype, t.shape),
        ));
    }
    Ok(())
}

/// One tensor's name and shape with its elements copied out of the mapped file (which gives no
/// alignment guarantee).
struct Owned<'a, T> {
    name: &'static str,
    shape: &'a [usize],
    data: Vec<T>,
}

impl<'a, T: bytemuck::Pod> Owned<'a, T> {
    fn new(t: &Tensor<'a>) -> Self {
        Self {
            name: t.name,
            shape: t.shape,
            data: t.to_vec(),
        }
    }

    fn array(&self) -> Array<'_, T> {
        Array::new(self.name, self.shape, &self.data)
    }
}

/// K and V, which must agree in dtype and shape.
enum OwnedKv<'a> {
    F32(Owned<'a, f32>, Owned<'a, f32>),
    F16(Owned<'a, f16>, Owned<'a, f16>),
}

impl<'a> OwnedKv<'a> {
    fn new(k: &Tensor<'a>, v: &Tensor<'a>) -> Result<Self, Error> {
        same_as(v, k)?;
        Ok(match k.expect_dtype(&[Dtype::F32, Dtype::F16])? {
            Dtype::F16 => OwnedKv::F16(Owned::new(k), Owned::new(v)),
            _ => OwnedKv::F32(Owned::new(k), Owned::new(v)),
        })
    }

    fn kv(&self) -> Kv<'_> {
        match self {
            OwnedKv::F32(k, v) => Kv::F32 {
                k: k.array(),
                v: v.array(),
            },
            OwnedKv::F16(k, v) => Kv::F16 {
                k: k.array(),
                v: v.array(),
            },
        }
    }
}

fn attention_decode(gpu: &Gpu, inputs: &Inputs, settings: &Settings) -> Result<Vec<Output>, Error> {
    let params = decode_params(settings)?;
    let owned = OwnedCache::new(inputs, settings)?;
    let q = inputs.get("q")?;
    let result = match q.expect_dtype(&[Dtype::F32, Dtype::F16])? {
        Dtype::F16 => {
            let data: Vec<f16> = q.to_vec();
            let q = Query::F16(Array::new("q", q.shape, &data));
            attention_decode_arrays(gpu, q, owned.cache(), &params)?
        }
        _ => {
            let data: Vec<f32> = q.to_vec();
            let q = Query::F32(Array::new("q", q.shape, &data));
            attention_decode_arrays(gpu, q, owned.cache(), &params)?
        }
    };
    let mut outputs = vec![Output::f32("o", result.o_shape.to_vec(), &result.o)];
    if let Some((selected, shape)) = result.selected {
        outputs.push(Output {
            name: "selected",
            dtype: Dtype::I32,
            shape: shape.to_vec(),
            data: bytemuck::cast_slice(&selected).to_vec(),
        });
    }
    Ok(outputs)
}

/// The `--set` parameters of `attention-decode`.
fn decode_params(settings: &Settings) -> Result<Params, Error> {
    Ok(Params {
        page_size: settings.optional("page_size")?,
        scale: settings.optional("scale")?,
        sink: settings.get("sink")?,
        window: settings.get("window")?,
        select: Select::parse(&settings.get::<String>("select")?)?,
        budget: settings.optional("budget")?,
        kv: settings
            .optional::<String>("kv")?
            .map(|name| KvDtype::parse(&name))
            .transpose()?,
    })
}

/// The cache `attention-decode` was given: contiguous `k`, `v`, or `k_pages`, `v_pages` and a
/// `page_table` with `--set seq_len`.
struct OwnedCache<'a> {
    kv: OwnedKv<'a>,
    paged: Option<(Owned<'a, i32>, u32)>,
}

impl<'a> OwnedCache<'a> {
    fn new(inputs: &'a Inputs, settings: &Settings) -> Result<Self, Error> {
        match (
            inputs.optional("k"),
            inputs.optional("v"),
            inputs.optional("k_pages"),
        ) {
            (Some(k), Some(v), None) => {
                if settings.given("seq_len") {
                    return Err(Error::invalid(
                        "seq_len",
                        "parameter",
                        "unset with a contiguous cache (its length is k's first dimension)",
                        settings.text("seq_len").unwrap_or_default(),
                    ));
                }
                Ok(Self {
                    kv: OwnedKv::new(&k, &v)?,
                    paged: None,
                })
            }
            (None, None, Some(k)) => {
                let kv = OwnedKv::new(&k, &inputs.get("v_pages")?)?;
                let t = inputs.get("page_table")?;
                t.expect_dtype(&[Dtype::I32])?;
                let seq_len: u32 = settings.get("seq_len")?;
                Ok(Self {
                    kv,
                    paged: Some((Owned::new(&t), seq_len)),
                })
            }
            _ => Err(Error::invalid(
                "IN",
                "tensors",
                "k and v, or k_pages, v_pages and page_table",
                "another combination",
            )),
        }
    }

    fn cache(&self) -> Cache<'_> {
        match &self.paged {
            None => Cache::Contiguous(self.kv.kv()),
            Some((table, seq_len)) => Cache::Paged {
                kv: self.kv.kv(),
                page_table: table.array(),
                seq_len: *seq_len,
            },
        }
    }
}
