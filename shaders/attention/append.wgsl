// Appends new tokens' K and V to the paged cache: each token's `[kv_heads, head_dim]` row,
// copied word for word (the cache's format, f32 or f16), to the pool row the host resolved
// from the page table (`rows`, one per token; NO_ROW skips a token).

override KV_F16: bool = false;

@group(0) @binding(1) var<storage, read> rows: array<u32>;
@group(0) @binding(2) var<storage, read> k_new: array<u32>;
@group(0) @binding(3) var<storage, read> v_new: array<u32>;
@group(0) @binding(4) var<storage, read_write> k_cache: array<u32>;
@group(0) @binding(5) var<storage, read_write> v_cache: array<u32>;

const WORKGROUP: u32 = 256u;

@compute @workgroup_size(256)
fn append_kv(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let words = params.kv_heads * params.head_dim / select(1u, 2u, KV_F16);
    let total = params.items * words;
    for (var i = gid.x; i < total; i += groups.x * WORKGROUP) {
        let token = i / words;
        let row = rows[token];
        if (row < params.pages * params.page_size) {
            let dst = row * words + i % words;
            k_cache[dst] = k_new[i];
            v_cache[dst] = v_new[i];
        }
    }
}
