// Quest page scores: for each (sequence, KV head) row and logical page, the upper bound
// Σ_g Σ_d max(q_gd · min_d, q_gd · max_d) of the page's attention logits, summed over the query
// heads g of the KV group. Sink and window pages score +inf so that top-k always keeps them;
// `lengths` receives each row's page count for top-k (score_outputs.wgsl).

@group(0) @binding(4) var<storage, read> q: array<vec4<u32>>;
@group(0) @binding(5) var<storage, read> page_meta: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read_write> scores: array<f32>;
@group(0) @binding(7) var<storage, read_write> lengths: array<u32>;

@compute @workgroup_size(256)
fn quest_scores(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let group = group_size();
    let dim4 = params.table.head_dim / 4u;
    for (var i = gid.x; i < score_entries(); i += groups.x * WORKGROUP) {
        let e = score_entry(i);
        let len = seq_len(e.b);
        let pages = (len + params.table.page_size - 1u) / params.table.page_size;
        if (!open_entry(i, e, pages, params.table.page_size, len)) {
            continue;
        }
        let pool_page = page_indices[page_indptr[e.b] + e.pos];
        if (pool_page >= params.table.pages) {
            scores[i] = neg_inf();
            continue;
        }
        let lo = (pool_page * params.table.kv_heads + e.h) * 2u * dim4;
        var sum = vec4<f32>(0.0);
        let q_first = group_head(e) * dim4;
        for (var c = 0u; c < dim4; c++) {
            let low = page_meta[lo + c];
            let high = page_meta[lo + dim4 + c];
            for (var g = 0u; g < group; g++) {
                let x = q4(q_first + g * dim4 + c);
                sum += max(x * low, x * high);
            }
        }
        scores[i] = (sum.x + sum.y) + (sum.z + sum.w);
    }
}
