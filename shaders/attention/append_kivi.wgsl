// Appends new tokens' K and V to a KIVI int4 / int2 cache (KV_FORMAT 4 / 5, laid out as
// kivi.wgsl says). The new rows are `[tokens, kv_heads, head_dim]` in f32 or f16 (`IN_F16`);
// `rows[t]` is token t's pool row (from the host's placement) and `touched` the (sequence,
// logical page) pairs the append lands in. One workgroup per touched page:
//
// - `kivi_pages` quantizes each touched page that the append fills: K per channel over the
//   page's tokens, V per token in groups of 32. Its earlier tokens wait in the sequence's f16
//   residual, its new ones come from the input.
// - `kivi_residual` writes the new tokens of a touched page that stays partial into the
//   sequence's residual, in f16.
//
// Two dispatches, in that order: a page that fills reads residual slots that the sequence's
// next page may overwrite. A page's first new token is found by scanning `rows` (new tokens
// are the tail of their sequence, in order), so the slots before it are the residual's.
// Values are rounded to f16 before quantizing, as the residual holds them: a page quantizes
// to the same bytes however it was appended. Rounding, constant groups and non-finite values
// as squeeze_attention::reference::kivi says (its Rust twin).

override KV_FORMAT: u32 = 4u;
override IN_F16: bool = false;

// Rust twin: `squeeze_attention::append_kivi::AppendKiviParams`.
struct AppendKiviParams {
    table: TableShape,
    // Tokens written into the cache by this append.
    new_tokens: u32,
    // Entries of `touched`.
    touched_pages: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: AppendKiviParams;
@group(0) @binding(4) var<storage, read_write> k_cache: array<u32>;
@group(0) @binding(5) var<storage, read_write> v_cache: array<u32>;
@group(0) @binding(6) var<storage, read> rows: array<u32>;
// [touched_pages, 2] (sequence, logical page).
@group(0) @binding(7) var<storage, read> touched: array<u32>;
@group(0) @binding(8) var<storage, read> k_new: array<u32>;
@group(0) @binding(9) var<storage, read> v_new: array<u32>;

const WORKGROUP: u32 = 256u;
const NONE: u32 = 0xffffffffu;

// The first new token of the page being worked on (NONE: none landed in it).
var<workgroup> first_token: atomic<u32>;

// A touched page: its sequence, pool page, first position, and how many of its slots the
// sequence fills; `ok` false for an entry outside the table or pool.
struct Touched {
    b: u32,
    page: u32,
    first: u32,
    filled: u32,
    ok: bool,
}

fn touched_page(i: u32) -> Touched {
    var out: Touched;
    out.b = touched[2u * i];
    let logical = touched[2u * i + 1u];
    if (out.b >= params.table.batch || logical >= seq_pages(out.b)) {
        return out;
    }
    out.page = page_indices[page_indptr[out.b] + logical];
    out.first = logical * params.table.page_size;
    out.filled = min(seq_len(out.b) - min(out.first, seq_len(out.b)), params.table.page_size);
    out.ok = out.page < params.table.pages && out.filled > 0u;
    return out;
}

// Finds the first new token of pool page `page` (all invocations call it: it holds barriers).
fn find_first_token(page: u32, t: u32) -> u32 {
    if (t == 0u) {
        atomicStore(&first_token, NONE);
    }
    workgroupBarrier();
    let pool_rows = kivi_pool_rows();
    for (var i = t; i < params.new_tokens; i += WORKGROUP) {
        let row = rows[i];
        if (row < pool_rows && row / params.table.page_size == page) {
            atomicMin(&first_token, i);
        }
    }
    return workgroupUniformLoad(&first_token);
}

// The f16 bits of element i of the new K (V): f16 input as is, f32 rounded to nearest even.
fn new_half(i: u32, of_k: bool) -> u32 {
    if (IN_F16) {
        return half_bits(select(v_new[i / 2u], k_new[i / 2u], of_k), i);
    }
    return f32_bits_to_f16_bits(select(v_new[i], k_new[i], of_k));
}

// The f16 bits of element i of sequence b's residual (slot-major, as the pool's rows).
fn residual_half(i: u32, of_k: bool) -> u32 {
    if (of_k) {
        return half_bits(k_cache[kivi_k_residual() + i / 2u], i);
    }
    return half_bits(v_cache[kivi_v_residual() + i / 2u], i);
}

// The page being quantized: sequence b's residual holds its slots before `s0`, new token
// `t0` and those after it the rest.
struct Source {
    b: u32,
    s0: u32,
    t0: u32,
}

// Channel i of slot t of the page, as an f32 holding an f16 value.
fn page_value(src: Source, t: u32, i: u32, of_k: bool) -> f32 {
    let kvd = kivi_kvd();
    var h: u32;
    if (t < src.s0) {
        h = residual_half((src.b * params.table.page_size + t) * kvd + i, of_k);
    } else {
        h = new_half((src.t0 + t - src.s0) * kvd + i, of_k);
    }
    return f16_to_f32(h);
}

fn is_finite_value(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u;
}

// A group's scale and zero: their f16 bits, and as f32 the zero and 1 / scale (0 for scale 0).
struct Scale {
    bits: u32,
    zero: f32,
    inverse: f32,
}

// Scale and zero over the finite values between `lo` and `hi` (lo > hi: none were finite).
fn group_scale(lo_in: f32, hi_in: f32) -> Scale {
    var lo = lo_in;
    var hi = hi_in;
    if (lo > hi) {
        lo = 0.0;
        hi = 0.0;
    }
    let zero = f32_to_f16_bits(lo);
    let scale = f32_to_f16_bits((hi - lo) / f32(kivi_levels()));
    let s = f16_to_f32(scale);
    return Scale(scale | (zero << 16u), f16_to_f32(zero), select(0.0, 1.0 / s, s != 0.0));
}

// The code of x: (x − zero) / scale rounded half up, clamped; +inf → the largest, −inf and
// NaN → 0 (integer tests on the bits, so no compiler assumes a NaN away).
fn group_code(x: f32, g: Scale) -> u32 {
    let bits = bitcast<u32>(x);
    if (!is_finite_value(x)) {
        let positive_inf = bits == 0x7f800000u;
        return select(0u, kivi_levels(), positive_inf);
    }
    let y = (x - g.zero) * g.inverse;
    let t = floor(y);
    let r = t + select(0.0, 1.0, y - t >= 0.5);
    return u32(clamp(r, 0.0, f32(kivi_levels())));
}

// K of the page: per channel over its slots. Invocation work item = one code word's channels
// (8 for int4, 16 for int2), so each word is written whole by one invocation.
fn quantize_k(page: u32, src: Source, t: u32) {
    let kvd = kivi_kvd();
    let per_word = 32u / kivi_bits();
    let base = page * kivi_k_page_words();
    for (var item = t; item < kvd / per_word; item += WORKGROUP) {
        let first = item * per_word;
        var scales: array<Scale, 16>;
        for (var j = 0u; j < per_word; j++) {
            var lo = pos_inf();
            var hi = neg_inf();
            for (var s = 0u; s < params.table.page_size; s++) {
                let x = page_value(src, s, first + j, true);
                if (is_finite_value(x)) {
                    lo = min(lo, x);
                    hi = max(hi, x);
                }
            }
            scales[j] = group_scale(lo, hi);
        }
        // Scales then zeros, channel i at half i: two channels a word.
        for (var j = 0u; j < per_word; j += 2u) {
            let a = scales[j].bits;
            let b = scales[j + 1u].bits;
            k_cache[base + (first + j) / 2u] = (a & 0xffffu) | (b << 16u);
            k_cache[base + kvd / 2u + (first + j) / 2u] = (a >> 16u) | (b & 0xffff0000u);
        }
        for (var s = 0u; s < params.table.page_size; s++) {
            var word = 0u;
            for (var j = 0u; j < per_word; j++) {
                let q = group_code(page_value(src, s, first + j, true), scales[j]);
                word |= q << (j * kivi_bits());
            }
            k_cache[base + kvd + s * (kvd / per_word) + item] = word;
        }
    }
}

// V of the page: each slot's groups of 32 channels.
fn quantize_v(page: u32, src: Source, t: u32) {
    let groups = kivi_kvd() / 32u;
    let per_word = 32u / kivi_bits();
    let words = kivi_v_block_words();
    for (var item = t; item < params.table.page_size * groups; item += WORKGROUP) {
        let s = item / groups;
        let first = (item % groups) * 32u;
        var lo = pos_inf();
        var hi = neg_inf();
        for (var j = 0u; j < 32u; j++) {
            let x = page_value(src, s, first + j, false);
            if (is_finite_value(x)) {
                lo = min(lo, x);
                hi = max(hi, x);
            }
        }
        let g = group_scale(lo, hi);
        let block = ((page * params.table.page_size + s) * groups + item % groups) * words;
        v_cache[block] = g.bits;
        for (var w = 0u; w + 1u < words; w++) {
            var word = 0u;
            for (var j = 0u; j < per_word; j++) {
                let q = group_code(page_value(src, s, first + w * per_word + j, false), g);
                word |= q << (j * kivi_bits());
            }
            v_cache[block + 1u + w] = word;
        }
    }
}

@compute @workgroup_size(256)
fn kivi_pages(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) t: u32,
) {
    for (var i = wg.x; i < params.touched_pages; i += groups.x) {
        let at = touched_page(i);
        let t0 = find_first_token(at.page, t);
        if (at.ok && at.filled == params.table.page_size && t0 != NONE) {
            let src = Source(at.b, rows[t0] % params.table.page_size, t0);
            quantize_k(at.page, src, t);
            quantize_v(at.page, src, t);
        }
        workgroupBarrier();
    }
}

@compute @workgroup_size(256)
fn kivi_residual(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) t: u32,
) {
    let kvd = kivi_kvd();
    let half_row = kvd / 2u;
    for (var i = wg.x; i < params.touched_pages; i += groups.x) {
        let at = touched_page(i);
        let t0 = find_first_token(at.page, t);
        if (at.ok && at.filled < params.table.page_size && t0 != NONE) {
            let s0 = rows[t0] % params.table.page_size;
            let n = at.filled - min(s0, at.filled);
            for (var item = t; item < n * half_row; item += WORKGROUP) {
                let slot = s0 + item / half_row;
                let token = t0 + item / half_row;
                let e = token * kvd + 2u * (item % half_row);
                let dst = ((at.b * params.table.page_size + slot) * kvd) / 2u + item % half_row;
                k_cache[kivi_k_residual() + dst] = new_half(e, true) | (new_half(e + 1u, true) << 16u);
                v_cache[kivi_v_residual() + dst] = new_half(e, false) | (new_half(e + 1u, false) << 16u);
            }
        }
        workgroupBarrier();
    }
}
