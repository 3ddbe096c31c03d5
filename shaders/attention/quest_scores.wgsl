// Quest page scores: for each (sequence, KV head) row and logical page, the upper bound
// Σ_g Σ_d max(q_gd · min_d, q_gd · max_d) of the page's attention logits, summed over the query
// heads g of the KV group. Sink and window pages score +inf so that top-k always keeps them;
// `lengths` receives each row's page count for top-k.

@group(0) @binding(4) var<storage, read> q: array<vec4<u32>>;
@group(0) @binding(5) var<storage, read> page_meta: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read_write> scores: array<f32>;
@group(0) @binding(7) var<storage, read_write> lengths: array<u32>;

const WORKGROUP: u32 = 256u;

@compute @workgroup_size(256)
fn quest_scores(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let group = params.q_heads / params.kv_heads;
    let dim4 = params.head_dim / 4u;
    let total = params.batch * params.kv_heads * params.max_len;
    for (var i = gid.x; i < total; i += groups.x * WORKGROUP) {
        let row = i / params.max_len;
        let page = i % params.max_len;
        let b = row / params.kv_heads;
        let h = row % params.kv_heads;
        let len = seq_len(b);
        let pages = (len + params.page_size - 1u) / params.page_size;
        if (page == 0u) {
            lengths[row] = pages;
        }
        if (page >= pages) {
            scores[i] = neg_inf();
            continue;
        }
        let window_start = len - min(params.window, len);
        let in_window = params.window > 0u && (page + 1u) * params.page_size > window_start;
        if (page * params.page_size < params.sink || in_window) {
            scores[i] = pos_inf();
            continue;
        }
        let pool_page = page_indices[page_indptr[b] + page];
        if (pool_page >= params.pages) {
            scores[i] = neg_inf();
            continue;
        }
        let lo = (pool_page * params.kv_heads + h) * 2u * dim4;
        var sum = vec4<f32>(0.0);
        let q_first = (b * params.q_heads + h * group) * dim4;
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
