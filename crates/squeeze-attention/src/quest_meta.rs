//! Quest's page metadata (`shaders/attention/quest_meta.wgsl`): per page and KV head, the
//! element-wise minimum and maximum of the page's keys, `[pages, kv_heads, 2, head_dim]` f32
//! (minimum first), the bound Quest scores pages with.

use squeeze_core::wgpu;
use squeeze_core::{Binding, Error, Gpu, Result};
use squeeze_shaders::attention::QUEST_META;

use crate::layout::{CacheLayout, KvDtype};
use crate::pages::DevicePageTable;
use crate::params::{GridDispatch, TableShape};

/// Bytes of the metadata of a cache of `layout`.
pub fn meta_bytes(layout: &CacheLayout) -> u64 {
    u64::from(layout.pages) * u64::from(layout.kv_heads) * 2 * u64::from(layout.head_dim) * 4
}

/// Every (sequence, logical page) pair of an uploaded `table`: the list that builds metadata
/// from scratch.
pub fn all_pages(table: &DevicePageTable) -> Result<Vec<[u32; 2]>> {
    let page_size = table.layout().page_size;
    let lens = table.host_lens("listing every page")?;
    Ok((0..table.batch())
        .flat_map(|b| {
            let pages = lens[b as usize].div_ceil(page_size);
            (0..pages).map(move |p| [b, p])
        })
        .collect())
}

/// Twin of the WGSL `QuestMetaParams` (quest_meta.wgsl).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct QuestMetaParams {
    pub table: TableShape,
    /// (sequence, logical page) pairs whose min/max keys are recomputed.
    pub touched_pages: u32,
    pub _pad: [u32; 3],
}

/// Quest metadata for a KV cache of one format.
pub struct QuestMeta {
    gpu: Gpu,
    pipeline: wgpu::ComputePipeline,
}

impl QuestMeta {
    pub fn new(gpu: &Gpu, dtype: KvDtype) -> Result<Self> {
        Ok(Self {
            gpu: gpu.clone(),
            pipeline: gpu.pipeline(&QUEST_META, "quest_meta", &dtype.overrides())?,
        })
    }

    /// Records the recomputation of `meta` for the (sequence, logical page) pairs `pages` from
    /// the keys `k`, the list uploaded per call (checked against the host lengths of an
    /// uploaded table, or the capacity of an engine's).
    pub fn encode(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        table: &DevicePageTable,
        k: Binding<'_>,
        pages: &[[u32; 2]],
        meta: Binding<'_>,
    ) -> Result<()> {
        let page_size = table.layout().page_size;
        let held = |b: u32| {
            table
                .seq_lens()
                .map_or(table.max_len(), |lens| lens[b as usize])
                .div_ceil(page_size)
        };
        if let Some(bad) = pages
            .iter()
            .find(|[b, p]| *b >= table.batch() || *p >= held(*b))
        {
            return Err(Error::invalid(
                "pages",
                "(sequence, page)",
                "a page the table holds",
                format!("{bad:?}"),
            ));
        }
        if pages.is_empty() {
            return Ok(());
        }
        let list = self.gpu.upload("pages", pages.as_flattened())?;
        let count = pages.len() as u32;
        self.encode_list(encoder, table, k, Binding::whole(&list), count, meta)
    }

    /// Records the recomputation of `meta` for the first `count` (sequence, logical page)
    /// pairs of `pages` (u32 `[count, 2]` in a device buffer: nothing uploaded). The kernel
    /// skips pairs outside the table.
    pub fn encode_list(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        table: &DevicePageTable,
        k: Binding<'_>,
        pages: Binding<'_>,
        count: u32,
        meta: Binding<'_>,
    ) -> Result<()> {
        let gpu = &self.gpu;
        let layout = table.layout();
        gpu.check_storage_binding("meta", &meta)?;
        gpu.check_binding_holds(
            "meta",
            &meta,
            meta_bytes(layout),
            format_args!(
                "[{}, {}, 2, {}] f32",
                layout.pages, layout.kv_heads, layout.head_dim
            ),
        )?;
        if count == 0 {
            return Ok(());
        }
        gpu.check_storage_binding("pages", &pages)?;
        gpu.check_binding_holds(
            "pages",
            &pages,
            u64::from(count) * 8,
            format_args!("[{count}, 2] u32"),
        )?;
        let params = QuestMetaParams {
            table: TableShape::new(table, 0),
            touched_pages: count,
            _pad: [0; 3],
        };
        let [indptr, indices, last] = table.bindings();
        GridDispatch {
            label: "quest meta",
            pipeline: &self.pipeline,
            items: u64::from(count) * u64::from(layout.kv_heads) * u64::from(layout.head_dim / 8),
        }
        .record(
            gpu,
            encoder,
            &params,
            &[indptr, indices, last, k, pages, meta],
        )
    }
}
