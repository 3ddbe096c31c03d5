// Shared part of the kernels that read values (after kv.wgsl): V in the same format as K.

@group(0) @binding(5) var<storage, read> v_cache: array<vec4<u32>>;

fn v8(e: u32) -> Eight {
    if (KV_F16) {
        return widen8(v_cache[e / 8u]);
    }
    return Eight(bitcast<vec4<f32>>(v_cache[e / 4u]), bitcast<vec4<f32>>(v_cache[e / 4u + 1u]));
}
