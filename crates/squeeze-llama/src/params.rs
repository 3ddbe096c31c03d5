//! The `params` uniform of the embedding, RMSNorm (with its fused residual add), RoPE and
//! SwiGLU kernels (`shaders/llama/params.wgsl`).

/// Rust twin of WGSL `LlamaParams`; the validation suite holds the layouts equal.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
pub struct LlamaParams {
    /// Activation rows (tokens).
    pub rows: u32,
    /// Elements per row, or per head for RoPE.
    pub cols: u32,
    /// RoPE: heads per row (query heads, for the stacked Q|K|V rows).
    pub heads: u32,
    /// Embedding: rows of the table.
    pub vocab: u32,
    /// RMSNorm: epsilon added to the mean square.
    pub eps: f32,
    /// RoPE of stacked Q|K|V rows: key (and value) heads per row.
    pub kv_heads: u32,
    pub _pad: [u32; 2],
}
