// Decode attention over the paged KV cache: one query token per sequence, every query head of a
// KV group served by one workgroup that reads each K and V row once. The tokens attended are
// "virtual" tokens 0 .. n of the (sequence, KV head) row: with `SELECTED` off, a sink and a
// window per KV head (`spec` = [kv_heads] (sink, window) pairs; a full head has sink = ∞); with
// it on, a selection list (`spec` = [batch × kv_heads, units] entries of `unit` tokens each, −1
// for none). Each workgroup covers `chunk` virtual tokens (split-KV, flash-decoding style) with
// an online softmax and writes its unnormalised output and (max, sum) for merge.wgsl.

override SELECTED: bool = false;

// Queries [batch, q_heads, head_dim] f32.
@group(0) @binding(6) var<storage, read> q: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read> spec: array<u32>;
// Per split: unnormalised outputs [batch, q_heads, splits, head_dim], (max, sum) [.., splits].
@group(0) @binding(8) var<storage, read_write> part_o: array<vec4<f32>>;
@group(0) @binding(9) var<storage, read_write> part_ml: array<vec2<f32>>;

const WORKGROUP: u32 = 64u;
// Tokens scored together; scores and probabilities of a tile live in `p`.
const TILE: u32 = 32u;
const MAX_GROUP: u32 = 32u;
// Query heads × head dimensions a workgroup accumulates (8 KiB of vec4).
const MAX_GROUP_DIM: u32 = 2048u;

var<workgroup> tile_rows: array<u32, TILE>;
var<workgroup> p: array<f32, 1024>; // MAX_GROUP × TILE
var<workgroup> run_max: array<f32, MAX_GROUP>;
var<workgroup> run_sum: array<f32, MAX_GROUP>;
var<workgroup> rescale: array<f32, MAX_GROUP>;
var<workgroup> acc: array<vec4<f32>, 512>; // MAX_GROUP_DIM / 4
var<workgroup> tile_count: u32;

// Virtual tokens of row (b, h) in a sequence of `len` tokens.
fn virtual_count(h: u32, len: u32) -> u32 {
    if (SELECTED) {
        return params.units * params.unit;
    }
    let sink = min(spec[2u * h], len);
    return sink + min(spec[2u * h + 1u], len - sink);
}

// Position in the sequence of virtual token j < virtual_count, or NO_ROW when it is empty.
fn virtual_position(b: u32, h: u32, len: u32, j: u32) -> u32 {
    if (SELECTED) {
        let entry = spec[(b * params.kv_heads + h) * params.units + j / params.unit];
        if (entry >= (len + params.unit - 1u) / params.unit) {
            return NO_ROW;
        }
        let pos = entry * params.unit + j % params.unit;
        return select(NO_ROW, pos, pos < len);
    }
    let sink = min(spec[2u * h], len);
    let window = min(spec[2u * h + 1u], len - sink);
    return select(len - window + (j - sink), j, j < sink);
}

@compute @workgroup_size(64)
fn decode(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
    let split = wg.x;
    let h = wg.y;
    let b = wg.z;
    let group = params.q_heads / params.kv_heads;
    let dim = params.head_dim;
    let cols = dim / 8u;
    let items = group * cols;
    let len = seq_len(b);
    let n = virtual_count(h, len);
    let start = split * params.chunk;
    let end = min(start + params.chunk, n);

    for (var i = t; i < items; i += WORKGROUP) {
        acc[2u * i] = vec4<f32>(0.0);
        acc[2u * i + 1u] = vec4<f32>(0.0);
    }
    if (t < group) {
        run_max[t] = neg_inf();
        run_sum[t] = 0.0;
    }
    if (t == 0u) {
        tile_count = select(0u, (end - start + TILE - 1u) / TILE, end > start);
    }
    let tiles = min(workgroupUniformLoad(&tile_count), params.chunk / TILE);
    let q_first = (b * params.q_heads + h * group) * dim / 4u;

    for (var tile = 0u; tile < tiles; tile++) {
        let first = start + tile * TILE;
        if (t < TILE) {
            var row = NO_ROW;
            if (first + t < end) {
                let pos = virtual_position(b, h, len, first + t);
                if (pos != NO_ROW) {
                    let pool_row = token_row(b, pos);
                    if (pool_row != NO_ROW) {
                        row = kv_element(pool_row, h);
                    }
                }
            }
            tile_rows[t] = row;
        }
        workgroupBarrier();

        // Scores: one (head, token) pair per invocation and step.
        for (var i = t; i < group * TILE; i += WORKGROUP) {
            let g = i / TILE;
            let row = tile_rows[i % TILE];
            var score = neg_inf();
            if (row != NO_ROW) {
                let qg = q_first + g * dim / 4u;
                var dot = vec4<f32>(0.0);
                for (var c = 0u; c < cols; c++) {
                    let k = k8(row + 8u * c);
                    dot += k.lo * q[qg + 2u * c] + k.hi * q[qg + 2u * c + 1u];
                }
                score = (dot.x + dot.y + dot.z + dot.w) * params.scale;
            }
            p[i] = score;
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

        // Values: eight head dimensions of one head per invocation and step.
        for (var i = t; i < items; i += WORKGROUP) {
            let g = i / cols;
            let e = 8u * (i % cols);
            var lo = acc[2u * i] * rescale[g];
            var hi = acc[2u * i + 1u] * rescale[g];
            for (var j = 0u; j < TILE; j++) {
                let row = tile_rows[j];
                if (row != NO_ROW) {
                    let w = p[g * TILE + j];
                    let v = v8(row + e);
                    lo += w * v.lo;
                    hi += w * v.hi;
                }
            }
            acc[2u * i] = lo;
            acc[2u * i + 1u] = hi;
        }
        workgroupBarrier();
    }

    let first_row = (b * params.q_heads + h * group) * params.splits + split;
    for (var i = t; i < items; i += WORKGROUP) {
        let g = i / cols;
        let out = ((first_row + g * params.splits) * dim + 8u * (i % cols)) / 4u;
        part_o[out] = acc[2u * i];
        part_o[out + 1u] = acc[2u * i + 1u];
    }
    if (t < group) {
        part_ml[first_row + t * params.splits] = vec2<f32>(run_max[t], run_sum[t]);
    }
}
