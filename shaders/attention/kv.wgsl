// Shared part of the kernels that read keys: K (and, with values.wgsl, V) in f32 or f16
// (`KV_F16`, a pipeline constant so that neither path pays for the other), read eight head
// dimensions at a time.

override KV_F16: bool = false;

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

// Elements e .. e+8 of K (e a multiple of 8, counted over the whole cache).
fn k8(e: u32) -> Eight {
    if (KV_F16) {
        return widen8(k_cache[e / 8u]);
    }
    return Eight(bitcast<vec4<f32>>(k_cache[e / 4u]), bitcast<vec4<f32>>(k_cache[e / 4u + 1u]));
}

// First element of head `h` of pool row `row`.
fn kv_element(row: u32, h: u32) -> u32 {
    return (row * params.kv_heads + h) * params.head_dim;
}
