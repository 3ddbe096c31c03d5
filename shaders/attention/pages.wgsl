// Shared part of the kernels that walk the paged KV cache (after params.wgsl).
//
// K and V are `[pages, page_size, kv_heads, head_dim]`; sequence `b` owns the logical pages
// `page_indices[page_indptr[b] .. page_indptr[b + 1]]`, the last of which holds
// `last_page_len[b]` tokens. The host validated the table before anything was recorded; the
// kernels still treat any entry outside the pool as an empty slot, so a stale table cannot make
// them read or write out of bounds.

@group(0) @binding(1) var<storage, read> page_indptr: array<u32>;
@group(0) @binding(2) var<storage, read> page_indices: array<u32>;
@group(0) @binding(3) var<storage, read> last_page_len: array<u32>;

const NO_ROW: u32 = 0xffffffffu;

// Tokens in sequence `b`.
fn seq_len(b: u32) -> u32 {
    let first = page_indptr[b];
    let end = page_indptr[b + 1u];
    if (end <= first) {
        return 0u;
    }
    let page_size = params.table.page_size;
    return (end - first - 1u) * page_size + min(last_page_len[b], page_size);
}

// Pages in sequence `b`.
fn seq_pages(b: u32) -> u32 {
    return page_indptr[b + 1u] - min(page_indptr[b], page_indptr[b + 1u]);
}

// The pool row (page * page_size + slot) of token `pos` of sequence `b`, or NO_ROW when the
// table points outside the pool.
fn token_row(b: u32, pos: u32) -> u32 {
    let page = page_indices[page_indptr[b] + pos / params.table.page_size];
    if (page >= params.table.pages) {
        return NO_ROW;
    }
    return page * params.table.page_size + pos % params.table.page_size;
}
