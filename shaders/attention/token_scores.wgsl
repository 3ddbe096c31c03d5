// Token-level selection, first pass: the attention logits scale · q_g · k_t of every query head
// g and token t (`logits` = [batch, q_heads, max_len] f32; -inf past a sequence's end). One
// invocation per (sequence, KV head, token) serves the whole query group from one key row.

@group(0) @binding(5) var<storage, read> q: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read_write> logits: array<f32>;

const WORKGROUP: u32 = 256u;

@compute @workgroup_size(256)
fn token_scores(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let group = params.q_heads / params.kv_heads;
    let cols = params.head_dim / 8u;
    let total = params.batch * params.kv_heads * params.max_len;
    for (var i = gid.x; i < total; i += groups.x * WORKGROUP) {
        let row = i / params.max_len;
        let pos = i % params.max_len;
        let b = row / params.kv_heads;
        let h = row % params.kv_heads;
        var pool_row = NO_ROW;
        if (pos < seq_len(b)) {
            pool_row = token_row(b, pos);
        }
        for (var g = 0u; g < group; g++) {
            let head = b * params.q_heads + h * group + g;
            var logit = neg_inf();
            if (pool_row != NO_ROW) {
                let first = kv_element(pool_row, h);
                let qg = head * params.head_dim / 4u;
                var dot = vec4<f32>(0.0);
                for (var c = 0u; c < cols; c++) {
                    let k = k8(first + 8u * c);
                    dot += k.lo * q[qg + 2u * c] + k.hi * q[qg + 2u * c + 1u];
                }
                logit = (dot.x + dot.y + dot.z + dot.w) * params.scale;
            }
            logits[head * params.max_len + pos] = logit;
        }
    }
}
