//! Embedding rows (`shaders/llama/embedding.wgsl`): the rows of an f32, f16 or BF16 table that
//! device token ids name, as f32 (widening is exact). A quantized GGUF table is dequantized once
//! at load ([`crate::weights`]) and gathered as f32.

use squeeze::shaders::llama::EMBEDDING;
use squeeze::{Binding, Error, Gpu, Result, wgpu};

use crate::check::{f32s, product};
use crate::params::LlamaParams;

/// Invocations per workgroup (the `WORKGROUP_SIZE` override).
pub const WORKGROUP_SIZE: u32 = 256;

/// Element type of an embedding table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableDtype {
    F32,
    F16,
    /// BF16 two per u32 word, low half first (a Hugging Face table as stored).
    Bf16,
}

impl TableDtype {
    fn bytes(self) -> u64 {
        match self {
            TableDtype::F32 => 4,
            TableDtype::F16 | TableDtype::Bf16 => 2,
        }
    }
}

/// A `[vocab, cols]` table on the device.
#[derive(Debug, Clone, Copy)]
pub struct Table<'a> {
    pub data: Binding<'a>,
    pub vocab: u32,
    pub cols: u32,
}

/// The gather for one table dtype on one device.
pub struct Embedding {
    gpu: Gpu,
    dtype: TableDtype,
    pipeline: wgpu::ComputePipeline,
}

impl Embedding {
    pub fn new(gpu: &Gpu, dtype: TableDtype) -> Result<Self> {
        let format = match dtype {
            TableDtype::F32 => 0.0,
            TableDtype::F16 => 1.0,
            TableDtype::Bf16 => 2.0,
        };
        let pipeline = gpu.pipeline(
            &EMBEDDING,
            "embedding_rows",
            &[
                ("WORKGROUP_SIZE", f64::from(WORKGROUP_SIZE)),
                ("FORMAT", format),
            ],
        )?;
        Ok(Self {
            gpu: gpu.clone(),
            dtype,
            pipeline,
        })
    }

    /// Records `out[t] = table[tokens[t]]` for `rows` tokens (u32 ids on the device; an id at or
    /// past the vocabulary gives zeros), `out` f32 `[rows, cols]`.
    pub fn encode(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        rows: u32,
        tokens: Binding<'_>,
        table: &Table<'_>,
        out: Binding<'_>,
    ) -> Result<()> {
        let gpu = &self.gpu;
        let Table { data, vocab, cols } = *table;
        if cols == 0 || vocab == 0 {
            return Err(Error::invalid(
                "table",
                "shape",
                "at least one row of at least one value",
                format!("[{vocab}, {cols}]"),
            ));
        }
        let weights = product("table", vocab, cols)?;
        let n = product("out", rows, cols)?;
        if rows == 0 {
            return Ok(());
        }
        gpu.check_storage_binding("tokens", &tokens)?;
        gpu.check_binding_holds(
            "tokens",
            &tokens,
            u64::from(rows) * 4,
            format_args!("{rows} u32"),
        )?;
        gpu.check_storage_binding("table", &data)?;
        let table_bytes = (u64::from(weights) * self.dtype.bytes()).next_multiple_of(4);
        gpu.check_binding_holds(
            "table",
            &data,
            table_bytes,
            format_args!("[{vocab}, {cols}]"),
        )?;
        f32s(gpu, "out", &out, n, format_args!("[{rows}, {cols}] f32"))?;
        let params = LlamaParams {
            rows,
            cols,
            vocab,
            ..LlamaParams::default()
        };
        let groups = gpu.grid_workgroups(u64::from(n), WORKGROUP_SIZE);
        gpu.dispatch(
            encoder,
            "llama embedding",
            &self.pipeline,
            &params,
            &[tokens, data, out],
            groups,
        )
    }
}
