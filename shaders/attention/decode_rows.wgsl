// Shared part of the decode kernels (decode.wgsl, decode_subgroup.wgsl): one query token per
// sequence. The tokens attended are "virtual" tokens 0 .. n of the (sequence, KV head) row: with
// `SELECTED` off, a sink and a window per KV head (`spec` = [kv_heads] (sink, window) pairs; a
// full head has sink = ∞); with it on, a selection list (`spec` = [batch × kv_heads,
// entries_per_row] entries of `tokens_per_entry` tokens each, −1 for none). Split `s` of a row
// covers virtual tokens s·chunk .. (s+1)·chunk (flash-decoding); a kernel writes each split's
// unnormalised output and (max, sum) for merge.wgsl.

// Rust twin: `squeeze_attention::decode::DecodeParams`.
struct DecodeParams {
    table: TableShape,
    // Virtual tokens per split (a multiple of 64), and splits per (sequence, KV head).
    chunk: u32,
    splits: u32,
    // With SELECTED: the selection's entries per (sequence, KV head) row, and tokens per entry
    // (1, or page_size for Quest pages).
    entries_per_row: u32,
    tokens_per_entry: u32,
    // The factor on q·k.
    scale: f32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: DecodeParams;

override SELECTED: bool = false;

// Queries [batch, q_heads, head_dim], f32 or f16 (query.wgsl's `q4`).
@group(0) @binding(6) var<storage, read> q: array<vec4<u32>>;
@group(0) @binding(7) var<storage, read> spec: array<u32>;
// Per split: unnormalised outputs [batch, q_heads, splits, head_dim], (max, sum) [.., splits].
@group(0) @binding(8) var<storage, read_write> part_o: array<vec4<f32>>;
@group(0) @binding(9) var<storage, read_write> part_ml: array<vec2<f32>>;

// Virtual tokens of row (b, h) in a sequence of `len` tokens.
fn virtual_count(h: u32, len: u32) -> u32 {
    if (SELECTED) {
        return params.entries_per_row * params.tokens_per_entry;
    }
    let sink = min(spec[2u * h], len);
    return sink + min(spec[2u * h + 1u], len - sink);
}

// Position in the sequence of virtual token j < virtual_count, or NO_ROW when it is empty.
fn virtual_position(b: u32, h: u32, len: u32, j: u32) -> u32 {
    if (SELECTED) {
        let entry = spec[(b * params.table.kv_heads + h) * params.entries_per_row + j / params.tokens_per_entry];
        if (entry >= (len + params.tokens_per_entry - 1u) / params.tokens_per_entry) {
            return NO_ROW;
        }
        let pos = entry * params.tokens_per_entry + j % params.tokens_per_entry;
        return select(NO_ROW, pos, pos < len);
    }
    let sink = min(spec[2u * h], len);
    let window = min(spec[2u * h + 1u], len - sink);
    return select(len - window + (j - sink), j, j < sink);
}
