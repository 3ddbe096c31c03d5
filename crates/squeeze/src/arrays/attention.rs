//! Decode attention of one query token on host arrays, as `squeeze run attention-decode` and
//! Python's `squeeze.attention_decode` run it: a contiguous cache laid out on pages, or a paged
//! cache with its page table; dense, sinks + window, or a sparse step that also returns the kept
//! indices.

use half::f16;
use squeeze_attention::decode::{DecodePath, HeadPolicy};
use squeeze_attention::host::{HostKv, Uploaded, run_decode, run_sparse};
use squeeze_attention::{Budget, CacheLayout, KvDtype, PageTable, Selector};
use squeeze_core::{Error, Gpu, Result};

use super::{Array, non_negative, to_u32};

/// K and V of one dtype, each `[seq, kv_heads, d]` (contiguous) or
/// `[pages, page_size, kv_heads, d]` (paged).
#[derive(Debug, Clone, Copy)]
pub enum Kv<'a> {
    F32 {
        k: Array<'a, f32>,
        v: Array<'a, f32>,
    },
    F16 {
        k: Array<'a, f16>,
        v: Array<'a, f16>,
    },
}

/// Queries `[q_heads, d]`.
#[derive(Debug, Clone, Copy)]
pub enum Query<'a> {
    F32(Array<'a, f32>),
    F16(Array<'a, f16>),
}

/// The cache of one sequence.
#[derive(Debug, Clone, Copy)]
pub enum Cache<'a> {
    /// `[seq, kv_heads, d]`, laid out on pages of [`Params::page_size`] (default 16).
    Contiguous(Kv<'a>),
    /// A page pool with the sequence's pages in order and its length in tokens.
    Paged {
        kv: Kv<'a>,
        page_table: Array<'a, i32>,
        seq_len: u32,
    },
}

/// How the step selects what it attends to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Select {
    /// Every token, or only sinks + window when either is set.
    None,
    /// Whole pages by Quest's bound.
    Quest,
    /// Tokens by the KV group's summed logits (TidalDecode).
    Token,
    /// Tokens by soft voting (TokenSelect).
    TokenSelect,
}

impl Select {
    /// The names `select` takes, in this order.
    pub const NAMES: &'static [&'static str] = &["none", "quest", "token", "tokenselect"];
    const ALL: [Select; 4] = [
        Select::None,
        Select::Quest,
        Select::Token,
        Select::TokenSelect,
    ];

    /// The selection called `name`; anything else is an error listing [`Select::NAMES`].
    pub fn parse(name: &str) -> Result<Self> {
        Self::NAMES
            .iter()
            .position(|n| *n == name)
            .map(|i| Self::ALL[i])
            .ok_or_else(|| {
                Error::invalid(
                    "select",
                    "value",
                    format!("one of {}", Self::NAMES.join(" | ")),
                    format!("`{name}`"),
                )
            })
    }

    pub fn name(self) -> &'static str {
        match self {
            Select::None => "none",
            Select::Quest => "quest",
            Select::Token => "token",
            Select::TokenSelect => "tokenselect",
        }
    }

    fn selector(self) -> Option<Selector> {
        match self {
            Select::None => None,
            Select::Quest => Some(Selector::Quest),
            Select::Token => Some(Selector::Tidal),
            Select::TokenSelect => Some(Selector::TokenSelect),
        }
    }
}

/// The step's parameters, as `squeeze run attention-decode` names them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Params {
    /// Tokens per page a contiguous cache is laid out on (default 16); a paged cache's must
    /// agree with its shape when given.
    pub page_size: Option<u32>,
    /// Softmax scale (default 1/sqrt(d)).
    pub scale: Option<f32>,
    pub sink: u32,
    pub window: u32,
    pub select: Select,
    /// Tokens kept by a sparse step, sinks and window included; required by, and only by, a
    /// sparse `select`.
    pub budget: Option<u32>,
    /// The cache format K and V are stored in before the step (default: their own dtype):
    /// another one is filled on the GPU by the append kernel, which converts (f32 ↔ f16) or
    /// quantizes (q8_0, q4_0: ggml's blocks; int4, int2: KIVI's, the last partial page kept in
    /// f16) them, keeping Quest's page bounds of the given values.
    pub kv: Option<KvDtype>,
}

/// The step's results.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// `[q_heads, d]`.
    pub o: Vec<f32>,
    pub o_shape: [usize; 2],
    /// For sparse steps: `[kv_heads, k]` kept page (Quest) or token indices, ascending, −1
    /// padding last.
    pub selected: Option<(Vec<i32>, [usize; 2])>,
}

/// The cache laid out for the kernels: layout, table, and K and V as pools.
struct Laid {
    layout: CacheLayout,
    table: PageTable,
    kv: OwnedKv,
}

enum OwnedKv {
    F32(Vec<f32>, Vec<f32>),
    F16(Vec<f16>, Vec<f16>),
}

impl OwnedKv {
    fn host(&self) -> HostKv<'_> {
        match self {
            OwnedKv::F32(k, v) => HostKv::F32 { k, v },
            OwnedKv::F16(k, v) => HostKv::F16 { k, v },
        }
    }
}

impl Kv<'_> {
    fn dtype(&self) -> KvDtype {
        match self {
            Kv::F32 { .. } => KvDtype::F32,
            Kv::F16 { .. } => KvDtype::F16,
        }
    }

    /// K's shape, after checking V has the same.
    fn shape<const N: usize>(&self) -> Result<[usize; N]> {
        let (k, v) = match self {
            Kv::F32 { k, v } => ((k.name, k.dims()?), (v.name, v.dims::<N>()?)),
            Kv::F16 { k, v } => ((k.name, k.dims()?), (v.name, v.dims::<N>()?)),
        };
        if k.1 != v.1 {
            return Err(Error::invalid(
                v.0,
                "shape",
                format!("{:?} (as {})", k.1, k.0),
                format!("{:?}", v.1),
            ));
        }
        Ok(k.1)
    }

    /// Copies of K and V, each zero-padded to `elements`.
    fn padded(&self, elements: usize) -> OwnedKv {
        fn pad<T: Copy + Default>(a: &[T], elements: usize) -> Vec<T> {
            let mut v = a.to_vec();
            v.resize(elements.max(a.len()), T::default());
            v
        }
        match self {
            Kv::F32 { k, v } => OwnedKv::F32(pad(k.data, elements), pad(v.data, elements)),
            Kv::F16 { k, v } => OwnedKv::F16(pad(k.data, elements), pad(v.data, elements)),
        }
    }
}

/// A contiguous `[seq, kv_heads, d]` cache laid out on pages of `page_size`, the last page
/// zero-padded.
fn contiguous(gpu: &Gpu, kv: Kv<'_>, page_size: u32) -> Result<Laid> {
    let [seq, kv_heads, d] = kv.shape()?;
    let name = match kv {
        Kv::F32 { k, .. } => k.name,
        Kv::F16 { k, .. } => k.name,
    };
    let (table, pages) = PageTable::contiguous(&[to_u32(seq, name)?], page_size.max(1));
    let layout = CacheLayout {
        pages,
        page_size,
        kv_heads: to_u32(kv_heads, name)?,
        head_dim: to_u32(d, name)?,
        dtype: kv.dtype(),
    };
    layout.check()?;
    // The padded copy is made on the host before the upload checks it: bound it first, so a
    // huge `page_size` is a typed error, not a huge allocation.
    let max = gpu.limits().max_storage_buffer_binding_size;
    if layout.bytes() > max {
        return Err(Error::OverLimit {
            arg: "page_size",
            bytes: layout.bytes(),
            limit: "max_storage_buffer_binding_size",
            max,
        });
    }
    let elements = layout.elements() as usize;
    Ok(Laid {
        layout,
        table,
        kv: kv.padded(elements),
    })
}

/// A paged cache with its page table and sequence length, checked against each other.
fn paged(
    kv: Kv<'_>,
    page_table: Array<'_, i32>,
    seq_len: u32,
    page_size: Option<u32>,
) -> Result<Laid> {
    let [pages, size, kv_heads, d] = kv.shape()?;
    let name = match kv {
        Kv::F32 { k, .. } => k.name,
        Kv::F16 { k, .. } => k.name,
    };
    if let Some(set) = page_size.filter(|&p| p as usize != size) {
        return Err(Error::invalid(
            "page_size",
            "parameter",
            format!("{size} (the page size of {name})"),
            set,
        ));
    }
    let [n_pages] = page_table.dims()?;
    let indices = non_negative(page_table.name, page_table.data)?;
    let size = to_u32(size, name)?;
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
    Ok(Laid {
        layout: CacheLayout {
            pages: to_u32(pages, name)?,
            page_size: size,
            kv_heads: to_u32(kv_heads, name)?,
            head_dim: to_u32(d, name)?,
            dtype: kv.dtype(),
        },
        table: PageTable {
            indptr: vec![0, to_u32(n_pages, page_table.name)?],
            indices,
            last_page_len: vec![last as u32],
        },
        kv: kv.padded(0),
    })
}

/// One decode step of `q` over `cache`.
pub fn attention_decode(
    gpu: &Gpu,
    q: Query<'_>,
    cache: Cache<'_>,
    params: &Params,
) -> Result<Decoded> {
    let laid = match cache {
        Cache::Contiguous(kv) => contiguous(gpu, kv, params.page_size.unwrap_or(16))?,
        Cache::Paged {
            kv,
            page_table,
            seq_len,
        } => paged(kv, page_table, seq_len, params.page_size)?,
    };
    let layout = laid.layout;
    let (name, q_heads, q) = widened(q, layout.head_dim)?;
    let q_heads32 = to_u32(q_heads, name)?;
    let data = match params.kv.filter(|&kv| kv != layout.dtype) {
        None => Uploaded::new(gpu, layout, &laid.table, laid.kv.host(), &q, q_heads32)?,
        Some(kv) => Uploaded::appended(
            gpu,
            CacheLayout {
                dtype: kv,
                ..layout
            },
            &laid.table,
            laid.kv.host(),
            &q,
            q_heads32,
        )?,
    };
    let d = layout.head_dim as usize;
    let scale = params.scale.unwrap_or(1.0 / (d as f32).sqrt());
    let o_shape = [q_heads, d];
    match params.select.selector() {
        None => dense(gpu, &data, scale, params, o_shape),
        Some(selector) => sparse(gpu, &data, scale, selector, params, o_shape),
    }
}

/// The query's name, heads and values as f32 (f16 widened exactly), its head dim checked
/// against the cache's.
fn widened(q: Query<'_>, head_dim: u32) -> Result<(&'static str, usize, Vec<f32>)> {
    let (name, [q_heads, d]) = match q {
        Query::F32(a) => (a.name, a.dims()?),
        Query::F16(a) => (a.name, a.dims()?),
    };
    if d != head_dim as usize {
        return Err(Error::invalid(name, "head dim", head_dim, d));
    }
    let values = match q {
        Query::F32(a) => a.data.to_vec(),
        Query::F16(a) => a.data.iter().map(|x| x.to_f32()).collect(),
    };
    Ok((name, q_heads, values))
}

/// Dense decode, or sinks + window when either is set; a budget is an error here.
fn dense(
    gpu: &Gpu,
    data: &Uploaded,
    scale: f32,
    params: &Params,
    o_shape: [usize; 2],
) -> Result<Decoded> {
    if let Some(budget) = params.budget {
        return Err(Error::invalid(
            "budget",
            "parameter",
            "unset with select=none (a budget is used by select=quest|token|tokenselect)",
            budget,
        ));
    }
    let (sink, window) = (params.sink, params.window);
    let policy = if sink > 0 || window > 0 {
        HeadPolicy::SinkWindow { sink, window }
    } else {
        HeadPolicy::Full
    };
    let kv_heads = data.table.layout().kv_heads as usize;
    let o = run_decode(
        gpu,
        data,
        scale,
        &vec![policy; kv_heads],
        DecodePath::best(gpu),
    )?;
    Ok(Decoded {
        o,
        o_shape,
        selected: None,
    })
}

/// A sparse step with `selector`; the kept entries come back ascending, −1 padding last.
fn sparse(
    gpu: &Gpu,
    data: &Uploaded,
    scale: f32,
    selector: Selector,
    params: &Params,
    o_shape: [usize; 2],
) -> Result<Decoded> {
    let budget = Budget {
        tokens: params.budget.ok_or_else(|| {
            Error::invalid(
                "budget",
                "parameter",
                format!(
                    "given with select={} (tokens kept, e.g. budget=64)",
                    params.select.name()
                ),
                "unset",
            )
        })?,
        sink: params.sink,
        window: params.window,
    };
    let result = run_sparse(gpu, data, scale, selector, budget, DecodePath::best(gpu))?;
    let k = result.k as usize;
    let mut selected = result.selected;
    for row in selected.chunks_mut(k.max(1)) {
        row.sort_unstable_by_key(|&i| (i < 0, i));
    }
    let kv_heads = data.table.layout().kv_heads as usize;
    Ok(Decoded {
        o: result.o,
        o_shape,
        selected: Some((selected, [kv_heads, k])),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn select_names_round_trip_and_unknown_ones_list_the_choices() {
        for name in Select::NAMES {
            assert_eq!(Select::parse(name).unwrap().name(), *name);
        }
        let e = Select::parse("dense").unwrap_err().to_string();
        assert!(e.contains("none | quest | token | tokenselect"), "{e}");
    }
}
