// The merge of split-KV decode partials (decode.wgsl): for each (sequence, query head), the
// softmax-weighted sum of the splits' outputs, rescaled to their common maximum. A row no split
// attended to (an empty sequence or selection) is zero.

@group(0) @binding(1) var<storage, read> part_o: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> part_ml: array<vec2<f32>>;
// Outputs [batch, q_heads, head_dim] f32.
@group(0) @binding(3) var<storage, read_write> o: array<vec4<f32>>;

@compute @workgroup_size(64)
fn merge(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
    let row = wg.y * params.q_heads + wg.x;
    let first = row * params.splits;
    let cols = params.head_dim / 4u;
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
        o[row * cols + c] = select(vec4<f32>(0.0), out / sum, sum > 0.0);
    }
}
