// Token-level selection, first pass: the attention logits scale · q_g · k_t of every query head
// g and token t (`logits` = [batch, q_heads, row_stride] f32, score_rows.wgsl's `logit_index`;
// -inf past a sequence's end). One invocation per (sequence, KV head, token) serves the whole
// query group from one key row, each key element loaded and widened once: `GROUP` is the group
// size rounded up to a power of two (a pipeline constant, so the head loops unroll).

// Rust twin: `squeeze_attention::token_scores::TokenScoresParams`.
struct TokenScoresParams {
    table: TableShape,
    // Tokens per logit row (score_rows.wgsl).
    row_stride: u32,
    // The factor on q·k.
    scale: f32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: TokenScoresParams;

override GROUP: u32 = 1u;

@group(0) @binding(5) var<storage, read> q: array<vec4<u32>>;
@group(0) @binding(6) var<storage, read_write> logits: array<f32>;

const MAX_GROUP: u32 = 32u;

@compute @workgroup_size(256)
fn token_scores(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let group = group_size();
    let dim4 = params.table.head_dim / 4u;
    let cols = params.table.head_dim / 8u;
    for (var i = gid.x; i < score_entries(); i += groups.x * WORKGROUP) {
        let e = score_entry(i);
        var pool_row = NO_ROW;
        if (e.pos < seq_len(e.b)) {
            pool_row = kv_row(e.b, e.pos);
        }
        var dots: array<vec4<f32>, MAX_GROUP>;
        for (var g = 0u; g < GROUP; g++) {
            dots[g] = vec4<f32>(0.0);
        }
        let q_first = group_head(e) * dim4;
        if (pool_row != NO_ROW) {
            let first = kv_element(pool_row, e.h);
            for (var c = 0u; c < cols; c++) {
                let k = k8(first + 8u * c);
                for (var g = 0u; g < GROUP; g++) {
                    let qg = q_first + min(g, group - 1u) * dim4 + 2u * c;
                    dots[g] += k.lo * q4(qg) + k.hi * q4(qg + 1u);
                }
            }
        }
        for (var g = 0u; g < GROUP; g++) {
            if (g < group) {
                let d = dots[g];
                let logit = select(neg_inf(), (d.x + d.y + d.z + d.w) * params.scale, pool_row != NO_ROW);
                logits[logit_index(e, g)] = logit;
            }
        }
    }
}
