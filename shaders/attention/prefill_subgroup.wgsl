// Causal prefill attention for adapters whose subgroups are CPU SIMD vectors (lavapipe: 8 lanes
// of 32 bits in a 256-bit register); prefill_rows.wgsl has the contract. There a load whose
// address differs between lanes is a loop over the lanes, one scalar at a time, and it bounds
// the portable kernel (prefill.wgsl reads two vec4 of workgroup memory per four products). Here
// a lane owns one query row whole — its query and output in registers, `HEAD_DIM / 8` chunks of
// eight — and a subgroup `lanes` consecutive rows of one KV head. Keys come in blocks of eight:
// lanes 0..8 each load one key's chunk and every lane takes all eight by `subgroupBroadcast`
// from a constant lane (a register move there), so each K and V element loaded serves every
// row of the subgroup. Online softmax per lane, rescaled once per block. A workgroup holds 64
// rows whatever the subgroup size. The keys end at the subgroup's last row's causal limit;
// every loop is bounded by the table's longest sequence or by HEAD_DIM. Needs subgroups of at
// least 8 lanes (the host checks).

const WORKGROUP: u32 = 64u;
// Chunks of eight in a row of the largest head_dim (256).
const MAX_CHUNKS: u32 = 32u;
// Chunks of eight in a row.
override CHUNKS: u32 = HEAD_DIM / 8u;

// One chunk of each of eight keys (or values).
struct Keys {
    k0: Eight,
    k1: Eight,
    k2: Eight,
    k3: Eight,
    k4: Eight,
    k5: Eight,
    k6: Eight,
    k7: Eight,
}

// Lane j's chunk, for every lane (broadcast lanes must be constant expressions).
fn keys(v: Eight) -> Keys {
    return Keys(
        Eight(subgroupBroadcast(v.lo, 0u), subgroupBroadcast(v.hi, 0u)),
        Eight(subgroupBroadcast(v.lo, 1u), subgroupBroadcast(v.hi, 1u)),
        Eight(subgroupBroadcast(v.lo, 2u), subgroupBroadcast(v.hi, 2u)),
        Eight(subgroupBroadcast(v.lo, 3u), subgroupBroadcast(v.hi, 3u)),
        Eight(subgroupBroadcast(v.lo, 4u), subgroupBroadcast(v.hi, 4u)),
        Eight(subgroupBroadcast(v.lo, 5u), subgroupBroadcast(v.hi, 5u)),
        Eight(subgroupBroadcast(v.lo, 6u), subgroupBroadcast(v.hi, 6u)),
        Eight(subgroupBroadcast(v.lo, 7u), subgroupBroadcast(v.hi, 7u)),
    );
}

fn dot8(a: Eight, b: Eight) -> f32 {
    return dot(a.lo, b.lo) + dot(a.hi, b.hi);
}

// `s` plus the query chunk against each key's: component j is key j.
fn scores(s: Eight, q: Eight, k: Keys) -> Eight {
    return Eight(
        s.lo + vec4<f32>(dot8(q, k.k0), dot8(q, k.k1), dot8(q, k.k2), dot8(q, k.k3)),
        s.hi + vec4<f32>(dot8(q, k.k4), dot8(q, k.k5), dot8(q, k.k6), dot8(q, k.k7)),
    );
}

fn axpy(acc: Eight, w: f32, v: Eight) -> Eight {
    return Eight(acc.lo + w * v.lo, acc.hi + w * v.hi);
}

// `acc` · `factor` plus each value chunk weighted by its key's probability in `p`.
fn weigh(acc: Eight, factor: f32, p: Eight, v: Keys) -> Eight {
    var a = Eight(acc.lo * factor, acc.hi * factor);
    a = axpy(a, p.lo.x, v.k0);
    a = axpy(a, p.lo.y, v.k1);
    a = axpy(a, p.lo.z, v.k2);
    a = axpy(a, p.lo.w, v.k3);
    a = axpy(a, p.hi.x, v.k4);
    a = axpy(a, p.hi.y, v.k5);
    a = axpy(a, p.hi.z, v.k6);
    return axpy(a, p.hi.w, v.k7);
}

fn max8(s: Eight) -> f32 {
    let m = max(s.lo, s.hi);
    return max(max(m.x, m.y), max(m.z, m.w));
}

// Scores of keys first .. first + 8 that this lane may see: key j is hidden unless it comes
// before the lane's `limit` and lane j found its pool row (`ok` holds lane j's answer at j).
fn mask(s: Eight, first: u32, limit: u32, ok: vec4<u32>, ok_hi: vec4<u32>) -> Eight {
    let j = vec4<u32>(first) + vec4<u32>(0u, 1u, 2u, 3u);
    let lo = (j < vec4<u32>(limit)) & (ok != vec4<u32>(0u));
    let hi = (j + vec4<u32>(4u) < vec4<u32>(limit)) & (ok_hi != vec4<u32>(0u));
    return Eight(select(vec4<f32>(neg_inf()), s.lo, lo), select(vec4<f32>(neg_inf()), s.hi, hi));
}

@compute @workgroup_size(WORKGROUP)
fn prefill(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(subgroup_id) sg: u32,
    @builtin(subgroup_invocation_id) lane: u32,
    @builtin(subgroup_size) lanes: u32,
) {
    let h = wg.y;
    let b = wg.z;
    let group = params.table.q_heads / params.table.kv_heads;
    let len = seq_len(b);
    let q_first = qo_indptr[b];
    let n = qo_indptr[b + 1u] - min(q_first, qo_indptr[b + 1u]);
    let rows = n * group;
    let sg_first = wg.x * WORKGROUP + sg * lanes;
    let row = sg_first + lane;
    let live = row < rows;
    let token = row / group;
    let out_row = (q_first + token) * params.table.q_heads + h * group + row % group;

    // This lane's query, pre-scaled (zeros for a row past the sequence's), and output.
    var q: array<Eight, MAX_CHUNKS>;
    var acc: array<Eight, MAX_CHUNKS>;
    let zero = Eight(vec4<f32>(0.0), vec4<f32>(0.0));
    for (var c = 0u; c < CHUNKS; c++) {
        var x = zero;
        if (live) {
            let at = out_row * (HEAD_DIM / 4u) + 2u * c;
            x = Eight(q4(at) * params.scale, q4(at + 1u) * params.scale);
        }
        q[c] = x;
        acc[c] = zero;
    }
    var limit = 0u;
    if (live) {
        limit = visible(token, n, len);
    }
    // The subgroup's keys: those its last row sees.
    let last = min(sg_first + lanes, rows);
    var keys_end = 0u;
    if (last > sg_first) {
        keys_end = min(visible((last - 1u) / group, n, len), params.max_seq_len);
    }

    var run_max = neg_inf();
    var run_sum = 0.0;
    for (var first = 0u; first < keys_end; first += 8u) {
        // Lanes 0..8 find key first + lane.
        var key_row = NO_ROW;
        if (lane < 8u && first + lane < len) {
            key_row = kv_row(b, first + lane);
        }
        let found = u32(key_row != NO_ROW);
        let ok = vec4<u32>(
            subgroupBroadcast(found, 0u), subgroupBroadcast(found, 1u),
            subgroupBroadcast(found, 2u), subgroupBroadcast(found, 3u),
        );
        let ok_hi = vec4<u32>(
            subgroupBroadcast(found, 4u), subgroupBroadcast(found, 5u),
            subgroupBroadcast(found, 6u), subgroupBroadcast(found, 7u),
        );
        let at = kv_element(select(0u, key_row, found != 0u), h);

        var s = zero;
        for (var c = 0u; c < CHUNKS; c++) {
            var k = zero;
            if (found != 0u) {
                k = k8(at + 8u * c);
            }
            s = scores(s, q[c], keys(k));
        }
        s = mask(s, first, limit, ok, ok_hi);

        // Online softmax: nothing seen yet keeps the maximum at −inf and the weights at 0.
        let new_max = max(run_max, max8(s));
        var factor = 1.0;
        var p = zero;
        if (new_max != neg_inf()) {
            factor = exp(run_max - new_max);
            p = Eight(exp(s.lo - vec4<f32>(new_max)), exp(s.hi - vec4<f32>(new_max)));
        }
        run_max = new_max;
        run_sum = run_sum * factor + dot(p.lo + p.hi, vec4<f32>(1.0));

        for (var c = 0u; c < CHUNKS; c++) {
            var v = zero;
            if (found != 0u) {
                v = v8(at + 8u * c);
            }
            acc[c] = weigh(acc[c], factor, p, keys(v));
        }
    }

    if (live) {
        for (var c = 0u; c < CHUNKS; c++) {
            let x = acc[c];
            let some = run_sum > 0.0;
            store8(out_row, c, Eight(
                select(vec4<f32>(0.0), x.lo / run_sum, some),
                select(vec4<f32>(0.0), x.hi / run_sum, some),
            ));
        }
    }
}
