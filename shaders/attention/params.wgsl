// Shared part of every attention kernel: `TableShape`, the header every kernel's params struct
// starts with as its `table` member (Rust twin: `squeeze_attention::params::TableShape`), and
// the infinities. Each kernel declares its own params struct and binds it as `params` at
// @group(0) @binding(0); the shared parts (pages.wgsl, kv.wgsl, score_rows.wgsl, …) read
// `params.table`. The validation suite holds every Rust twin's fields equal to the WGSL ones.

// The page table's and the heads' shape. 32 bytes: in a uniform, the member after a struct
// member must start at a multiple of 16.
struct TableShape {
    // Sequences in the page table.
    batch: u32,
    // Query heads (0 for the kernels that read no query).
    q_heads: u32,
    kv_heads: u32,
    head_dim: u32,
    // Tokens per page.
    page_size: u32,
    // Pages in the pool.
    pages: u32,
    _pad0: u32,
    _pad1: u32,
}

fn neg_inf() -> f32 {
    return bitcast<f32>(0xff800000u);
}

fn pos_inf() -> f32 {
    return bitcast<f32>(0x7f800000u);
}
