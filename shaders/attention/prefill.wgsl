// Causal prefill attention over the paged KV cache (FlashAttention-style), the portable path
// (prefill_rows.wgsl has the contract).
//
// A workgroup serves one (query tile, KV head, sequence). Its tile is 1024 / head_dim "query
// rows" — (token, query head of the KV group) pairs, token-major — so that every K and V
// element it loads serves all the group's heads and several tokens. K and V stream through one
// workgroup tile of 2048 / head_dim tokens (K for the scores, then V over the same memory),
// with an online softmax (running max and sum per query row, rescaled each tile). A tile keeps
// 14 KiB of workgroup memory, under WebGPU's 16 KiB default. The key tiles end at the last
// row's causal limit; every loop is bounded by the table's longest sequence.

const WORKGROUP: u32 = 64u;
// f32 elements of the query tile and of the K/V tile (rows = Q_ELEMENTS / head_dim, keys =
// KV_ELEMENTS / head_dim), so every invocation owns 16 output elements of the tile.
const Q_ELEMENTS: u32 = 1024u;
const KV_ELEMENTS: u32 = 2048u;
// Most query rows and keys of a tile (head_dim 64), and most scores (rows × keys).
const MAX_ROWS: u32 = 16u;
const MAX_KEYS: u32 = 32u;
const MAX_SCORES: u32 = 512u;

var<workgroup> q_tile: array<vec4<f32>, 256>;
var<workgroup> kv_tile: array<vec4<f32>, 512>;
// Scores, then probabilities, [row][key] of the tile.
var<workgroup> p: array<f32, MAX_SCORES>;
// Whether key j of the tile has a pool row (a table entry outside the pool has none).
var<workgroup> key_ok: array<u32, MAX_KEYS>;
var<workgroup> run_max: array<f32, MAX_ROWS>;
var<workgroup> run_sum: array<f32, MAX_ROWS>;
var<workgroup> rescale: array<f32, MAX_ROWS>;
var<workgroup> key_tiles: u32;

// Loads key tile `first .. first + keys` of (sequence b, KV head h) from K (`values` false) or
// V into kv_tile, zeros where there is no pool row; with K, also marks key_ok.
fn load_tile(b: u32, h: u32, len: u32, first: u32, keys: u32, values: bool, t: u32) {
    let dim = params.table.head_dim;
    let eights = dim / 8u;
    for (var e = t; e < keys * eights; e += WORKGROUP) {
        let j = e / eights;
        let c = e % eights;
        let pos = first + j;
        var row = NO_ROW;
        if (pos < len) {
            row = kv_row(b, pos);
        }
        var x = Eight(vec4<f32>(0.0), vec4<f32>(0.0));
        if (row != NO_ROW) {
            let at = kv_element(row, h) + 8u * c;
            if (values) {
                x = v8(at);
            } else {
                x = k8(at);
            }
        }
        let slot = (j * dim + 8u * c) / 4u;
        kv_tile[slot] = x.lo;
        kv_tile[slot + 1u] = x.hi;
        if (!values && c == 0u) {
            key_ok[j] = u32(row != NO_ROW);
        }
    }
}

// Writes output elements 16c .. 16c + 16 of query row `row`.
fn store16(row: u32, c: u32, acc: array<vec4<f32>, 4>) {
    store8(row, 2u * c, Eight(acc[0], acc[1]));
    store8(row, 2u * c + 1u, Eight(acc[2], acc[3]));
}

@compute @workgroup_size(64)
fn prefill(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
    let h = wg.y;
    let b = wg.z;
    let dim = params.table.head_dim;
    let vecs = dim / 4u;
    let rows = Q_ELEMENTS / dim;
    let keys = KV_ELEMENTS / dim;
    let group = params.table.q_heads / params.table.kv_heads;
    let len = seq_len(b);
    let q_first = qo_indptr[b];
    let n = qo_indptr[b + 1u] - min(q_first, qo_indptr[b + 1u]);
    let row_first = wg.x * rows;
    let row_end = min(row_first + rows, n * group);

    // The query tile, pre-scaled; rows past the sequence's queries are zero.
    for (var e = t; e < rows * vecs; e += WORKGROUP) {
        let r = row_first + e / vecs;
        var x = vec4<f32>(0.0);
        if (r < row_end) {
            let head = h * group + r % group;
            x = q4(((q_first + r / group) * params.table.q_heads + head) * vecs + e % vecs) * params.scale;
        }
        q_tile[e] = x;
    }
    if (t < rows) {
        run_max[t] = neg_inf();
        run_sum[t] = 0.0;
    }
    if (t == 0u) {
        var tiles = 0u;
        if (row_end > row_first) {
            tiles = (visible((row_end - 1u) / group, n, len) + keys - 1u) / keys;
        }
        key_tiles = tiles;
    }
    let tiles = min(workgroupUniformLoad(&key_tiles), (params.max_seq_len + keys - 1u) / keys);

    // This invocation's output: row `out_row` of the tile, elements 16 out_col .. + 16.
    let out_row = t / (dim / 16u);
    let out_col = t % (dim / 16u);
    var acc: array<vec4<f32>, 4>;
    for (var m = 0u; m < 4u; m++) {
        acc[m] = vec4<f32>(0.0);
    }

    for (var tile = 0u; tile < tiles; tile++) {
        let first = tile * keys;
        load_tile(b, h, len, first, keys, false, t);
        workgroupBarrier();

        // Scores of every (row, key) pair of the tile, −inf where causality or the table hides
        // the key.
        for (var s = t; s < rows * keys; s += WORKGROUP) {
            let r = s / keys;
            let j = s % keys;
            var score = neg_inf();
            let row = row_first + r;
            if (row < row_end && first + j < visible(row / group, n, len) && key_ok[j] != 0u) {
                var dot = vec4<f32>(0.0);
                for (var c = 0u; c < vecs; c++) {
                    dot += q_tile[r * vecs + c] * kv_tile[j * vecs + c];
                }
                score = dot.x + dot.y + dot.z + dot.w;
            }
            p[s] = score;
        }
        workgroupBarrier();

        // Online softmax, one query row per invocation, while all load V over K.
        if (t < rows) {
            let old_max = run_max[t];
            var new_max = old_max;
            for (var j = 0u; j < keys; j++) {
                new_max = max(new_max, p[t * keys + j]);
            }
            var factor = 1.0;
            var sum = 0.0;
            if (new_max == neg_inf()) {
                for (var j = 0u; j < keys; j++) {
                    p[t * keys + j] = 0.0;
                }
            } else {
                factor = exp(old_max - new_max);
                for (var j = 0u; j < keys; j++) {
                    let e = exp(p[t * keys + j] - new_max);
                    p[t * keys + j] = e;
                    sum += e;
                }
            }
            run_max[t] = new_max;
            run_sum[t] = run_sum[t] * factor + sum;
            rescale[t] = factor;
        }
        load_tile(b, h, len, first, keys, true, t);
        workgroupBarrier();

        // Weighted values into this invocation's 16 outputs.
        let f = rescale[out_row];
        for (var m = 0u; m < 4u; m++) {
            acc[m] *= f;
        }
        for (var j = 0u; j < keys; j++) {
            let w = p[out_row * keys + j];
            let at = (j * dim + 16u * out_col) / 4u;
            for (var m = 0u; m < 4u; m++) {
                acc[m] += w * kv_tile[at + m];
            }
        }
        workgroupBarrier();
    }

    let row = row_first + out_row;
    if (row < row_end) {
        let sum = run_sum[out_row];
        for (var m = 0u; m < 4u; m++) {
            acc[m] = select(vec4<f32>(0.0), acc[m] / sum, sum > 0.0);
        }
        let token = q_first + row / group;
        store16(token * params.table.q_heads + h * group + row % group, out_col, acc);
    }
}
