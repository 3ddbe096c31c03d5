// Decode attention over the paged KV cache (decode_rows.wgsl has the contract), the portable
// kernel: every query head of a KV group served by one workgroup that reads each K and V row
// once, `chunk` virtual tokens per workgroup in tiles of TILE with an online softmax.
//
// Every K and V element is loaded and widened once per workgroup and used by all the group's
// query heads, whose accumulators an invocation keeps in registers: `GROUP` is the group size
// rounded up to a power of two (a pipeline constant, so the head loops unroll and the arrays'
// indices become constants).

override GROUP: u32 = 1u;

const WORKGROUP: u32 = 64u;
// Tokens scored together, one per invocation.
const TILE: u32 = 64u;
const MAX_GROUP: u32 = 32u;

var<workgroup> tile_rows: array<u32, TILE>;
// Scores, then probabilities, [head][token] of the tile; at the end, the outputs being summed
// across token slices ([head][head_dim] ≤ 2048 values).
var<workgroup> p: array<f32, 2048>;
var<workgroup> run_max: array<f32, MAX_GROUP>;
var<workgroup> run_sum: array<f32, MAX_GROUP>;
var<workgroup> rescale: array<f32, MAX_GROUP>;
var<workgroup> tile_count: u32;

@compute @workgroup_size(64)
fn decode(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
    let split = wg.x;
    let h = wg.y;
    let b = wg.z;
    let group = params.table.q_heads / params.table.kv_heads;
    let dim = params.table.head_dim;
    let cols = dim / 8u;
    // Value phase: invocation t sums column t % cols over tokens t / cols, + slices, ….
    let slices = WORKGROUP / cols;
    let col = t % cols;
    let slice = t / cols;
    let len = seq_len(b);
    let n = virtual_count(h, len);
    let start = split * params.chunk;
    let end = min(start + params.chunk, n);
    let q_first = (b * params.table.q_heads + h * group) * dim / 4u;

    var acc_lo: array<vec4<f32>, MAX_GROUP>;
    var acc_hi: array<vec4<f32>, MAX_GROUP>;
    for (var g = 0u; g < GROUP; g++) {
        acc_lo[g] = vec4<f32>(0.0);
        acc_hi[g] = vec4<f32>(0.0);
    }
    if (t < group) {
        run_max[t] = neg_inf();
        run_sum[t] = 0.0;
    }
    if (t == 0u) {
        tile_count = select(0u, (end - start + TILE - 1u) / TILE, end > start);
    }
    let tiles = min(workgroupUniformLoad(&tile_count), params.chunk / TILE);

    for (var tile = 0u; tile < tiles; tile++) {
        // Scores: invocation t scores token t of the tile for every head of the group.
        let first = start + tile * TILE;
        var row = NO_ROW;
        if (first + t < end) {
            let pos = virtual_position(b, h, len, first + t);
            if (pos != NO_ROW) {
                let pool_row = kv_row(b, pos);
                if (pool_row != NO_ROW) {
                    row = kv_element(pool_row, h);
                }
            }
        }
        tile_rows[t] = row;
        var dots: array<vec4<f32>, MAX_GROUP>;
        for (var g = 0u; g < GROUP; g++) {
            dots[g] = vec4<f32>(0.0);
        }
        if (row != NO_ROW) {
            for (var c = 0u; c < cols; c++) {
                let k = k8(row + 8u * c);
                for (var g = 0u; g < GROUP; g++) {
                    let qg = q_first + min(g, group - 1u) * dim / 4u + 2u * c;
                    dots[g] += k.lo * q4(qg) + k.hi * q4(qg + 1u);
                }
            }
        }
        for (var g = 0u; g < GROUP; g++) {
            let d = dots[g];
            if (g < group) {
                p[g * TILE + t] = select(neg_inf(), (d.x + d.y + d.z + d.w) * params.scale, row != NO_ROW);
            }
        }
        workgroupBarrier();

        // Online softmax, one head per invocation.
        if (t < group) {
            let old_max = run_max[t];
            var new_max = old_max;
            for (var j = 0u; j < TILE; j++) {
                new_max = max(new_max, p[t * TILE + j]);
            }
            var factor = 1.0;
            var sum = 0.0;
            if (new_max == neg_inf()) {
                for (var j = 0u; j < TILE; j++) {
                    p[t * TILE + j] = 0.0;
                }
            } else {
                factor = exp(old_max - new_max);
                for (var j = 0u; j < TILE; j++) {
                    let e = exp(p[t * TILE + j] - new_max);
                    p[t * TILE + j] = e;
                    sum += e;
                }
            }
            run_max[t] = new_max;
            run_sum[t] = run_sum[t] * factor + sum;
            rescale[t] = factor;
        }
        workgroupBarrier();

        // Values: each V element loaded once, weighted for every head.
        for (var g = 0u; g < GROUP; g++) {
            let f = rescale[min(g, group - 1u)];
            acc_lo[g] *= f;
            acc_hi[g] *= f;
        }
        if (slice < slices) {
            for (var j = slice; j < TILE; j += slices) {
                let r = tile_rows[j];
                if (r != NO_ROW) {
                    let v = v8(r + 8u * col);
                    for (var g = 0u; g < GROUP; g++) {
                        let w = p[min(g, group - 1u) * TILE + j];
                        acc_lo[g] += w * v.lo;
                        acc_hi[g] += w * v.hi;
                    }
                }
            }
        }
        workgroupBarrier();
    }

    // Sum the token slices' accumulators in `p`, one slice at a time, and write the split.
    for (var s = 0u; s < slices; s++) {
        if (slice == s) {
            for (var g = 0u; g < GROUP; g++) {
                if (g < group) {
                    let at = g * dim + 8u * col;
                    var lo = acc_lo[g];
                    var hi = acc_hi[g];
                    if (s > 0u) {
                        lo += vec4<f32>(p[at], p[at + 1u], p[at + 2u], p[at + 3u]);
                        hi += vec4<f32>(p[at + 4u], p[at + 5u], p[at + 6u], p[at + 7u]);
                    }
                    p[at] = lo.x;
                    p[at + 1u] = lo.y;
                    p[at + 2u] = lo.z;
                    p[at + 3u] = lo.w;
                    p[at + 4u] = hi.x;
                    p[at + 5u] = hi.y;
                    p[at + 6u] = hi.z;
                    p[at + 7u] = hi.w;
                }
            }
        }
        workgroupBarrier();
    }
    let first_row = (b * params.table.q_heads + h * group) * params.splits + split;
    for (var i = t; i < group * cols * 2u; i += WORKGROUP) {
        let g = i / (2u * cols);
        let e = 4u * (i % (2u * cols));
        let at = g * dim + e;
        part_o[((first_row + g * params.splits) * dim + e) / 4u] =
            vec4<f32>(p[at], p[at + 1u], p[at + 2u], p[at + 3u]);
    }
    if (t < group) {
        part_ml[first_row + t * params.splits] = vec2<f32>(run_max[t], run_sum[t]);
    }
}
