//! One sparse decode step: selection ([`crate::select`]) then decode over the selection
//! ([`crate::decode`]), recorded into one command encoder with no readback in between.

use squeeze_core::wgpu;
use squeeze_core::{Binding, Gpu, Result};

use crate::decode::{Decode, DecodeArgs, DecodePath, Tokens};
use crate::layout::{KvCache, KvDtype, Output, Query};
use crate::pages::DevicePageTable;
use crate::select::{Budget, Select, SelectPlan, SelectWorkspace, Selector};

/// Selection and decode for a KV cache of one format.
pub struct Sparse {
    gpu: Gpu,
    select: Select,
    decode: Decode,
}

/// Device buffers of one sparse step's plan: the selection's, the selection list and the
/// decode's partials.
pub struct SparseWorkspace {
    plan: SelectPlan,
    select: SelectWorkspace,
    selected: wgpu::Buffer,
    scratch: wgpu::Buffer,
}

impl SparseWorkspace {
    pub fn plan(&self) -> &SelectPlan {
        &self.plan
    }

    /// The selection list of the last step (i32 `[batch, kv_heads, k]`, best first, −1 for
    /// none): what a TidalDecode layer after the selection layer decodes over.
    pub fn selected(&self) -> Binding<'_> {
        Binding::whole(&self.selected)
    }

    /// The selection as decode tokens.
    pub fn tokens(&self) -> Tokens<'_> {
        Tokens::Selected {
            list: self.selected(),
            entries_per_row: self.plan.k,
            tokens_per_entry: self.plan.unit,
        }
    }
}

impl Sparse {
    /// Selection and the best decode path for the device ([`DecodePath::best`]).
    pub fn new(gpu: &Gpu, dtype: KvDtype) -> Result<Self> {
        Self::with_path(gpu, dtype, DecodePath::best(gpu))
    }

    /// Selection and the decode on `path` ([`Decode::with_path`]).
    pub fn with_path(gpu: &Gpu, dtype: KvDtype, path: DecodePath) -> Result<Self> {
        Ok(Self {
            gpu: gpu.clone(),
            select: Select::new(gpu, dtype)?,
            decode: Decode::with_path(gpu, dtype, path)?,
        })
    }

    pub fn decode(&self) -> &Decode {
        &self.decode
    }

    /// Compiles selection and decode for `group` query heads per KV head of `head_dim` now,
    /// at load time.
    pub fn prepare(&self, group: u32, head_dim: u32) -> Result<()> {
        self.select.prepare(group)?;
        self.decode.prepare(group, head_dim)
    }

    /// Checks the budget ([`Select::plan`]) and allocates the step's buffers for the table's
    /// sequences as they are.
    pub fn workspace(
        &self,
        table: &DevicePageTable,
        q_heads: u32,
        selector: Selector,
        budget: Budget,
    ) -> Result<SparseWorkspace> {
        self.workspace_with_capacity(table, q_heads, selector, budget, table.max_len())
    }

    /// [`Sparse::workspace`] for sequences that grow up to `capacity` tokens
    /// ([`Select::plan_with_capacity`]): one workspace for every step of a generation.
    pub fn workspace_with_capacity(
        &self,
        table: &DevicePageTable,
        q_heads: u32,
        selector: Selector,
        budget: Budget,
        capacity: u32,
    ) -> Result<SparseWorkspace> {
        let plan = self
            .select
            .plan_with_capacity(table, q_heads, selector, budget, capacity)?;
        let select = self.select.workspace(table, &plan)?;
        let list_bytes = u64::from(plan.rows) * u64::from(plan.k) * 4;
        let selected = self.gpu.storage_buffer("selected", list_bytes)?;
        let tokens = Tokens::Selected {
            list: Binding::whole(&selected),
            entries_per_row: plan.k,
            tokens_per_entry: plan.unit,
        };
        let scratch_bytes = self.decode.scratch_bytes(table, q_heads, &tokens);
        let scratch = self.gpu.storage_buffer("decode scratch", scratch_bytes)?;
        Ok(SparseWorkspace {
            plan,
            select,
            selected,
            scratch,
        })
    }

    /// Records selection and sparse decode: `out` (f32 `[batch, q_heads, head_dim]`) is the
    /// attention over the kept tokens, and the workspace keeps the selection.
    pub fn encode<'a>(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        table: &DevicePageTable,
        kv: &KvCache<'_>,
        query: &Query<'_>,
        workspace: &SparseWorkspace,
        out: impl Into<Output<'a>>,
    ) -> Result<()> {
        let out = out.into();
        let scratch = Binding::whole(&workspace.scratch);
        let tokens = workspace.tokens();
        // Decode's checks first: nothing is recorded unless both halves can be.
        let args = DecodeArgs {
            table,
            kv,
            query,
            tokens: &tokens,
            scratch,
            out,
        };
        self.decode.check(&args)?;
        self.select.encode(
            encoder,
            table,
            kv,
            query,
            &workspace.select,
            workspace.selected(),
        )?;
        self.decode.encode(encoder, &args)
    }
}
