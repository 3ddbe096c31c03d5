//! Appending tokens to the paged KV cache (`shaders/attention/append.wgsl`): each new token's K
//! and V row written to the pool slot the page table gives it, then Quest's metadata recomputed
//! for the pages that changed ([`crate::quest_meta`]).

use squeeze_core::wgpu;
use squeeze_core::{Binding, Error, Gpu, Result};
use squeeze_shaders::attention::APPEND;

use crate::layout::{KvCache, KvDtype};
use crate::pages::DevicePageTable;
use crate::params::AttentionParams;
use crate::quest_meta::QuestMeta;

/// Tokens to append: `k`, `v` are `[tokens, kv_heads, head_dim]` in the cache's format,
/// grouped by sequence as `append_indptr` (`[batch + 1]`) says.
#[derive(Debug, Clone, Copy)]
pub struct NewTokens<'a> {
    pub append_indptr: &'a [u32],
    pub k: Binding<'a>,
    pub v: Binding<'a>,
}

/// Appends to a KV cache of one format.
pub struct Append {
    gpu: Gpu,
    dtype: KvDtype,
    pipeline: wgpu::ComputePipeline,
    meta: QuestMeta,
}

/// Where appended tokens go: token t of sequence b (tokens `append_indptr[b] ..
/// append_indptr[b + 1]`) takes the tail position `len_b − count_b + (t − append_indptr[b])`,
/// the page table already counting them (FlashInfer's convention). Returns each token's pool
/// row and the (sequence, logical page) pairs touched.
pub fn placement(
    table: &DevicePageTable,
    append_indptr: &[u32],
) -> Result<(Vec<u32>, Vec<[u32; 2]>)> {
    let lens = table.seq_lens();
    let t = table.table();
    let page_size = table.layout().page_size;
    if append_indptr.len() != lens.len() + 1 || append_indptr[0] != 0 {
        return Err(Error::invalid(
            "append_indptr",
            "shape",
            format!("batch + 1 = {} entries starting at 0", lens.len() + 1),
            format!(
                "{} entries starting at {:?}",
                append_indptr.len(),
                append_indptr.first()
            ),
        ));
    }
    let mut rows = Vec::new();
    let mut touched = Vec::new();
    for (b, &len) in lens.iter().enumerate() {
        let (first, end) = (append_indptr[b], append_indptr[b + 1]);
        if end < first || end - first > len {
            return Err(Error::invalid(
                "append_indptr",
                "tokens of a sequence",
                format!("between 0 and its length {len}"),
                format!("{} .. {end} for sequence {b}", first),
            ));
        }
        let start = len - (end - first);
        for pos in start..len {
            let page = t.indices[(t.indptr[b] + pos / page_size) as usize];
            rows.push(page * page_size + pos % page_size);
            if pos == start || pos % page_size == 0 {
                touched.push([b as u32, pos / page_size]);
            }
        }
    }
    Ok((rows, touched))
}

impl Append {
    pub fn new(gpu: &Gpu, dtype: KvDtype) -> Result<Self> {
        Ok(Self {
            gpu: gpu.clone(),
            dtype,
            pipeline: gpu.pipeline(&APPEND, "append_kv", &dtype.overrides())?,
            meta: QuestMeta::new(gpu, dtype)?,
        })
    }

    /// Records the append of `new` into `kv`, and, where the cache keeps Quest metadata, its
    /// recomputation for every page an appended token landed in.
    pub fn encode(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        table: &DevicePageTable,
        new: &NewTokens<'_>,
        kv: &KvCache<'_>,
    ) -> Result<()> {
        let NewTokens {
            append_indptr,
            k: k_new,
            v: v_new,
        } = *new;
        let gpu = &self.gpu;
        let layout = table.layout();
        kv.check(gpu, layout, self.dtype)?;
        let (rows, touched) = placement(table, append_indptr)?;
        if rows.is_empty() {
            return Ok(());
        }
        let tokens = rows.len() as u64;
        for (arg, b) in [("k_new", &k_new), ("v_new", &v_new)] {
            gpu.check_storage_binding(arg, b)?;
            gpu.check_binding_holds(
                arg,
                b,
                tokens * layout.token_bytes(),
                format_args!(
                    "[{tokens}, {}, {}] {}",
                    layout.kv_heads,
                    layout.head_dim,
                    layout.dtype.dtype()
                ),
            )?;
        }
        let rows_buffer = gpu.upload("rows", &rows)?;
        let params = AttentionParams {
            items: rows.len() as u32,
            ..AttentionParams::for_table(table, 0)
        };
        let words = tokens * layout.token_bytes() / 4;
        params.dispatch_items(
            gpu,
            encoder,
            ("attention append", &self.pipeline),
            &[Binding::whole(&rows_buffer), k_new, v_new, kv.k, kv.v],
            words,
        )?;
        match kv.meta {
            Some(meta) => self.meta.encode(encoder, table, kv.k, &touched, meta),
            None => Ok(()),
        }
    }
}
