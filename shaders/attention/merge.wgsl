// The merge of split-KV decode partials (decode.wgsl): for each (sequence, query head), the
// softmax-weighted sum of the splits' outputs, rescaled to their common maximum. A row no split
// attended to (an empty sequence or selection) is zero.

// Rust twin: `squeeze_attention::decode::MergeParams`.
struct MergeParams {
    table: TableShape,
    // Splits per (sequence, KV head) the decode wrote.
    splits: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: MergeParams;

@group(0) @binding(1) var<storage, read> part_o: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> part_ml: array<vec2<f32>>;
// Outputs [batch, q_heads, head_dim]: f32, or f16 two per word (`O_F16`, rounded to nearest
// even). One invocation writes each four elements, so an f16 output's words have one writer.
override O_F16: bool = false;

@group(0) @binding(3) var<storage, read_write> o: array<vec4<u32>>;

// Writes output elements 4i .. 4i+4.
fn store_o(i: u32, v: vec4<f32>) {
    if (O_F16) {
        let lo = f32_to_f16_bits(v.x) | (f32_to_f16_bits(v.y) << 16u);
        let hi = f32_to_f16_bits(v.z) | (f32_to_f16_bits(v.w) << 16u);
        if (i % 2u == 0u) {
            o[i / 2u].x = lo;
            o[i / 2u].y = hi;
        } else {
            o[i / 2u].z = lo;
            o[i / 2u].w = hi;
        }
        return;
    }
    o[i] = bitcast<vec4<u32>>(v);
}

@compute @workgroup_size(64)
fn merge(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
    let row = wg.y * params.table.q_heads + wg.x;
    let first = row * params.splits;
    let cols = params.table.head_dim / 4u;
    var top = neg_inf();
    for (var s = 0u; s < params.splits; s++) {
        top = max(top, part_ml[first + s].x);
    }
    for (var c = t; c < cols; c += 64u) {
        var sum = 0.0;
        var out = vec4<f32>(0.0);
        if (top != neg_inf()) {
            for (var s = 0u; s < params.splits; s++) {
                let ml = part_ml[first + s];
                let w = select(exp(ml.x - top), 0.0, ml.x == neg_inf());
                sum += w * ml.y;
                out += w * part_o[(first + s) * cols + c];
            }
        }
        store_o(row * cols + c, select(vec4<f32>(0.0), out / sum, sum > 0.0));
    }
}
