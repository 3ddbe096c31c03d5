// Shared part of every attention kernel: the `params` uniform (Rust twin:
// `squeeze_attention::params::AttentionParams`; the validation suite holds the layouts equal).

// One layout for every attention kernel; each field holds one thing, and a kernel's host sets
// only the fields it reads (the rest are zero).
struct AttentionParams {
    // Sequences in the page table.
    batch: u32,
    q_heads: u32,
    kv_heads: u32,
    head_dim: u32,
    // Tokens per page.
    page_size: u32,
    // Pages in the pool.
    pages: u32,
    // Prefill: the longest sequence of the table, in tokens.
    max_len: u32,
    // Decode: virtual tokens per split (a multiple of TILE), and splits per (sequence, KV head).
    chunk: u32,
    splits: u32,
    // Decode: selection entries per (sequence, KV head) row, and tokens per entry (1 or
    // page_size).
    units: u32,
    unit: u32,
    // Decode, prefill and token scores: the factor on q·k.
    scale: f32,
    // Append: new tokens written into the cache.
    tokens: u32,
    // Selection passes: the first `sink` and last `window` tokens forced into every selection.
    sink: u32,
    window: u32,
    // Quest metadata: pages whose min/max keys are recomputed.
    touched_pages: u32,
    // Score passes (score_rows.wgsl): entries per score row, pages (Quest) or tokens.
    row_stride: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: AttentionParams;

fn neg_inf() -> f32 {
    return bitcast<f32>(0xff800000u);
}

fn pos_inf() -> f32 {
    return bitcast<f32>(0x7f800000u);
}
