//! The append into a KIVI int4 / int2 cache (`shaders/attention/append_kivi.wgsl`), which
//! [`crate::Append`] records for those formats: the pages an append fills are quantized into
//! the pool (K per channel over the page, V per token in groups of 32) from the sequence's f16
//! residual and the new rows; the new tokens of a page left partial go to the residual. Layout
//! in [`crate::KvDtype`]; the CPU twin is [`crate::reference::kivi::append`].

use squeeze_core::wgpu;
use squeeze_core::{Binding, DType, Error, Gpu, Result};
use squeeze_shaders::attention::APPEND_KIVI;

use crate::append::PlacedTokens;
use crate::layout::{KvCache, KvDtype};
use crate::pages::DevicePageTable;
use crate::params::TableShape;

/// Twin of the WGSL `AppendKiviParams` (append_kivi.wgsl).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct AppendKiviParams {
    pub table: TableShape,
    /// Tokens written into the cache by this append.
    pub new_tokens: u32,
    /// Entries of the touched-page list.
    pub touched_pages: u32,
    pub _pad: [u32; 2],
}

/// The two passes of a KIVI append: full pages quantized, then partial pages' new tokens into
/// the residual.
pub struct AppendKivi {
    gpu: Gpu,
    pages: wgpu::ComputePipeline,
    residual: wgpu::ComputePipeline,
}

impl AppendKivi {
    /// The passes for a cache of `dtype` (int4 or int2) fed rows of `input` (f32 or f16).
    pub fn new(gpu: &Gpu, dtype: KvDtype, input: DType) -> Result<Self> {
        if dtype.kivi_bits().is_none() {
            return Err(Error::invalid("kv", "cache format", "int4 | int2", dtype));
        }
        let [kv] = dtype.overrides();
        let overrides = [kv, ("IN_F16", f64::from(u8::from(input.is_f16("k_new")?)))];
        Ok(Self {
            gpu: gpu.clone(),
            pages: gpu.pipeline(&APPEND_KIVI, "kivi_pages", &overrides)?,
            residual: gpu.pipeline(&APPEND_KIVI, "kivi_residual", &overrides)?,
        })
    }

    /// Records both passes for `new`, whose rows and inputs the caller checked; `new.touched`
    /// (the (sequence, logical page) pairs the tokens land in) is required, and the bindings
    /// must hold the residual of every sequence of the table.
    pub fn encode(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        table: &DevicePageTable,
        new: &PlacedTokens<'_>,
        kv: &KvCache<'_>,
    ) -> Result<()> {
        let gpu = &self.gpu;
        kv.check_residual(gpu, table.layout(), table.batch())?;
        let Some((touched, count)) = new.touched else {
            return Err(Error::invalid(
                "touched",
                "pages",
                "given for an int4 / int2 cache (the pages to quantize)",
                "none",
            ));
        };
        gpu.check_storage_binding("touched", &touched)?;
        gpu.check_binding_holds(
            "touched",
            &touched,
            u64::from(count) * 8,
            format_args!("[{count}, 2] u32"),
        )?;
        if count == 0 {
            return Ok(());
        }
        let params = AppendKiviParams {
            table: TableShape::new(table, 0),
            new_tokens: new.tokens,
            touched_pages: count,
            _pad: [0; 2],
        };
        let groups = count.min(gpu.limits().max_compute_workgroups_per_dimension);
        let [indptr, indices, last] = table.bindings();
        let bindings: [Binding<'_>; 9] = [
            indptr, indices, last, kv.k, kv.v, new.rows, touched, new.k, new.v,
        ];
        for (label, pipeline) in [
            ("attention append kivi pages", &self.pages),
            ("attention append kivi residual", &self.residual),
        ] {
            gpu.dispatch(encoder, label, pipeline, &params, &bindings, groups)?;
        }
        Ok(())
    }
}
