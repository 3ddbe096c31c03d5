// TokenSelect, second pass: each query head's softmax statistics over its sequence's logits,
// (maximum, Σ exp(logit − maximum)) per [batch, q_heads] row.

// Rust twin: `squeeze_attention::token_stats::TokenStatsParams`.
struct TokenStatsParams {
    table: TableShape,
    // Tokens per logit row (token_scores.wgsl's layout).
    row_stride: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: TokenStatsParams;

@group(0) @binding(1) var<storage, read> seq_lens: array<u32>;
@group(0) @binding(2) var<storage, read> logits: array<f32>;
@group(0) @binding(3) var<storage, read_write> stats: array<vec2<f32>>;

const WORKGROUP: u32 = 64u;

var<workgroup> partial: array<f32, WORKGROUP>;

// The workgroup's combination of `value` (maximum or sum) across its invocations.
fn reduce(t: u32, value: f32, is_max: bool) -> f32 {
    partial[t] = value;
    for (var width = WORKGROUP / 2u; width > 0u; width /= 2u) {
        workgroupBarrier();
        if (t < width) {
            let other = partial[t + width];
            partial[t] = select(partial[t] + other, max(partial[t], other), is_max);
        }
    }
    workgroupBarrier();
    let result = partial[0];
    workgroupBarrier();
    return result;
}

@compute @workgroup_size(64)
fn token_stats(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
    let row = wg.y * params.table.q_heads + wg.x;
    let len = min(seq_lens[wg.y], params.row_stride);
    let first = row * params.row_stride;
    var top = neg_inf();
    for (var i = t; i < len; i += WORKGROUP) {
        top = max(top, logits[first + i]);
    }
    top = reduce(t, top, true);
    var sum = 0.0;
    if (top != neg_inf()) {
        for (var i = t; i < len; i += WORKGROUP) {
            sum += exp(logits[first + i] - top);
        }
    }
    sum = reduce(t, sum, false);
    if (t == 0u) {
        stats[row] = vec2<f32>(top, sum);
    }
}
