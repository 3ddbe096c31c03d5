// Shared part of every attention kernel: the `params` uniform (Rust twin:
// `squeeze_attention::params::AttentionParams`; the validation suite holds the layouts equal).

struct AttentionParams {
    batch: u32,
    q_heads: u32,
    kv_heads: u32,
    head_dim: u32,
    page_size: u32,
    // Pages in the pool.
    pages: u32,
    // Row stride of per-token and per-page score rows (the longest sequence, in tokens or pages).
    max_len: u32,
    // Virtual tokens per split of a decode (a multiple of TILE).
    chunk: u32,
    splits: u32,
    // Selection entries per (sequence, KV head) row, and tokens per entry (1 or page_size).
    units: u32,
    unit: u32,
    scale: f32,
    // Appended tokens, or touched pages, depending on the kernel.
    items: u32,
    sink: u32,
    window: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> params: AttentionParams;

fn neg_inf() -> f32 {
    return bitcast<f32>(0xff800000u);
}

fn pos_inf() -> f32 {
    return bitcast<f32>(0x7f800000u);
}
