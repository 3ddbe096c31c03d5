// Shared part of the subgroup attention kernels (prefill_subgroup.wgsl, decode_subgroup.wgsl),
// where a lane owns a query row — its query and output in registers, `HEAD_DIM / 8` chunks of
// eight — and keys come in blocks of eight: lanes 0..8 each load one key's chunk and every lane
// takes all eight by `subgroupBroadcast` from a constant lane (a register move on CPU
// adapters, where a lane-varying load is a loop over the lanes), so each K and V element
// loaded serves every row of the subgroup. After head_dim.wgsl and kv.wgsl.

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

// Which of the block's eight keys lanes 0..8 found (`found` is this lane's answer, 0 or 1):
// component j is lane j's.
struct Found {
    lo: vec4<u32>,
    hi: vec4<u32>,
}

fn found_keys(found: u32) -> Found {
    return Found(
        vec4<u32>(
            subgroupBroadcast(found, 0u), subgroupBroadcast(found, 1u),
            subgroupBroadcast(found, 2u), subgroupBroadcast(found, 3u),
        ),
        vec4<u32>(
            subgroupBroadcast(found, 4u), subgroupBroadcast(found, 5u),
            subgroupBroadcast(found, 6u), subgroupBroadcast(found, 7u),
        ),
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
// before the lane's `limit` and lane j found it.
fn mask(s: Eight, first: u32, limit: u32, found: Found) -> Eight {
    let j = vec4<u32>(first) + vec4<u32>(0u, 1u, 2u, 3u);
    let lo = (j < vec4<u32>(limit)) & (found.lo != vec4<u32>(0u));
    let hi = (j + vec4<u32>(4u) < vec4<u32>(limit)) & (found.hi != vec4<u32>(0u));
    return Eight(select(vec4<f32>(neg_inf()), s.lo, lo), select(vec4<f32>(neg_inf()), s.hi, hi));
}

// The running (maximum, sum) of a lane's online softmax and its block's probabilities and
// rescale factor.
struct Softmax {
    run_max: f32,
    run_sum: f32,
    factor: f32,
    p: Eight,
}

// One block of masked scores `s` into the online softmax: nothing seen yet keeps the maximum
// at −inf and the weights at 0.
fn softmax_block(run_max: f32, run_sum: f32, s: Eight) -> Softmax {
    let new_max = max(run_max, max8(s));
    var factor = 1.0;
    var p = Eight(vec4<f32>(0.0), vec4<f32>(0.0));
    if (new_max != neg_inf()) {
        factor = exp(run_max - new_max);
        p = Eight(exp(s.lo - vec4<f32>(new_max)), exp(s.hi - vec4<f32>(new_max)));
    }
    return Softmax(new_max, run_sum * factor + dot(p.lo + p.hi, vec4<f32>(1.0)), factor, p);
}

// One block of keys first .. first + 8 into this lane's row: lane j's key and value start at
// element `at` (read only where `found`, this lane's answer), keys from `limit` on are hidden.
// `q` and `acc` are the row's query and output; `run` its (maximum, sum), returned updated.
fn attend_block(
    q: ptr<function, array<Eight, MAX_CHUNKS>>,
    acc: ptr<function, array<Eight, MAX_CHUNKS>>,
    run: vec2<f32>,
    at: u32,
    found: u32,
    first: u32,
    limit: u32,
) -> vec2<f32> {
    let zero = Eight(vec4<f32>(0.0), vec4<f32>(0.0));
    var s = zero;
    for (var c = 0u; c < CHUNKS; c++) {
        var k = zero;
        if (found != 0u) {
            k = k8(at + 8u * c);
        }
        s = scores(s, (*q)[c], keys(k));
    }
    let softmax = softmax_block(run.x, run.y, mask(s, first, limit, found_keys(found)));
    for (var c = 0u; c < CHUNKS; c++) {
        var v = zero;
        if (found != 0u) {
            v = v8(at + 8u * c);
        }
        (*acc)[c] = weigh((*acc)[c], softmax.factor, softmax.p, keys(v));
    }
    return vec2<f32>(softmax.run_max, softmax.run_sum);
}
