// Token-level selection, last pass: one score per (sequence, KV head, token) for top-k, from the
// logits of the KV group's query heads. `vote_sum` adds the logits (TidalDecode's selection);
// `vote_softmax` adds each head's softmax probability (TokenSelect's soft voting). Sink and
// window tokens score +inf so that top-k always keeps them; `lengths` receives each row's
// sequence length for top-k (score_outputs.wgsl).

@group(0) @binding(1) var<storage, read> seq_lens: array<u32>;
@group(0) @binding(2) var<storage, read> logits: array<f32>;
@group(0) @binding(3) var<storage, read_write> scores: array<f32>;
@group(0) @binding(4) var<storage, read_write> lengths: array<u32>;
@group(0) @binding(5) var<storage, read> stats: array<vec2<f32>>;

// Entry `i` of the rows when it still needs its vote: open_entry over its sequence's tokens.
fn open_token(i: u32, e: ScoreEntry) -> bool {
    let len = min(seq_lens[e.b], params.row_stride);
    return open_entry(i, e, len, 1u, len);
}

@compute @workgroup_size(256)
fn vote_sum(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    for (var i = gid.x; i < score_entries(); i += groups.x * WORKGROUP) {
        let e = score_entry(i);
        if (open_token(i, e)) {
            var sum = 0.0;
            for (var g = 0u; g < group_size(); g++) {
                sum += logits[logit_index(e, g)];
            }
            scores[i] = sum;
        }
    }
}

@compute @workgroup_size(256)
fn vote_softmax(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    for (var i = gid.x; i < score_entries(); i += groups.x * WORKGROUP) {
        let e = score_entry(i);
        if (open_token(i, e)) {
            var sum = 0.0;
            for (var g = 0u; g < group_size(); g++) {
                let st = stats[group_head(e) + g];
                sum += exp(logits[logit_index(e, g)] - st.x) / st.y;
            }
            scores[i] = sum;
        }
    }
}
