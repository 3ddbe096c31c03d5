// Shared part of the causal prefill kernels (prefill.wgsl, prefill_subgroup.wgsl): the n newest
// tokens of each sequence attend to the cache, which already holds them (append, then attend).
// Query i of a sequence of `len` tokens with n new ones sits at position len − n + i and sees
// positions 0 ..= len − n + i. Sequence b's queries are rows `qo_indptr[b] .. qo_indptr[b + 1]`
// of q [rows, q_heads, head_dim] (f32, or f16 with `Q_F16`); the output has q's layout (f32, or
// f16 with `O_F16`, rounded to nearest even). A "query row" of a KV head is a (token, query head
// of its group) pair, token-major, so that every key and value serves all the group's heads.

// Rust twin: `squeeze_attention::prefill::PrefillParams`.
struct PrefillParams {
    table: TableShape,
    // The longest sequence of the table, in tokens: bounds the key tiles.
    max_seq_len: u32,
    // The factor on q·k.
    scale: f32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: PrefillParams;

override O_F16: bool = false;

// Queries [rows, q_heads, head_dim], f32 or f16 (query.wgsl's `q4`).
@group(0) @binding(6) var<storage, read> q: array<vec4<u32>>;
// [batch + 1]: sequence b's queries are rows qo_indptr[b] .. qo_indptr[b + 1].
@group(0) @binding(7) var<storage, read> qo_indptr: array<u32>;
// Outputs [rows, q_heads, head_dim]: f32, or f16 eight per vec4 word.
@group(0) @binding(8) var<storage, read_write> o: array<vec4<u32>>;

// Keys visible to the query row whose token is `i` of `n` new ones in a sequence of `len`:
// positions 0 ..= len − n + i, none when n > len + i (a table the host did not check).
fn visible(i: u32, n: u32, len: u32) -> u32 {
    return select(0u, min(len, len + i + 1u - n), len + i + 1u > n);
}

// Writes output elements 8c .. 8c + 8 of query row `row` (whole words in either format).
fn store8(row: u32, c: u32, x: Eight) {
    let first = row * params.table.head_dim + 8u * c;
    if (O_F16) {
        o[first / 8u] = vec4<u32>(
            f32_to_f16_bits(x.lo.x) | (f32_to_f16_bits(x.lo.y) << 16u),
            f32_to_f16_bits(x.lo.z) | (f32_to_f16_bits(x.lo.w) << 16u),
            f32_to_f16_bits(x.hi.x) | (f32_to_f16_bits(x.hi.y) << 16u),
            f32_to_f16_bits(x.hi.z) | (f32_to_f16_bits(x.hi.w) << 16u),
        );
        return;
    }
    o[first / 4u] = bitcast<vec4<u32>>(x.lo);
    o[first / 4u + 1u] = bitcast<vec4<u32>>(x.hi);
}
