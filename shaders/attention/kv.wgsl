// Shared part of the kernels that read keys: K (and, with values.wgsl, V) in the cache format
// `KV_FORMAT` (a pipeline constant, so that no format pays for another), read eight head
// dimensions at a time and dequantized in registers: no kernel makes a dequantized copy.
//
//   0 f32; 1 f16, two per word; 2 q8_0 and 3 q4_0, ggml's blocks of 32 values along head_dim,
//   byte for byte (34 B: f16 scale d, 32 i8 codes, x = d·q; 18 B: d, 16 bytes of nibbles,
//   x = d·(q − 8), value j < 16 the low nibble of byte j, value j + 16 its high nibble).
//
//   4 int4 and 5 int2: KIVI's K per channel over a page's tokens, V per token over groups of
//   32, with an f16 residual after each pool for the tokens of each sequence's last page while
//   it is not full (kivi.wgsl has the layout). Readers find a token's row with kv_row, which
//   sends those tokens to the residual: rows past the pool's are residual rows.
//
// Blocks are packed with no padding, so block b starts at 16-bit unit 17·b (q8_0) or 9·b
// (q4_0) of the cache: two-byte aligned, and the eight code bytes of eight values span two or
// three words. Every reader goes through kv_row and k8 / v8, so each kernel gets every format.

override KV_FORMAT: u32 = 0u;

const KV_F16: u32 = 1u;
const KV_Q8_0: u32 = 2u;
const KV_Q4_0: u32 = 3u;

@group(0) @binding(4) var<storage, read> k_cache: array<vec4<u32>>;

struct Eight {
    lo: vec4<f32>,
    hi: vec4<f32>,
}

// Halves 0..7 of a vec4 word as f32 (branch-free; f16 subnormals may flush to zero).
fn widen8(w: vec4<u32>) -> Eight {
    let lo = vec4<u32>(w.x, w.x >> 16u, w.y, w.y >> 16u) & vec4<u32>(0xffffu);
    let hi = vec4<u32>(w.z, w.z >> 16u, w.w, w.w >> 16u) & vec4<u32>(0xffffu);
    return Eight(f16x4_to_f32_fast(lo), f16x4_to_f32_fast(hi));
}

// Where the block holding elements e .. e+8 keeps them: the word of its scale, the first of the
// words holding the eight code bytes, the last of them, and flags (bit 0: the scale is the high
// half of its word; bit 1: the codes start at a word's high half).
fn block_words(e: u32) -> vec4<u32> {
    let block = e / 32u;
    let j = e % 32u;
    var units = 17u;
    var code = j / 2u;
    if (KV_FORMAT == KV_Q4_0) {
        units = 9u;
        code = (j % 16u) / 2u;
    }
    let scale = block * units;
    let first = scale + 1u + code;
    let odd = first & 1u;
    return vec4<u32>(scale / 2u, first / 2u, first / 2u + 1u + odd, (scale & 1u) | (odd << 1u));
}

// Four signed bytes as f32.
fn i8x4(w: u32) -> vec4<f32> {
    return vec4<f32>(bitcast<vec4<i32>>(vec4<u32>(w << 24u, w << 16u, w << 8u, w)) >> vec4<u32>(24u));
}

// The nibbles at bit `shift` (0 or 4) of four bytes, minus 8, as f32.
fn q4x4(w: u32, shift: u32) -> vec4<f32> {
    let q = (vec4<u32>(w, w >> 8u, w >> 16u, w >> 24u) >> vec4<u32>(shift)) & vec4<u32>(0xfu);
    return vec4<f32>(vec4<i32>(q) - vec4<i32>(8));
}

// Elements e .. e+8 of a block format, from the words block_words(e) names: `s` the scale's,
// `w0`, `w1`, `w2` the words from the first code word on (w2 read only when the codes start
// mid-word). Exactly f32(q) · d, as ggml's dequantize_row_q8_0 / q4_0.
fn block8(e: u32, at: vec4<u32>, s: u32, w0: u32, w1: u32, w2: u32) -> Eight {
    let d = f16_to_f32((s >> (16u * (at.w & 1u))) & 0xffffu);
    let odd = (at.w & 2u) != 0u;
    let lo = select(w0, (w0 >> 16u) | (w1 << 16u), odd);
    let hi = select(w1, (w1 >> 16u) | (w2 << 16u), odd);
    if (KV_FORMAT == KV_Q4_0) {
        let shift = select(0u, 4u, e % 32u >= 16u);
        return Eight(q4x4(lo, shift) * d, q4x4(hi, shift) * d);
    }
    return Eight(i8x4(lo) * d, i8x4(hi) * d);
}

// Word i of K.
fn k_word(i: u32) -> u32 {
    return k_cache[i / 4u][i % 4u];
}

// Elements e .. e+8 of an int4 / int2 K: residual rows in f16; pool rows from their page's
// codes (one word, or half of one, for the eight channels) and the channels' scales and zeros
// (a vec4 of halves each).
fn kivi_k8(e: u32) -> Eight {
    let kvd = kivi_kvd();
    let pool = kivi_pool_rows() * kvd;
    if (e >= pool) {
        return widen8(k_cache[(kivi_k_residual() + (e - pool) / 2u) / 4u]);
    }
    let row = e / kvd;
    let i = e % kvd;
    let base = (row / params.table.page_size) * kivi_k_page_words();
    let scale = widen8(k_cache[(base + i / 2u) / 4u]);
    let zero = widen8(k_cache[(base + kvd / 2u + i / 2u) / 4u]);
    let n = (row % params.table.page_size) * kvd + i;
    let per_word = 32u / kivi_bits();
    let w = k_word(base + kvd + n / per_word) >> (kivi_bits() * (n % per_word));
    let q = kivi_codes8(w);
    return Eight(kivi_value(q[0], scale.lo, zero.lo), kivi_value(q[1], scale.hi, zero.hi));
}

// Elements e .. e+8 of K (e a multiple of 8, counted over the whole cache).
fn k8(e: u32) -> Eight {
    if (KV_FORMAT == KV_F16) {
        return widen8(k_cache[e / 8u]);
    }
    if (KV_FORMAT >= KV_INT4) {
        return kivi_k8(e);
    }
    if (KV_FORMAT >= KV_Q8_0) {
        let at = block_words(e);
        return block8(e, at, k_word(at.x), k_word(at.y), k_word(at.y + 1u), k_word(at.z));
    }
    return Eight(bitcast<vec4<f32>>(k_cache[e / 4u]), bitcast<vec4<f32>>(k_cache[e / 4u + 1u]));
}

// The row of token `pos` of sequence `b` that k8 / v8 read (with kv_element), or NO_ROW: its
// pool row, except in int4 / int2, where the tokens of a last page that is not full are row
// `pool rows + b × page_size + slot`, in the residual.
fn kv_row(b: u32, pos: u32) -> u32 {
    if (KV_FORMAT >= KV_INT4) {
        let page_size = params.table.page_size;
        if (last_page_len[b] < page_size && pos / page_size + 1u == seq_pages(b)) {
            return kivi_pool_rows() + b * page_size + pos % page_size;
        }
    }
    return token_row(b, pos);
}

// First element of head `h` of pool row `row`.
fn kv_element(row: u32, h: u32) -> u32 {
    return (row * params.table.kv_heads + h) * params.table.head_dim;
}
