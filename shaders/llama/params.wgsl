// Shared part of the LLaMA glue kernels that are not plain grid-stride passes (embedding rows,
// RMSNorm, RoPE, SwiGLU): their `params` uniform. Its Rust twin is `squeeze_llama::params::LlamaParams`;
// the validation suite holds the two layouts equal.

struct LlamaParams {
    // Activation rows (tokens).
    rows: u32,
    // Elements per row (hidden size), or per head for RoPE (head_dim).
    cols: u32,
    // RoPE: heads per row (query heads, for the stacked Q|K|V rows).
    heads: u32,
    // Embedding: rows of the table (tokens at or past it read as zeros).
    vocab: u32,
    // RMSNorm: the epsilon added to the mean square.
    eps: f32,
    // RoPE of stacked Q|K|V rows: key (and value) heads per row.
    kv_heads: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: LlamaParams;
