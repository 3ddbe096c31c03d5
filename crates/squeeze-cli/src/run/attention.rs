//! `squeeze run attention-decode`: one query token against a contiguous or paged KV cache —
//! dense, sinks + window, or a sparse step (Quest pages, TidalDecode-style summed logits,
//! TokenSelect soft voting) — with the kept indices for sparse runs.

use half::f16;
use safetensors::Dtype;
use squeeze::attention::decode::HeadPolicy;
use squeeze::attention::host::{HostKv, Uploaded, run_decode, run_sparse};
use squeeze::attention::{Budget, CacheLayout, KvDtype, PageTable, Selector};
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
            kind: ParamKind::Choice(&["none", "quest", "token", "tokenselect"]),
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

/// The cache as one sequence: layout, table, K and V (in the cache's dtype, as raw bytes).
struct Cache {
    layout: CacheLayout,
    table: PageTable,
    k: Vec<u8>,
    v: Vec<u8>,
}

fn kv_dtype(t: &Tensor<'_>) -> Result<KvDtype, Error> {
    Ok(match t.expect_dtype(&[Dtype::F32, Dtype::F16])? {
        Dtype::F16 => KvDtype::F16,
        _ => KvDtype::F32,
    })
}

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

fn to_u32(value: usize, arg: &'static str) -> Result<u32, Error> {
    u32::try_from(value).map_err(|_| Error::invalid(arg, "size", "< 2^32", value))
}

/// A contiguous `[seq, kv_heads, d]` cache laid out on pages of `page_size`, the last page
/// zero-padded.
fn contiguous(k: &Tensor<'_>, v: &Tensor<'_>, page_size: u32) -> Result<Cache, Error> {
    same_as(v, k)?;
    let dtype = kv_dtype(k)?;
    let [seq, kv_heads, d] = k.dims()?;
    let (table, pages) = PageTable::contiguous(&[to_u32(seq, "k")?], page_size.max(1));
    let layout = CacheLayout {
        pages,
        page_size,
        kv_heads: to_u32(kv_heads, "k")?,
        head_dim: to_u32(d, "k")?,
        dtype,
    };
    layout.check()?;
    let padded = |t: &Tensor<'_>| {
        let mut bytes = t.data.to_vec();
        bytes.resize(layout.bytes() as usize, 0);
        bytes
    };
    Ok(Cache {
        layout,
        table,
        k: padded(k),
        v: padded(v),
    })
}

/// A paged cache with its page table and sequence length.
fn paged(inputs: &Inputs, settings: &Settings, page_size: Option<u32>) -> Result<Cache, Error> {
    let k = inputs.get("k_pages")?;
    let v = inputs.get("v_pages")?;
    same_as(&v, &k)?;
    let dtype = kv_dtype(&k)?;
    let [pages, size, kv_heads, d] = k.dims()?;
    if let Some(set) = page_size.filter(|&p| p as usize != size) {
        return Err(Error::invalid(
            "page_size",
            "parameter",
            format!("k_pages' page size {size}"),
            set,
        ));
    }
    let table = inputs.get("page_table")?;
    table.expect_dtype(&[Dtype::I32])?;
    let [n_pages] = table.dims()?;
    let indices = table
        .to_vec::<i32>()
        .into_iter()
        .map(|p| u32::try_from(p).map_err(|_| Error::invalid("page_table", "entry", "≥ 0", p)))
        .collect::<Result<Vec<u32>, Error>>()?;
    let seq_len: u32 = settings.get("seq_len")?;
    let size = to_u32(size, "k_pages")?;
    let full = (n_pages as u64).saturating_sub(1) * u64::from(size);
    let last = u64::from(seq_len).checked_sub(full).filter(|&l| {
        if n_pages == 0 {
            l == 0
        } else {
            (1..=u64::from(size)).contains(&l)
        }
    });
    let Some(last) = last else {
        return Err(Error::invalid(
            "seq_len",
            "parameter",
            format!(
                "the tokens {n_pages} pages of {size} hold ({}..={})",
                full + 1,
                full + u64::from(size)
            ),
            seq_len,
        ));
    };
    Ok(Cache {
        layout: CacheLayout {
            pages: to_u32(pages, "k_pages")?,
            page_size: size,
            kv_heads: to_u32(kv_heads, "k_pages")?,
            head_dim: to_u32(d, "k_pages")?,
            dtype,
        },
        table: PageTable {
            indptr: vec![0, to_u32(n_pages, "page_table")?],
            indices,
            last_page_len: vec![last as u32],
        },
        k: k.data.to_vec(),
        v: v.data.to_vec(),
    })
}

fn attention_decode(gpu: &Gpu, inputs: &Inputs, settings: &Settings) -> Result<Vec<Output>, Error> {
    let page_size: Option<u32> = settings.optional("page_size")?;
    let cache = match (
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
            contiguous(&k, &v, page_size.unwrap_or(16))?
        }
        (None, None, Some(_)) => paged(inputs, settings, page_size)?,
        _ => {
            return Err(Error::invalid(
                "IN",
                "tensors",
                "k and v, or k_pages, v_pages and page_table",
                "another combination",
            ));
        }
    };
    let layout = cache.layout;
    let q = inputs.get("q")?;
    let [q_heads, d] = q.dims()?;
    if d != layout.head_dim as usize {
        return Err(Error::invalid("q", "head dim", layout.head_dim, d));
    }
    let q: Vec<f32> = match q.expect_dtype(&[Dtype::F32, Dtype::F16])? {
        Dtype::F16 => q.to_vec::<f16>().iter().map(|x| x.to_f32()).collect(),
        _ => q.to_vec(),
    };
    let (k16, v16): (Vec<f16>, Vec<f16>);
    let (k32, v32): (Vec<f32>, Vec<f32>);
    let kv = match layout.dtype {
        KvDtype::F16 => {
            k16 = bytemuck::pod_collect_to_vec(&cache.k);
            v16 = bytemuck::pod_collect_to_vec(&cache.v);
            HostKv::F16 { k: &k16, v: &v16 }
        }
        KvDtype::F32 => {
            k32 = bytemuck::pod_collect_to_vec(&cache.k);
            v32 = bytemuck::pod_collect_to_vec(&cache.v);
            HostKv::F32 { k: &k32, v: &v32 }
        }
    };
    let data = Uploaded::new(gpu, layout, &cache.table, kv, &q, to_u32(q_heads, "q")?)?;
    let scale = settings
        .optional("scale")?
        .unwrap_or(1.0 / (d as f32).sqrt());
    let sink: u32 = settings.get("sink")?;
    let window: u32 = settings.get("window")?;
    let o_shape = vec![q_heads, d];
    let select: String = settings.get("select")?;
    let selector = match select.as_str() {
        "quest" => Some(Selector::Quest),
        "token" => Some(Selector::Tidal),
        "tokenselect" => Some(Selector::TokenSelect),
        _ => None,
    };
    let budget: Option<u32> = settings.optional("budget")?;
    let Some(selector) = selector else {
        if let Some(budget) = budget {
            return Err(Error::invalid(
                "budget",
                "parameter",
                "unset with select=none (a budget is used by select=quest|token|tokenselect)",
                budget,
            ));
        }
        let policy = if sink > 0 || window > 0 {
            HeadPolicy::SinkWindow { sink, window }
        } else {
            HeadPolicy::Full
        };
        let o = run_decode(gpu, &data, scale, &vec![policy; layout.kv_heads as usize])?;
        return Ok(vec![Output::f32("o", o_shape, &o)]);
    };
    let budget = Budget {
        tokens: budget.ok_or_else(|| {
            Error::invalid(
                "budget",
                "parameter",
                format!("given with select={select} (tokens kept, e.g. --set budget=64)"),
                "unset",
            )
        })?,
        sink,
        window,
    };
    let result = run_sparse(gpu, &data, scale, selector, budget)?;
    let k = result.k as usize;
    let mut selected = result.selected;
    for row in selected.chunks_mut(k.max(1)) {
        // Ascending, with the −1 padding last.
        row.sort_unstable_by_key(|&i| (i < 0, i));
    }
    Ok(vec![
        Output::f32("o", o_shape, &result.o),
        Output {
            name: "selected",
            dtype: Dtype::I32,
            shape: vec![layout.kv_heads as usize, k],
            data: bytemuck::cast_slice(&selected).to_vec(),
        },
    ])
}
