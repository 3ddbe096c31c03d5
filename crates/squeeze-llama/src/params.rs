//! The `params` uniform of the embedding, RMSNorm and RoPE kernels (`shaders/llama/params.wgsl`);
//! SwiGLU and the residual add take the core grid-stride `GridParams`.

/// Rust twin of WGSL `LlamaParams`; the validation suite holds the layouts equal.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
pub struct LlamaParams {
    /// Activation rows (tokens).
    pub rows: u32,
    /// Elements per row, or per head for RoPE.
    pub cols: u32,
    /// RoPE: heads per row.
    pub heads: u32,
    /// Embedding: rows of the table.
    pub vocab: u32,
    /// RMSNorm: epsilon added to the mean square.
    pub eps: f32,
    pub _pad: [u32; 3],
}
