//! `squeeze.attention_decode`: one query token over a contiguous or paged KV cache, dense or
//! sparse, as `squeeze run attention-decode`.
//!
//! `kv` is the cache format the given K and V are stored in before decoding (the design's
//! `kv=` parameter): f32 and f16 convert on the host; q8_0 and q4_0 (ggml's blocks of 32 along
//! d) are quantized on the GPU by the append kernel from the given float32 / float16 values.
//! int4 and int2 (KIVI) are not implemented: naming one is a `ValueError` listing the formats.

use half::f16;
use pyo3::prelude::*;
use squeeze::arrays::Array;
use squeeze::arrays::attention::{
    Cache, Kv, Params, Query, Select, attention_decode as run_decode,
};
use squeeze::attention::KvDtype;

use crate::device::{Device, resolve};
use crate::errors::{invalid, to_py};
use crate::input::Floats;
use crate::output;
use crate::params::{count, finite, int32_entries};

/// One of K and V in the cache format, with its shape.
struct Pool<T> {
    name: &'static str,
    shape: Vec<usize>,
    data: Vec<T>,
}

impl<T> Pool<T> {
    fn array(&self) -> Array<'_, T> {
        Array::new(self.name, &self.shape, &self.data)
    }
}

/// K and V converted to the cache format `kv`: f16 rounds to nearest even, f32 widens exactly.
enum Stored {
    F32(Pool<f32>, Pool<f32>),
    F16(Pool<f16>, Pool<f16>),
}

fn as_f32(x: &Floats<'_>) -> PyResult<Pool<f32>> {
    Ok(match x {
        Floats::F32(a) => {
            let a = a.array()?;
            Pool {
                name: a.name,
                shape: a.shape.to_vec(),
                data: a.data.to_vec(),
            }
        }
        Floats::F16(a) => {
            let a = a.array()?;
            Pool {
                name: a.name,
                shape: a.shape.to_vec(),
                data: a.data.iter().map(|h| h.to_f32()).collect(),
            }
        }
    })
}

fn as_f16(x: &Floats<'_>) -> PyResult<Pool<f16>> {
    Ok(match x {
        Floats::F32(a) => {
            let a = a.array()?;
            Pool {
                name: a.name,
                shape: a.shape.to_vec(),
                data: a.data.iter().map(|&f| f16::from_f32(f)).collect(),
            }
        }
        Floats::F16(a) => {
            let a = a.array()?;
            Pool {
                name: a.name,
                shape: a.shape.to_vec(),
                data: a.data.to_vec(),
            }
        }
    })
}

impl Stored {
    /// `k` and `v`, which must share a dtype (float32 or float16), in cache format `kv`.
    fn new(k: &Bound<'_, PyAny>, v: &Bound<'_, PyAny>, kv: &str) -> PyResult<Self> {
        let k = Floats::new("k", k)?;
        let v = Floats::new("v", v)?;
        let name = |x: &Floats<'_>| match x {
            Floats::F32(_) => "float32",
            Floats::F16(_) => "float16",
        };
        if name(&k) != name(&v) {
            return Err(invalid(
                "v",
                "dtype",
                format!("{} (as k)", name(&k)),
                name(&v),
            ));
        }
        match KvDtype::parse(kv).map_err(to_py)? {
            KvDtype::F32 => Ok(Stored::F32(as_f32(&k)?, as_f32(&v)?)),
            KvDtype::F16 => Ok(Stored::F16(as_f16(&k)?, as_f16(&v)?)),
            // Quantized on the GPU from the values as given.
            KvDtype::Q8_0 | KvDtype::Q4_0 | KvDtype::Int4 | KvDtype::Int2 => Ok(match k {
                Floats::F32(_) => Stored::F32(as_f32(&k)?, as_f32(&v)?),
                Floats::F16(_) => Stored::F16(as_f16(&k)?, as_f16(&v)?),
            }),
        }
    }

    fn kv(&self) -> Kv<'_> {
        match self {
            Stored::F32(k, v) => Kv::F32 {
                k: k.array(),
                v: v.array(),
            },
            Stored::F16(k, v) => Kv::F16 {
                k: k.array(),
                v: v.array(),
            },
        }
    }
}

/// Decode attention of one query token `q` `[q_heads, d]` (d = 64, 128, 256) over a KV cache:
/// contiguous `k`, `v` `[seq, kv_heads, d]` laid out on pages of `page_size` (default 16), or,
/// with `page_table` `[n_pages]` and `seq_len`, page pools `[pages, page_size, kv_heads, d]`.
/// Returns `(o, selected)`: `o` float32 `[q_heads, d]`; for sparse `select` (quest, token,
/// tokenselect) `selected` int32 `[kv_heads, k]` (kept pages or tokens, ascending, −1 padding
/// last), else None.
#[pyfunction]
#[pyo3(signature = (q, k, v, *, page_table=None, seq_len=None, page_size=None, scale=None, sink=0, window=0, select="none", budget=None, kv="f16", device=None))]
#[allow(clippy::too_many_arguments)] // the Python signature, plus `device`
pub fn attention_decode<'py>(
    py: Python<'py>,
    q: &Bound<'py, PyAny>,
    k: &Bound<'py, PyAny>,
    v: &Bound<'py, PyAny>,
    page_table: Option<&Bound<'py, PyAny>>,
    seq_len: Option<i64>,
    page_size: Option<i64>,
    scale: Option<f64>,
    sink: i64,
    window: i64,
    select: &str,
    budget: Option<i64>,
    kv: &str,
    device: Option<&Bound<'py, Device>>,
) -> PyResult<(Bound<'py, PyAny>, Option<Bound<'py, PyAny>>)> {
    let params = Params {
        page_size: page_size.map(|p| count("page_size", p)).transpose()?,
        scale: scale
            .map(|s| finite("scale", s).map(|s| s as f32))
            .transpose()?,
        sink: count("sink", sink)?,
        window: count("window", window)?,
        select: Select::parse(select).map_err(to_py)?,
        budget: budget.map(|b| count("budget", b)).transpose()?,
        kv: Some(KvDtype::parse(kv).map_err(to_py)?),
    };
    let stored = Stored::new(k, v, kv)?;
    let table = page_table
        .map(|t| int32_entries("page_table", t))
        .transpose()?;
    let cache = match (&table, seq_len) {
        (None, None) => Cache::Contiguous(stored.kv()),
        (None, Some(seq_len)) => {
            return Err(invalid(
                "seq_len",
                "parameter",
                "unset with a contiguous cache (its length is k's first dimension)",
                seq_len,
            ));
        }
        (Some(_), None) => {
            return Err(invalid(
                "seq_len",
                "parameter",
                "given with a page_table",
                "unset",
            ));
        }
        (Some((shape, data)), Some(seq_len)) => Cache::Paged {
            kv: stored.kv(),
            page_table: Array::new("page_table", shape, data),
            seq_len: count("seq_len", seq_len)?,
        },
    };
    let q = Floats::new("q", q)?;
    let query = match &q {
        Floats::F32(a) => Query::F32(a.array()?),
        Floats::F16(a) => Query::F16(a.array()?),
    };
    let gpu = resolve(py, device)?;
    let result = py
        .detach(|| run_decode(&gpu, query, cache, &params))
        .map_err(to_py)?;
    let o = output::array(py, result.o, &result.o_shape)?;
    let selected = result
        .selected
        .map(|(indices, shape)| output::array(py, indices, &shape))
        .transpose()?;
    Ok((o, selected))
}
