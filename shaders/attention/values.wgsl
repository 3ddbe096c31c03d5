// Shared part of the kernels that read values (after kv.wgsl): V in the same format as K.

@group(0) @binding(5) var<storage, read> v_cache: array<vec4<u32>>;

// Word i of V.
fn v_word(i: u32) -> u32 {
    return v_cache[i / 4u][i % 4u];
}

fn v8(e: u32) -> Eight {
    if (KV_FORMAT == KV_F16) {
        return widen8(v_cache[e / 8u]);
    }
    if (KV_FORMAT >= KV_Q8_0) {
        let at = block_words(e);
        return block8(e, at, v_word(at.x), v_word(at.y), v_word(at.y + 1u), v_word(at.z));
    }
    return Eight(bitcast<vec4<f32>>(v_cache[e / 4u]), bitcast<vec4<f32>>(v_cache[e / 4u + 1u]));
}
