// Shared part: where KIVI's int4 / int2 caches (KV_FORMAT 4 and 5) keep things, in u32 words
// of the K and V bindings, for the append that writes them (append_kivi.wgsl) and the loaders
// that read them (kv.wgsl, values.wgsl). The diagram is squeeze_attention::layout::KvDtype's:
//
//   K page    [scale: f16 × kvd][zero: f16 × kvd][codes: page_size × kvd × B bits]
//             (K per channel over the page's tokens; code of (slot t, channel i) is code
//             n = t·kvd + i, at bit B·(n mod 32/B) of code word n / (32/B))
//   V block   [scale: f16 | zero: f16][codes: 32 × B bits]  (V per token, 32 channels)
//   residual  f16 [sequences, page_size, kv_heads, head_dim] after each pool, from a 16-byte
//             boundary: each sequence's last page while it is not full
//
// kvd = kv_heads · head_dim, B = 4 (int4) or 2 (int2). Every value is f32(q) · scale + zero.

const KV_INT4: u32 = 4u;
const KV_INT2: u32 = 5u;

// Bits per code.
fn kivi_bits() -> u32 {
    return select(2u, 4u, KV_FORMAT == KV_INT4);
}

// The largest code, 2^B − 1.
fn kivi_levels() -> u32 {
    return (1u << kivi_bits()) - 1u;
}

// Channels of a token: kv_heads × head_dim.
fn kivi_kvd() -> u32 {
    return params.table.kv_heads * params.table.head_dim;
}

// Words of a K page: the scales and zeros (kvd halves each), then the codes.
fn kivi_k_page_words() -> u32 {
    let kvd = kivi_kvd();
    return kvd + params.table.page_size * kvd * kivi_bits() / 32u;
}

// Words of a V block of 32 values: scale and zero, then the codes.
fn kivi_v_block_words() -> u32 {
    return 1u + kivi_bits();
}

// Pool rows (pages × page_size); a row at or past it is row `b × page_size + slot` of the
// residual.
fn kivi_pool_rows() -> u32 {
    return params.table.pages * params.table.page_size;
}

// The first word of K's residual: after the pool, rounded up to a whole vec4.
fn kivi_k_residual() -> u32 {
    return (params.table.pages * kivi_k_page_words() + 3u) / 4u * 4u;
}

// The first word of V's residual.
fn kivi_v_residual() -> u32 {
    let blocks = kivi_pool_rows() * kivi_kvd() / 32u;
    return (blocks * kivi_v_block_words() + 3u) / 4u * 4u;
}

// The value of code `q` of a group with f32 `scale` and `zero`.
fn kivi_value(q: vec4<u32>, scale: vec4<f32>, zero: vec4<f32>) -> vec4<f32> {
    return vec4<f32>(q) * scale + zero;
}

// Eight consecutive codes of B bits from the low 8·B bits of `w`, as two vec4s.
fn kivi_codes8(w: u32) -> array<vec4<u32>, 2> {
    let b = kivi_bits();
    let mask = vec4<u32>(kivi_levels());
    let shifts = vec4<u32>(0u, b, 2u * b, 3u * b);
    return array<vec4<u32>, 2>((vec4<u32>(w) >> shifts) & mask, (vec4<u32>(w) >> (shifts + vec4<u32>(4u * b))) & mask);
}
