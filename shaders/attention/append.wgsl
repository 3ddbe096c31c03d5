// Appends new tokens' K and V to the paged cache. The new rows are `[tokens, kv_heads,
// head_dim]` in f32 or f16 (`IN_F16`); token t goes to the pool row the host resolved from the
// page table (`rows[t]`; a row outside the pool skips the token), in the cache's format
// `KV_FORMAT` (0 f32, 1 f16, 2 q8_0, 3 q4_0, laid out as kv.wgsl says): f32 and f16 are copied
// or converted (f32 → f16 rounded to nearest even, f16 → f32 exactly); q8_0 and q4_0 are
// quantized here, one block of 32 values per invocation, as ggml's quantize_row_q8_0_ref /
// quantize_row_q4_0_ref do (Rust twin: squeeze_attention::reference::quantize_row).
//
// A q8_0 / q4_0 block (34 / 18 bytes) shares a word with its neighbour when it starts or ends
// mid-word, and the neighbour may be another token's (appended by another invocation, or held
// in the cache already): the cache is written with atomics — whole words stored, a shared
// word's half cleared with atomicAnd and set with atomicOr — so no write tears a neighbour.
//
// `append_meta` keeps Quest's page metadata for the block formats: the minimum and maximum of
// the new, unquantized keys, taken at append time (a page's first token starts them afresh,
// later tokens widen them), since the cache no longer holds those values.

// Rust twin: `squeeze_attention::append::AppendParams`.
struct AppendParams {
    table: TableShape,
    // Tokens written into the cache by this append.
    new_tokens: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: AppendParams;

override KV_FORMAT: u32 = 0u;
override IN_F16: bool = false;

const KV_F16: u32 = 1u;
const KV_Q8_0: u32 = 2u;
const KV_Q4_0: u32 = 3u;

@group(0) @binding(1) var<storage, read> rows: array<u32>;
@group(0) @binding(2) var<storage, read> k_new: array<u32>;
@group(0) @binding(3) var<storage, read> v_new: array<u32>;
@group(0) @binding(4) var<storage, read_write> k_cache: array<atomic<u32>>;
@group(0) @binding(5) var<storage, read_write> v_cache: array<atomic<u32>>;
// Quest metadata [pages, kv_heads, 2, head_dim] f32, minimum first (append_meta only).
@group(0) @binding(6) var<storage, read_write> page_meta: array<f32>;

const WORKGROUP: u32 = 256u;

// Element i of the new K (V) as f32 bits.
fn k_bits(i: u32) -> u32 {
    if (IN_F16) {
        return f16_bits_to_f32_bits(half_bits(k_new[i / 2u], i));
    }
    return k_new[i];
}

fn v_bits(i: u32) -> u32 {
    if (IN_F16) {
        return f16_bits_to_f32_bits(half_bits(v_new[i / 2u], i));
    }
    return v_new[i];
}

// Word i of a plain cache row from the new elements: one f32, or two f16.
fn plain_word(i: u32, of_k: bool) -> u32 {
    if (KV_FORMAT == KV_F16) {
        if (IN_F16) {
            return select(v_new[i], k_new[i], of_k);
        }
        let a = select(v_bits(2u * i), k_bits(2u * i), of_k);
        let b = select(v_bits(2u * i + 1u), k_bits(2u * i + 1u), of_k);
        return f32_bits_to_f16_bits(a) | (f32_bits_to_f16_bits(b) << 16u);
    }
    return select(v_bits(i), k_bits(i), of_k);
}

fn is_nan_bits(x: u32) -> bool {
    return (x & 0x7fffffffu) > 0x7f800000u;
}

// One block as 16-bit units (ggml's byte order, little-endian pairs): the f16 scale, then the
// codes; 17 units for q8_0, 9 for q4_0.
struct Units {
    u: array<u32, 17>,
}

// ggml's rounding of a code: roundf (half away from zero), and what its float → int8
// conversion gives out of range on x86: NaN → 0 (and clamped to i8, which ggml's inputs never
// leave). Integer tests on the bits, so no compiler may assume away a NaN.
fn round_q8(x: f32) -> u32 {
    if (is_nan_bits(bitcast<u32>(x))) {
        return 0u;
    }
    let t = trunc(x);
    let r = t + select(0.0, sign(x), abs(x - t) >= 0.5);
    return u32(i32(clamp(r, -128.0, 127.0))) & 0xffu;
}

// ggml's q4_0 code: MIN(15, (int8_t)(x + 8.5f)), truncation toward zero; NaN → 0.
fn code_q4(x: f32) -> u32 {
    let y = x + 8.5;
    if (is_nan_bits(bitcast<u32>(y))) {
        return 0u;
    }
    return u32(clamp(trunc(y), 0.0, 15.0));
}

// quantize_row_q8_0_ref on one block: amax by ggml's MAX (a NaN wins only as the last value),
// d = amax / 127, id = 1 / d (0 when d = 0), codes roundf(x · id).
fn quantize_q8_0(x: ptr<function, array<u32, 32>>) -> Units {
    var amax = 0u;
    for (var j = 0u; j < 32u; j++) {
        let a = (*x)[j] & 0x7fffffffu;
        // MAX(amax, a) = amax > a ? amax : a, on bits (both non-negative).
        let greater = !is_nan_bits(amax) && !is_nan_bits(a) && amax > a;
        amax = select(a, amax, greater);
    }
    let d = bitcast<f32>(amax) / 127.0;
    let id = select(0.0, 1.0 / d, d != 0.0);
    var out: Units;
    out.u[0] = f32_bits_to_f16_bits(bitcast<u32>(d));
    for (var k = 0u; k < 16u; k++) {
        let lo = round_q8(bitcast<f32>((*x)[2u * k]) * id);
        let hi = round_q8(bitcast<f32>((*x)[2u * k + 1u]) * id);
        out.u[1u + k] = lo | (hi << 8u);
    }
    return out;
}

// quantize_row_q4_0_ref on one block: the first value of largest magnitude keeps its sign,
// d = max / −8, id = 1 / d, code j from x_j · id + 8.5; byte j holds codes j and j + 16.
fn quantize_q4_0(x: ptr<function, array<u32, 32>>) -> Units {
    var amax = 0u;
    var signed_max = 0u;
    for (var j = 0u; j < 32u; j++) {
        let a = (*x)[j] & 0x7fffffffu;
        // if (amax < fabsf(v)): false for a NaN.
        if (!is_nan_bits(a) && a > amax) {
            amax = a;
            signed_max = (*x)[j];
        }
    }
    let d = bitcast<f32>(signed_max) / -8.0;
    let id = select(0.0, 1.0 / d, d != 0.0);
    var out: Units;
    out.u[0] = f32_bits_to_f16_bits(bitcast<u32>(d));
    for (var k = 0u; k < 8u; k++) {
        var pair = 0u;
        for (var b = 0u; b < 2u; b++) {
            let j = 2u * k + b;
            let lo = code_q4(bitcast<f32>((*x)[j]) * id);
            let hi = code_q4(bitcast<f32>((*x)[j + 16u]) * id);
            pair |= (lo | (hi << 4u)) << (8u * b);
        }
        out.u[1u + k] = pair;
    }
    return out;
}

fn quantize(x: ptr<function, array<u32, 32>>) -> Units {
    if (KV_FORMAT == KV_Q4_0) {
        return quantize_q4_0(x);
    }
    return quantize_q8_0(x);
}

// Stores `n` 16-bit units at unit `start` of K: whole words stored, a word shared with a
// neighbouring block merged half by half.
fn store_k(start: u32, units: ptr<function, Units>, n: u32) {
    var i = 0u;
    if ((start & 1u) == 1u) {
        atomicAnd(&k_cache[start / 2u], 0xffffu);
        atomicOr(&k_cache[start / 2u], (*units).u[0] << 16u);
        i = 1u;
    }
    for (; i + 1u < n; i += 2u) {
        atomicStore(&k_cache[(start + i) / 2u], (*units).u[i] | ((*units).u[i + 1u] << 16u));
    }
    if (i < n) {
        atomicAnd(&k_cache[(start + i) / 2u], 0xffff0000u);
        atomicOr(&k_cache[(start + i) / 2u], (*units).u[i]);
    }
}

fn store_v(start: u32, units: ptr<function, Units>, n: u32) {
    var i = 0u;
    if ((start & 1u) == 1u) {
        atomicAnd(&v_cache[start / 2u], 0xffffu);
        atomicOr(&v_cache[start / 2u], (*units).u[0] << 16u);
        i = 1u;
    }
    for (; i + 1u < n; i += 2u) {
        atomicStore(&v_cache[(start + i) / 2u], (*units).u[i] | ((*units).u[i + 1u] << 16u));
    }
    if (i < n) {
        atomicAnd(&v_cache[(start + i) / 2u], 0xffff0000u);
        atomicOr(&v_cache[(start + i) / 2u], (*units).u[i]);
    }
}

@compute @workgroup_size(256)
fn append_kv(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let pool_rows = params.table.pages * params.table.page_size;
    let row_values = params.table.kv_heads * params.table.head_dim;
    if (KV_FORMAT >= KV_Q8_0) {
        let blocks = row_values / 32u;
        let units = select(17u, 9u, KV_FORMAT == KV_Q4_0);
        let total = params.new_tokens * blocks;
        for (var i = gid.x; i < total; i += groups.x * WORKGROUP) {
            let row = rows[i / blocks];
            if (row < pool_rows) {
                let start = (row * blocks + i % blocks) * units;
                var x: array<u32, 32>;
                for (var j = 0u; j < 32u; j++) {
                    x[j] = k_bits(32u * i + j);
                }
                var q = quantize(&x);
                store_k(start, &q, units);
                for (var j = 0u; j < 32u; j++) {
                    x[j] = v_bits(32u * i + j);
                }
                q = quantize(&x);
                store_v(start, &q, units);
            }
        }
        return;
    }
    let words = row_values / select(1u, 2u, KV_FORMAT == KV_F16);
    let total = params.new_tokens * words;
    for (var i = gid.x; i < total; i += groups.x * WORKGROUP) {
        let row = rows[i / words];
        if (row < pool_rows) {
            let dst = row * words + i % words;
            atomicStore(&k_cache[dst], plain_word(i, true));
            atomicStore(&v_cache[dst], plain_word(i, false));
        }
    }
}

@compute @workgroup_size(256)
fn append_meta(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let pool_rows = params.table.pages * params.table.page_size;
    let row_values = params.table.kv_heads * params.table.head_dim;
    let total = params.new_tokens * row_values;
    for (var i = gid.x; i < total; i += groups.x * WORKGROUP) {
        let t = i / row_values;
        let r = i % row_values;
        let row = rows[t];
        let page = row / params.table.page_size;
        // One invocation per page and element: the first new token of the page's run.
        var first = row < pool_rows;
        if (first && t > 0u) {
            let before = rows[t - 1u];
            first = before >= pool_rows || before / params.table.page_size != page;
        }
        if (!first) {
            continue;
        }
        let h = r / params.table.head_dim;
        let dim = params.table.head_dim;
        let at = (page * params.table.kv_heads + h) * 2u * dim + r % dim;
        let x = bitcast<f32>(k_bits(i));
        var lo = x;
        var hi = x;
        if (row % params.table.page_size != 0u) {
            lo = min(page_meta[at], x);
            hi = max(page_meta[at + params.table.head_dim], x);
        }
        for (var s = 1u; s < params.table.page_size; s++) {
            let next = t + s;
            if (next >= params.new_tokens) {
                break;
            }
            let other = rows[next];
            if (other >= pool_rows || other / params.table.page_size != page) {
                break;
            }
            let y = bitcast<f32>(k_bits(next * row_values + r));
            lo = min(lo, y);
            hi = max(hi, y);
        }
        page_meta[at] = lo;
        page_meta[at + params.table.head_dim] = hi;
    }
}
