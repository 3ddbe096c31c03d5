// GGUF weights for the GEMV, 32 at a time (`load_unit`): one block of the 32-weight formats, one
// sub-block of the 256-weight ones. `load_chunk` (gguf_blocks.wgsl) gathers every chunk's bytes
// and scale anew, up to six bounds-checked word reads and an exact f16 widening per eight weights;
// a unit reads its block's words once, as aligned runs (`half_block`, `aligned4`, `words4`,
// `words8`), widens the scale once and takes the four chunks apart with constant shifts. That load work, not the arithmetic,
// is what a batch-1 GEMV spends its time on where the "GPU" is a CPU (lavapipe).
//
// Weights equal `load_chunk`'s bit for bit (same products in the same order), except MXFP4's,
// which multiply the code by the scale in f32 (`mxfp4_scale`): exact wherever the weight is a
// normal number or zero, and flushed to zero by a device that flushes subnormals — the GEMV's
// tolerance allows that (products in the subnormal range), its dequantization does not.
// Q5_0, Q5_1, Q5_K and Q3_K join each code's high bit to its low bits in integer arithmetic
// before the one conversion per weight.
//
// The 32-weight blocks of 18, 22 and 34 bytes (Q4_0, IQ4_NL, Q5_0, Q8_0) start on byte 0 or 2
// of a word: their f16 scale and codes come from the block's own words, read from the word it
// starts in (`half_block`), so that a unit reads 5, 6 or 9 words and no scale word twice. On
// lavapipe every word a lane reads is a scalar load of its own, the costliest part of a unit.

// Eight consecutive words of the tensor, the first at `lo.x`.
struct Words8 {
    lo: vec4<u32>,
    hi: vec4<u32>,
}

// The word at byte offsets s/8 .. s/8+4 of the 64-bit pair lo:hi, for shift s of 0, 8, 16 or 24
// (`hi << 32` would be `hi << 0` in WGSL, so the high part goes in two steps).
fn funnel(lo: vec4<u32>, hi: vec4<u32>, s: u32) -> vec4<u32> {
    return (lo >> vec4<u32>(s)) | ((hi << vec4<u32>(1u)) << vec4<u32>(31u - s));
}

// Bytes o .. o+16 of the tensor as four little-endian words, for any byte offset `o`: five word
// reads where `bytes4_at` would take up to eight.
fn words4(o: u32) -> vec4<u32> {
    let i = o / 4u;
    let a = vec4<u32>(word(i), word(i + 1u), word(i + 2u), word(i + 3u));
    let next = vec4<u32>(a.yzw, word(i + 4u));
    return funnel(a, next, (o & 3u) * 8u);
}

// Bytes o .. o+32 of the tensor as eight little-endian words (nine word reads).
fn words8(o: u32) -> Words8 {
    let i = o / 4u;
    let s = (o & 3u) * 8u;
    let a = vec4<u32>(word(i), word(i + 1u), word(i + 2u), word(i + 3u));
    let b = vec4<u32>(word(i + 4u), word(i + 5u), word(i + 6u), word(i + 7u));
    let c = word(i + 8u);
    return Words8(funnel(a, vec4<u32>(a.yzw, b.x), s), funnel(b, vec4<u32>(b.yzw, c), s));
}

// The words that follow the f16 at the start of a 2-byte-aligned block: `w` are the block's
// words from the one it starts in, `next` the same run one word on, `s` the block's bit offset
// in its first word (0 or 16).
fn after_half(w: vec4<u32>, next: vec4<u32>, s: u32) -> vec4<u32> {
    return select(funnel(w, next, 16u), next, s != 0u);
}

// The f16 (as f32) at bit `s` (0 or 16) of word `w`.
fn half_at(w: u32, s: u32) -> f32 {
    return f16_to_f32((w >> s) & 0xffffu);
}

// The first word of the block at byte `base` (2-byte aligned) and the f16 scale it opens with,
// with the 16 code bytes (Q4_0, IQ4_NL) that follow it.
struct HalfBlock {
    d: f32,
    q: vec4<u32>,
}

fn half_block(base: u32) -> HalfBlock {
    let i = base / 4u;
    let s = (base & 3u) * 8u;
    let w = vec4<u32>(word(i), word(i + 1u), word(i + 2u), word(i + 3u));
    let next = vec4<u32>(w.yzw, word(i + 4u));
    return HalfBlock(half_at(w.x, s), after_half(w, next, s));
}

// Four aligned words of the tensor from byte `o`, a multiple of 4 (Q4_1, Q5_1).
fn aligned4(o: u32) -> vec4<u32> {
    let i = o / 4u;
    return vec4<u32>(word(i), word(i + 1u), word(i + 2u), word(i + 3u));
}

// Q5_0 / Q5_1 codes: the 4-bit codes `q` (as `nibble_unit`'s) with bit j of `qh` as bit 4 of
// weight j, joined in integer arithmetic before the one conversion per weight.
fn q5_unit(q: vec4<u32>, qh: u32) -> Unit {
    let m = 0x0f0f0f0fu;
    return Unit(
        Chunk(bytes_to_f32((q.x & m) | fifth_bits(qh)), bytes_to_f32((q.y & m) | fifth_bits(qh >> 4u))),
        Chunk(bytes_to_f32((q.z & m) | fifth_bits(qh >> 8u)), bytes_to_f32((q.w & m) | fifth_bits(qh >> 12u))),
        Chunk(bytes_to_f32(((q.x >> 4u) & m) | fifth_bits(qh >> 16u)), bytes_to_f32(((q.y >> 4u) & m) | fifth_bits(qh >> 20u))),
        Chunk(bytes_to_f32(((q.z >> 4u) & m) | fifth_bits(qh >> 24u)), bytes_to_f32(((q.w >> 4u) & m) | fifth_bits(qh >> 28u))),
    );
}

// Bits 0..4 of `b` moved to bit 4 of bytes 0..4 (the multiply puts bit k at bit 8k, and no
// other product lands on those bits).
fn fifth_bits(b: u32) -> u32 {
    return (((b & 0xfu) * 0x00204081u) & 0x01010101u) << 4u;
}

// Low (`shift` 0) or high (`shift` 4) nibbles of the 8 bytes in words `a`, `b` as a chunk.
fn nibble_chunk(a: u32, b: u32, shift: u32) -> Chunk {
    let m = 0x0f0f0f0fu;
    return Chunk(bytes_to_f32((a >> shift) & m), bytes_to_f32((b >> shift) & m));
}

fn offset_chunk(c: Chunk, v: f32) -> Chunk {
    return Chunk(c.lo + v, c.hi + v);
}

// The unit of a 32-weight block whose 16 code bytes are `q` (weight j < 16: low nibble of byte
// j; weight 16 + j: its high nibble), before any offset or scale.
fn nibble_unit(q: vec4<u32>) -> Unit {
    return Unit(
        nibble_chunk(q.x, q.y, 0u),
        nibble_chunk(q.z, q.w, 0u),
        nibble_chunk(q.x, q.y, 4u),
        nibble_chunk(q.z, q.w, 4u),
    );
}

// `d · (q + offset)` for every weight of `u`, in that order (the reference's).
fn scale_unit(u: Unit, offset: f32, d: f32) -> Unit {
    return Unit(
        scaled(offset_chunk(u.c0, offset), d),
        scaled(offset_chunk(u.c1, offset), d),
        scaled(offset_chunk(u.c2, offset), d),
        scaled(offset_chunk(u.c3, offset), d),
    );
}

// `d · q + m` for every weight of `u` (Q4_1).
fn affine_unit(u: Unit, d: f32, m: f32) -> Unit {
    return Unit(
        offset_chunk(scaled(u.c0, d), m),
        offset_chunk(scaled(u.c1, d), m),
        offset_chunk(scaled(u.c2, d), m),
        offset_chunk(scaled(u.c3, d), m),
    );
}

// `d · q − m` for every weight of `u` (Q4_K): a subtraction, as the reference's, so that a NaN
// min keeps its sign.
fn min_unit(u: Unit, d: f32, m: f32) -> Unit {
    let c0 = scaled(u.c0, d);
    let c1 = scaled(u.c1, d);
    let c2 = scaled(u.c2, d);
    let c3 = scaled(u.c3, d);
    return Unit(Chunk(c0.lo - m, c0.hi - m), Chunk(c1.lo - m, c1.hi - m), Chunk(c2.lo - m, c2.hi - m), Chunk(c3.lo - m, c3.hi - m));
}

fn iq4_nl_chunk(c: Chunk) -> Chunk {
    let lo = vec4<f32>(iq4_nl_value(u32(c.lo.x)), iq4_nl_value(u32(c.lo.y)), iq4_nl_value(u32(c.lo.z)), iq4_nl_value(u32(c.lo.w)));
    let hi = vec4<f32>(iq4_nl_value(u32(c.hi.x)), iq4_nl_value(u32(c.hi.y)), iq4_nl_value(u32(c.hi.z)), iq4_nl_value(u32(c.hi.w)));
    return Chunk(lo, hi);
}

// MXFP4's code book (ggml's kvalues_mxfp4, E2M1 doubled: 0 1 2 3 4 6 8 12 and their negatives)
// as signed bytes packed in a vector, indexed like `iq4_nl_value`'s.
fn mxfp4_code(q: u32) -> f32 {
    let book = vec4<u32>(0x03020100u, 0x0c080604u, 0xfdfeff00u, 0xf4f8fafcu);
    return f32(extractBits(bitcast<i32>(book[(q >> 2u) & 3u]), (q & 3u) * 8u, 8u));
}

fn mxfp4_chunk(c: Chunk, d: f32) -> Chunk {
    let lo = vec4<f32>(mxfp4_code(u32(c.lo.x)), mxfp4_code(u32(c.lo.y)), mxfp4_code(u32(c.lo.z)), mxfp4_code(u32(c.lo.w)));
    let hi = vec4<f32>(mxfp4_code(u32(c.hi.x)), mxfp4_code(u32(c.hi.y)), mxfp4_code(u32(c.hi.z)), mxfp4_code(u32(c.hi.w)));
    return Chunk(lo * d, hi * d);
}

// 2^(e − 128), ggml's ggml_e8m0_to_fp32_half: subnormal for e < 2.
fn mxfp4_scale(e: u32) -> f32 {
    return bitcast<f32>(select((e - 1u) << 23u, 0x00200000u << e, e < 2u));
}

// Q8_0's chunk of the signed code bytes in words `a`, `b`, times `d`.
fn q8_chunk(a: u32, b: u32, d: f32) -> Chunk {
    return scaled(Chunk(vec4<f32>(unpack4xI8(a)), vec4<f32>(unpack4xI8(b))), d);
}

// Q6_K: the chunk of codes whose low nibbles are in words `l0`, `l1` (high nibbles where
// `nibble` is 4) and high bits at `bit`, `bit` + 1 of each byte of `h0`, `h1`, times `d`.
fn q6_k_chunk(l0: u32, l1: u32, h0: u32, h1: u32, nibble: u32, bit: u32, d: f32) -> Chunk {
    let low = nibble_chunk(l0, l1, nibble);
    let high = Chunk(bytes_to_f32((h0 >> bit) & 0x03030303u), bytes_to_f32((h1 >> bit) & 0x03030303u));
    let q = Chunk(low.lo + 16.0 * high.lo - 32.0, low.hi + 16.0 * high.hi - 32.0);
    return scaled(q, d);
}

// Eight aligned words of the tensor from byte `o`, a multiple of 4 (the K formats but Q3_K).
fn aligned8(o: u32) -> Words8 {
    let i = o / 4u;
    return Words8(
        vec4<u32>(word(i), word(i + 1u), word(i + 2u), word(i + 3u)),
        vec4<u32>(word(i + 4u), word(i + 5u), word(i + 6u), word(i + 7u)),
    );
}

// Q4_K / Q5_K: sub-block j's d·sc (`.x`) and dmin·m (`.y`), the 6-bit scale and min unpacked
// as ggml's get_scale_min_k4 does from the three scale words after the [d, dmin] word `w`.
fn k_scales(w: u32, j: u32) -> vec2<f32> {
    let dm = word(w);
    let k = (j % 4u) * 8u;
    let b0 = (word(w + 1u) >> k) & 0xffu;
    let b1 = (word(w + 2u) >> k) & 0xffu;
    let b2 = (word(w + 3u) >> k) & 0xffu;
    let high = j >= 4u;
    let sc = select(b0 & 63u, (b2 & 0xfu) | ((b0 >> 6u) << 4u), high);
    let mn = select(b1 & 63u, (b2 >> 4u) | ((b1 >> 6u) << 4u), high);
    return vec2<f32>(f16_to_f32(dm & 0xffffu) * f32(sc), f16_to_f32(dm >> 16u) * f32(mn));
}

// Q5_K: four codes as bytes, the nibbles of `q` at `shift` with bit `bit` of each byte of `h`
// as bit 4.
fn q5_k_bytes(q: u32, h: u32, shift: u32, bit: u32) -> u32 {
    return ((q >> shift) & 0x0f0f0f0fu) | (((h >> bit) & 0x01010101u) << 4u);
}

// Q3_K: the chunk of 2-bit codes at `shift` of the bytes of `q0`, `q1`, plus 4 where bit `bit`
// of the matching byte of `m0`, `m1` is set, minus 4, times `d` (codes joined as integers
// 0..8, so the value equals the reference's q − 4 + 4·m).
fn q3_k_chunk(q0: u32, q1: u32, m0: u32, m1: u32, shift: u32, bit: u32, d: f32) -> Chunk {
    let a = ((q0 >> shift) & 0x03030303u) | (((m0 >> bit) & 0x01010101u) << 2u);
    let b = ((q1 >> shift) & 0x03030303u) | (((m1 >> bit) & 0x01010101u) << 2u);
    return scaled(Chunk(bytes_to_f32(a) - 4.0, bytes_to_f32(b) - 4.0), d);
}

// Q2_K: the chunk of 2-bit codes at `shift` of the bytes of `q0`, `q1`, as d·q − m.
fn q2_k_chunk(q0: u32, q1: u32, shift: u32, d: f32, m: f32) -> Chunk {
    let c = scaled(Chunk(bytes_to_f32((q0 >> shift) & 0x03030303u), bytes_to_f32((q1 >> shift) & 0x03030303u)), d);
    return Chunk(c.lo - m, c.hi - m);
}

// Unit `u` (weights 32u .. 32u+32) of row `row`.
fn load_unit(row: u32, u: u32) -> Unit {
    let per_block = block_weights() / UNIT;
    let base = row * params.row_bytes + (u / per_block) * block_bytes();
    let j = u % per_block;
    switch FORMAT {
        case 0u: {
            let i = base / 4u;
            let s = (base & 3u) * 8u;
            let w0 = vec4<u32>(word(i), word(i + 1u), word(i + 2u), word(i + 3u));
            let w1 = vec4<u32>(word(i + 4u), word(i + 5u), word(i + 6u), word(i + 7u));
            let n0 = vec4<u32>(w0.yzw, w1.x);
            let n1 = vec4<u32>(w1.yzw, word(i + 8u));
            let d = half_at(w0.x, s);
            let a = Words8(after_half(w0, n0, s), after_half(w1, n1, s));
            return Unit(
                q8_chunk(a.lo.x, a.lo.y, d),
                q8_chunk(a.lo.z, a.lo.w, d),
                q8_chunk(a.hi.x, a.hi.y, d),
                q8_chunk(a.hi.z, a.hi.w, d),
            );
        }
        case 1u: {
            let b = half_block(base);
            return scale_unit(nibble_unit(b.q), -8.0, b.d);
        }
        case 2u: {
            let dm = word(base / 4u);
            let d = f16_to_f32(dm & 0xffffu);
            let m = f16_to_f32(dm >> 16u);
            return affine_unit(nibble_unit(aligned4(base + 4u)), d, m);
        }
        case 3u: {
            // Sub-block j: codes in the low (j even) or high nibbles of the 32 bytes of pair
            // j / 2.
            let dm = k_scales(base / 4u, j);
            let q = aligned8(base + 16u + (j / 2u) * 32u);
            let shift = (j % 2u) * 4u;
            let codes = Unit(
                nibble_chunk(q.lo.x, q.lo.y, shift),
                nibble_chunk(q.lo.z, q.lo.w, shift),
                nibble_chunk(q.hi.x, q.hi.y, shift),
                nibble_chunk(q.hi.z, q.hi.w, shift),
            );
            return min_unit(codes, dm.x, dm.y);
        }
        case 4u: {
            // Half h = j / 4, quarter k = j % 4: low nibbles (k < 2) or high ones of
            // ql[64h + 32·(k & 1) ..], bits 2k, 2k+1 of qh[128 + 32h ..], scales 8h + 2k and
            // 8h + 2k + 1 for the unit's two halves of 16.
            let h = j / 4u;
            let k = j % 4u;
            let ql = words8(base + h * 64u + (k & 1u) * 32u);
            let qh = words8(base + 128u + h * 32u);
            let scales = bytes4_at(base + 192u + h * 8u + k * 2u);
            let d = f16_at(base + 208u);
            let d0 = d * f32(extractBits(bitcast<i32>(scales), 0u, 8u));
            let d1 = d * f32(extractBits(bitcast<i32>(scales), 8u, 8u));
            let nibble = select(0u, 4u, k >= 2u);
            let bit = 2u * k;
            return Unit(
                q6_k_chunk(ql.lo.x, ql.lo.y, qh.lo.x, qh.lo.y, nibble, bit, d0),
                q6_k_chunk(ql.lo.z, ql.lo.w, qh.lo.z, qh.lo.w, nibble, bit, d0),
                q6_k_chunk(ql.hi.x, ql.hi.y, qh.hi.x, qh.hi.y, nibble, bit, d1),
                q6_k_chunk(ql.hi.z, ql.hi.w, qh.hi.z, qh.hi.w, nibble, bit, d1),
            );
        }
        case 5u: {
            let d = mxfp4_scale(byte_at(base));
            let codes = nibble_unit(words4(base + 1u));
            return Unit(
                mxfp4_chunk(codes.c0, d),
                mxfp4_chunk(codes.c1, d),
                mxfp4_chunk(codes.c2, d),
                mxfp4_chunk(codes.c3, d),
            );
        }
        case 6u: {
            // [d: f16][qh: u32][qs: 16 B] from the block's six words.
            let i = base / 4u;
            let s = (base & 3u) * 8u;
            let w = vec4<u32>(word(i), word(i + 1u), word(i + 2u), word(i + 3u));
            let w4 = word(i + 4u);
            let w5 = word(i + 5u);
            let after = after_half(w, vec4<u32>(w.yzw, w4), s);
            let last = select((w4 >> 16u) | (w5 << 16u), w5, s != 0u);
            let codes = q5_unit(vec4<u32>(after.yzw, last), after.x);
            return scale_unit(codes, -16.0, half_at(w.x, s));
        }
        case 7u: {
            // [d: f16][m: f16][qh: u32][qs: 16 B], six aligned words.
            let dm = word(base / 4u);
            let qh = word(base / 4u + 1u);
            let codes = q5_unit(aligned4(base + 8u), qh);
            return affine_unit(codes, f16_to_f32(dm & 0xffffu), f16_to_f32(dm >> 16u));
        }
        case 9u: {
            let b = half_block(base);
            let codes = nibble_unit(b.q);
            return Unit(
                scaled(iq4_nl_chunk(codes.c0), b.d),
                scaled(iq4_nl_chunk(codes.c1), b.d),
                scaled(iq4_nl_chunk(codes.c2), b.d),
                scaled(iq4_nl_chunk(codes.c3), b.d),
            );
        }
        case 8u: {
            // Q4_K's sub-block j, each code's bit 4 being bit j of qh[l] (32 bytes at 16).
            let dm = k_scales(base / 4u, j);
            let q = aligned8(base + 48u + (j / 2u) * 32u);
            let h = aligned8(base + 16u);
            let shift = (j % 2u) * 4u;
            let codes = Unit(
                Chunk(bytes_to_f32(q5_k_bytes(q.lo.x, h.lo.x, shift, j)), bytes_to_f32(q5_k_bytes(q.lo.y, h.lo.y, shift, j))),
                Chunk(bytes_to_f32(q5_k_bytes(q.lo.z, h.lo.z, shift, j)), bytes_to_f32(q5_k_bytes(q.lo.w, h.lo.w, shift, j))),
                Chunk(bytes_to_f32(q5_k_bytes(q.hi.x, h.hi.x, shift, j)), bytes_to_f32(q5_k_bytes(q.hi.y, h.hi.y, shift, j))),
                Chunk(bytes_to_f32(q5_k_bytes(q.hi.z, h.hi.z, shift, j)), bytes_to_f32(q5_k_bytes(q.hi.w, h.hi.w, shift, j))),
            );
            return min_unit(codes, dm.x, dm.y);
        }
        case 10u: {
            // Half h = j / 4, quarter k = j % 4: bits 2k of qs[32h + l] (64 bytes at 32), bit
            // 4h + k of hmask[l] (at 0; clear: minus 4), scales 8h + 2k (l < 16) and + 1.
            let h = j / 4u;
            let k = j % 4u;
            let q = words8(base + 32u + h * 32u);
            let m = words8(base);
            let shift = 2u * k;
            let bit = 4u * h + k;
            let d = f16_at(base + 108u);
            let i = 8u * h + 2u * k;
            let d0 = d * q3_k_scale(base + 96u, i);
            let d1 = d * q3_k_scale(base + 96u, i + 1u);
            return Unit(
                q3_k_chunk(q.lo.x, q.lo.y, m.lo.x, m.lo.y, shift, bit, d0),
                q3_k_chunk(q.lo.z, q.lo.w, m.lo.z, m.lo.w, shift, bit, d0),
                q3_k_chunk(q.hi.x, q.hi.y, m.hi.x, m.hi.y, shift, bit, d1),
                q3_k_chunk(q.hi.z, q.hi.w, m.hi.z, m.hi.w, shift, bit, d1),
            );
        }
        default: {
            // Q2_K. Half h = j / 4, quarter k = j % 4: bits 2k of qs[32h + l] (64 bytes at 16), scale
            // bytes 8h + 2k (l < 16) and + 1 (4-bit scale, 4-bit min), d and dmin at 80.
            let h = j / 4u;
            let k = j % 4u;
            let w = base / 4u;
            let q = aligned8(base + 16u + h * 32u);
            let sc = word(w + 2u * h + k / 2u) >> ((k % 2u) * 16u);
            let dm = word(w + 20u);
            let d = f16_to_f32(dm & 0xffffu);
            let dmin = f16_to_f32(dm >> 16u);
            let d0 = d * f32(sc & 15u);
            let m0 = dmin * f32((sc >> 4u) & 15u);
            let d1 = d * f32((sc >> 8u) & 15u);
            let m1 = dmin * f32((sc >> 12u) & 15u);
            let shift = 2u * k;
            return Unit(
                q2_k_chunk(q.lo.x, q.lo.y, shift, d0, m0),
                q2_k_chunk(q.lo.z, q.lo.w, shift, d0, m0),
                q2_k_chunk(q.hi.x, q.hi.y, shift, d1, m1),
                q2_k_chunk(q.hi.z, q.hi.w, shift, d1, m1),
            );
        }
    }
}
