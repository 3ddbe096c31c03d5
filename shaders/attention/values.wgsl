// Shared part of the kernels that read values (after kv.wgsl): V in the same format as K.

@group(0) @binding(5) var<storage, read> v_cache: array<vec4<u32>>;

// Word i of V.
fn v_word(i: u32) -> u32 {
    return v_cache[i / 4u][i % 4u];
}

// Elements e .. e+8 of an int4 / int2 V: residual rows in f16; pool rows from their block of
// 32 (scale and zero in one word, the eight codes in one word or half of one).
fn kivi_v8(e: u32) -> Eight {
    let pool = kivi_pool_rows() * kivi_kvd();
    if (e >= pool) {
        return widen8(v_cache[(kivi_v_residual() + (e - pool) / 2u) / 4u]);
    }
    let block = (e / 32u) * kivi_v_block_words();
    let sz = v_word(block);
    let scale = vec4<f32>(f16_to_f32(sz & 0xffffu));
    let zero = vec4<f32>(f16_to_f32(sz >> 16u));
    let j = e % 32u;
    let per_word = 32u / kivi_bits();
    let w = v_word(block + 1u + j / per_word) >> (kivi_bits() * (j % per_word));
    let q = kivi_codes8(w);
    return Eight(kivi_value(q[0], scale, zero), kivi_value(q[1], scale, zero));
}

fn v8(e: u32) -> Eight {
    if (KV_FORMAT >= KV_INT4) {
        return kivi_v8(e);
    }
    if (KV_FORMAT == KV_F16) {
        return widen8(v_cache[e / 8u]);
    }
    if (KV_FORMAT >= KV_Q8_0) {
        let at = block_words(e);
        return block8(e, at, v_word(at.x), v_word(at.y), v_word(at.y + 1u), v_word(at.z));
    }
    return Eight(bitcast<vec4<f32>>(v_cache[e / 4u]), bitcast<vec4<f32>>(v_cache[e / 4u + 1u]));
}
