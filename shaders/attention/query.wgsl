// Shared first part of the kernels that read queries (decode, quest_scores, token_scores):
// q [batch, q_heads, head_dim] in f32, or in f16 two per word (`Q_F16`, a pipeline constant so
// the f32 path pays nothing), read four head dimensions at a time. f16 is widened exactly
// (halves.wgsl). The including kernel declares `q` as `array<vec4<u32>>`. First in its module,
// like every override added since naga 30's override-ordering panic (see dfloat11/gemv_x.wgsl).

override Q_F16: bool = false;

// Query elements 4i .. 4i+4 (counted over the whole tensor).
fn q4(i: u32) -> vec4<f32> {
    if (Q_F16) {
        let w = q[i / 2u];
        let pair = select(w.zw, w.xy, i % 2u == 0u);
        return vec4<f32>(
            f16_to_f32(pair.x & 0xffffu),
            f16_to_f32(pair.x >> 16u),
            f16_to_f32(pair.y & 0xffffu),
            f16_to_f32(pair.y >> 16u),
        );
    }
    return bitcast<vec4<f32>>(q[i]);
}
