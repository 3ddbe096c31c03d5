// Token-level selection, last pass: one score per (sequence, KV head, token) for top-k, from the
// logits of the KV group's query heads. `vote_sum` adds the logits (TidalDecode's selection);
// `vote_softmax` adds each head's softmax probability (TokenSelect's soft voting). Sink and
// window tokens score +inf so that top-k always keeps them; `lengths` receives each row's
// sequence length for top-k.

@group(0) @binding(1) var<storage, read> seq_lens: array<u32>;
@group(0) @binding(2) var<storage, read> logits: array<f32>;
@group(0) @binding(3) var<storage, read_write> votes: array<f32>;
@group(0) @binding(4) var<storage, read_write> lengths: array<u32>;
@group(0) @binding(5) var<storage, read> stats: array<vec2<f32>>;

const WORKGROUP: u32 = 256u;

// The row and token of item `i`, or a negative vote when it is forced or past the end: writes
// the row's length and returns false when the caller has nothing left to add.
fn vote_prologue(i: u32) -> bool {
    let row = i / params.max_len;
    let pos = i % params.max_len;
    let len = min(seq_lens[row / params.kv_heads], params.max_len);
    if (pos == 0u) {
        lengths[row] = len;
    }
    if (pos >= len) {
        votes[i] = neg_inf();
        return false;
    }
    if (pos < params.sink || pos >= len - min(params.window, len)) {
        votes[i] = pos_inf();
        return false;
    }
    return true;
}

// Logit `g` of the group voting on item `i`, and its [batch, q_heads] row.
fn voter(i: u32, g: u32) -> u32 {
    let group = params.q_heads / params.kv_heads;
    let row = i / params.max_len;
    return (row / params.kv_heads) * params.q_heads + (row % params.kv_heads) * group + g;
}

@compute @workgroup_size(256)
fn vote_sum(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let group = params.q_heads / params.kv_heads;
    let total = params.batch * params.kv_heads * params.max_len;
    for (var i = gid.x; i < total; i += groups.x * WORKGROUP) {
        if (!vote_prologue(i)) {
            continue;
        }
        var sum = 0.0;
        for (var g = 0u; g < group; g++) {
            sum += logits[voter(i, g) * params.max_len + i % params.max_len];
        }
        votes[i] = sum;
    }
}

@compute @workgroup_size(256)
fn vote_softmax(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let group = params.q_heads / params.kv_heads;
    let total = params.batch * params.kv_heads * params.max_len;
    for (var i = gid.x; i < total; i += groups.x * WORKGROUP) {
        if (!vote_prologue(i)) {
            continue;
        }
        var sum = 0.0;
        for (var g = 0u; g < group; g++) {
            let head = voter(i, g);
            let st = stats[head];
            sum += exp(logits[head * params.max_len + i % params.max_len] - st.x) / st.y;
        }
        votes[i] = sum;
    }
}
