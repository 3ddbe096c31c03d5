// GGUF weights for the GEMV, 32 at a time (`load_unit`): one block of the 32-weight formats, one
// sub-block of the 256-weight ones. `load_chunk` (gguf_blocks.wgsl) gathers every chunk's bytes
// and scale anew, up to six bounds-checked word reads and an exact f16 widening per eight weights;
// a unit reads its block's words once, as aligned runs (`words4`, `words8`), widens the scale
// once and takes the four chunks apart with constant shifts. That load work, not the arithmetic,
// is what a batch-1 GEMV spends its time on where the "GPU" is a CPU (lavapipe).
//
// Weights equal `load_chunk`'s bit for bit (same products in the same order), except MXFP4's,
// which multiply the code by the scale in f32 (`mxfp4_scale`): exact wherever the weight is a
// normal number or zero, and flushed to zero by a device that flushes subnormals — the GEMV's
// tolerance allows that (products in the subnormal range), its dequantization does not.
// Formats without a unit of their own here (Q5_K, Q3_K, Q2_K) take four `load_chunk`s.

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

// Unit `u` (weights 32u .. 32u+32) of row `row`.
fn load_unit(row: u32, u: u32) -> Unit {
    let per_block = block_weights() / UNIT;
    let base = row * params.row_bytes + (u / per_block) * block_bytes();
    let j = u % per_block;
    switch FORMAT {
        case 0u: {
            let d = f16_at(base);
            let a = words8(base + 2u);
            return Unit(
                q8_chunk(a.lo.x, a.lo.y, d),
                q8_chunk(a.lo.z, a.lo.w, d),
                q8_chunk(a.hi.x, a.hi.y, d),
                q8_chunk(a.hi.z, a.hi.w, d),
            );
        }
        case 1u: {
            return scale_unit(nibble_unit(words4(base + 2u)), -8.0, f16_at(base));
        }
        case 2u: {
            let dm = word(base / 4u);
            let d = f16_to_f32(dm & 0xffffu);
            let m = f16_to_f32(dm >> 16u);
            return affine_unit(nibble_unit(words4(base + 4u)), d, m);
        }
        case 3u: {
            // Sub-block j: scale and min j (get_scale_min_k4 on the three scale words), codes
            // in the low (j even) or high nibbles of the 32 bytes of pair j / 2.
            let w = base / 4u;
            let dm = word(w);
            let s0 = word(w + 1u);
            let s1 = word(w + 2u);
            let s2 = word(w + 3u);
            let k = (j % 4u) * 8u;
            let b0 = (s0 >> k) & 0xffu;
            let b1 = (s1 >> k) & 0xffu;
            let b2 = (s2 >> k) & 0xffu;
            var sc = b0 & 63u;
            var mn = b1 & 63u;
            if (j >= 4u) {
                sc = (b2 & 0xfu) | ((b0 >> 6u) << 4u);
                mn = (b2 >> 4u) | ((b1 >> 6u) << 4u);
            }
            let d = f16_to_f32(dm & 0xffffu) * f32(sc);
            let m = f16_to_f32(dm >> 16u) * f32(mn);
            let q = words8(base + 16u + (j / 2u) * 32u);
            let shift = (j % 2u) * 4u;
            let codes = Unit(
                nibble_chunk(q.lo.x, q.lo.y, shift),
                nibble_chunk(q.lo.z, q.lo.w, shift),
                nibble_chunk(q.hi.x, q.hi.y, shift),
                nibble_chunk(q.hi.z, q.hi.w, shift),
            );
            return min_unit(codes, d, m);
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
        case 9u: {
            let d = f16_at(base);
            let codes = nibble_unit(words4(base + 2u));
            return Unit(
                scaled(iq4_nl_chunk(codes.c0), d),
                scaled(iq4_nl_chunk(codes.c1), d),
                scaled(iq4_nl_chunk(codes.c2), d),
                scaled(iq4_nl_chunk(codes.c3), d),
            );
        }
        default: {
            let c = u * UNIT_CHUNKS;
            return Unit(load_chunk(row, c), load_chunk(row, c + 1u), load_chunk(row, c + 2u), load_chunk(row, c + 3u));
        }
    }
}
