// Quest page metadata: per page and KV head, the element-wise minimum and maximum of the keys
// the page holds (`meta` = [pages, kv_heads, 2, head_dim] f32, minimum first). Recomputed for
// the listed (sequence, logical page) pairs, over the page's valid tokens only.

// Rust twin: `squeeze_attention::quest_meta::QuestMetaParams`.
struct QuestMetaParams {
    table: TableShape,
    // (sequence, logical page) pairs in `touched`.
    touched_pages: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: QuestMetaParams;

@group(0) @binding(5) var<storage, read> touched: array<vec2<u32>>;
@group(0) @binding(6) var<storage, read_write> page_meta: array<vec4<f32>>;

const WORKGROUP: u32 = 256u;

@compute @workgroup_size(256)
fn quest_meta(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let cols = params.table.head_dim / 8u;
    let per_item = params.table.kv_heads * cols;
    let total = params.touched_pages * per_item;
    for (var i = gid.x; i < total; i += groups.x * WORKGROUP) {
        let item = touched[i / per_item];
        let b = item.x;
        let h = (i % per_item) / cols;
        let e = 8u * (i % cols);
        let len = seq_len(b);
        let first = item.y * params.table.page_size;
        if (b >= params.table.batch || first >= len) {
            continue;
        }
        let page = page_indices[page_indptr[b] + item.y];
        if (page >= params.table.pages) {
            continue;
        }
        let valid = min(len - first, params.table.page_size);
        var lo = k8(kv_element(kv_row(b, first), h) + e);
        var hi = lo;
        for (var s = 1u; s < valid; s++) {
            let k = k8(kv_element(kv_row(b, first + s), h) + e);
            lo = Eight(min(lo.lo, k.lo), min(lo.hi, k.hi));
            hi = Eight(max(hi.lo, k.lo), max(hi.hi, k.hi));
        }
        let out = ((page * params.table.kv_heads + h) * 2u * params.table.head_dim + e) / 4u;
        let dim4 = params.table.head_dim / 4u;
        page_meta[out] = lo.lo;
        page_meta[out + 1u] = lo.hi;
        page_meta[out + dim4] = hi.lo;
        page_meta[out + dim4 + 1u] = hi.hi;
    }
}
