// GGUF block formats as chunks of eight weights (byte layouts, with diagrams, in
// `crates/squeeze-quant/src/format.rs`). The dequant and GEMV kernels read weights only through
// `load_chunk`, so each format's arithmetic lives here once.
//
// The tensor is one run of blocks, `params.row_bytes` per row, seen as little-endian u32 words
// (WGSL storage has no u8). Block sizes 17 (MXFP4), 18 and 210 leave blocks unaligned, so bytes are
// gathered with `bytes4_at`, which reads any four consecutive bytes from two words. Reads past the
// binding return zero bytes: a short buffer cannot make a kernel read out of bounds.
//
// Every weight equals the CPU reference bit for bit: each product below is exact in f32 or is a
// single rounding in the reference's order, and no product is followed by an addition that a
// fused multiply-add could change, except `d·q + m` (Q4_1) and `d·sc·q − dmin·m` (Q4_K), whose
// products are exact, so fusing them cannot change the result.

// 0 = Q8_0, 1 = Q4_0, 2 = Q4_1, 3 = Q4_K, 4 = Q6_K, 5 = MXFP4, 6 = Q5_0, 7 = Q5_1, 8 = Q5_K,
// 9 = IQ4_NL, 10 = Q3_K, 11 = Q2_K; a pipeline constant, so the other formats' code folds away.
override FORMAT: u32 = 0u;

@group(0) @binding(1) var<storage, read> blocks: array<u32>;

// The kernel's own bindings follow the weights'.
const KERNEL_BINDING: u32 = 2u;

fn block_bytes() -> u32 {
    switch FORMAT {
        case 0u: { return 34u; }
        case 1u: { return 18u; }
        case 2u: { return 20u; }
        case 3u: { return 144u; }
        case 4u: { return 210u; }
        case 5u: { return 17u; }
        case 6u: { return 22u; }
        case 7u: { return 24u; }
        case 8u: { return 176u; }
        case 9u: { return 18u; }
        case 10u: { return 110u; }
        default: { return 84u; }
    }
}

fn block_weights() -> u32 {
    return select(32u, 256u, FORMAT == 3u || FORMAT == 4u || FORMAT >= 8u && FORMAT != 9u);
}

// Word `w` of the tensor, which starts `params.w_offset` words into the binding; 0 past its end.
fn word(w: u32) -> u32 {
    let i = w + params.w_offset;
    return select(0u, blocks[min(i, arrayLength(&blocks) - 1u)], i < arrayLength(&blocks));
}

// Bytes o..o+4 of the tensor as one little-endian word, for any byte offset `o`.
fn bytes4_at(o: u32) -> u32 {
    let shift = (o & 3u) * 8u;
    let first = word(o / 4u);
    if (shift == 0u) {
        return first;
    }
    return (first >> shift) | (word(o / 4u + 1u) << (32u - shift));
}

fn byte_at(o: u32) -> u32 {
    return stream_byte(word(o / 4u), o);
}

// The f16 at byte offset `o`, as f32.
fn f16_at(o: u32) -> f32 {
    return f16_to_f32(bytes4_at(o) & 0xffffu);
}

fn bytes_to_f32(w: u32) -> vec4<f32> {
    return vec4<f32>(unpack4xU8(w));
}

// Eight unsigned 4-bit codes: the low (`high` false) or high nibbles of the 8 bytes at `o`.
fn nibbles8(o: u32, high: bool) -> Chunk {
    let shift = select(0u, 4u, high);
    let a = (bytes4_at(o) >> shift) & 0x0f0f0f0fu;
    let b = (bytes4_at(o + 4u) >> shift) & 0x0f0f0f0fu;
    return Chunk(bytes_to_f32(a), bytes_to_f32(b));
}

// Eight bits (0 or 1 each) as a chunk, bit k for weight k.
fn bits8(b: u32) -> Chunk {
    let v = vec4<u32>(b);
    let one = vec4<u32>(1u);
    return Chunk(
        vec4<f32>((v >> vec4<u32>(0u, 1u, 2u, 3u)) & one),
        vec4<f32>((v >> vec4<u32>(4u, 5u, 6u, 7u)) & one),
    );
}

// Q5_0 / Q5_1 codes of chunk `s` of a block: 4-bit codes at `qs` (as Q4_0) plus bit 4 from the
// 32-bit `qh` word at `qh`, whose bit j belongs to weight j.
fn q5_codes(qs: u32, qh: u32, s: u32) -> Chunk {
    let low = nibbles8(qs + (s & 1u) * 8u, s >= 2u);
    let high = bits8((bytes4_at(qh) >> (s * 8u)) & 0xffu);
    return Chunk(low.lo + 16.0 * high.lo, low.hi + 16.0 * high.hi);
}

// The 2-bit codes of weights 32j + l0 .. +8 of a Q2_K/Q3_K half whose 32 code bytes start at
// `qs`: bits 2j, 2j+1 of bytes l0 .. l0+8.
fn crumbs8(qs: u32, j: u32, l0: u32) -> Chunk {
    let shift = 2u * j;
    let a = (bytes4_at(qs + l0) >> shift) & 0x03030303u;
    let b = (bytes4_at(qs + l0 + 4u) >> shift) & 0x03030303u;
    return Chunk(bytes_to_f32(a), bytes_to_f32(b));
}

// The signed 6-bit scale `i` (0..16) of a Q3_K block whose 12 packed scale bytes start at `o`:
// low 4 bits from byte i % 8 (low or high nibble), top 2 bits from byte 8 + i % 4.
fn q3_k_scale(o: u32, i: u32) -> f32 {
    let low = (byte_at(o + i % 8u) >> (4u * (i / 8u))) & 15u;
    let high = (byte_at(o + 8u + i % 4u) >> (2u * (i / 4u))) & 3u;
    return f32(i32(low | (high << 4u)) - 32);
}

// IQ4_NL's non-linear code book (ggml's kvalues_iq4nl: −127 −104 −83 −65 −49 −35 −22 −10 1 13
// 25 38 53 69 89 113) as signed bytes packed in a vector: a dynamic vector index stays in
// registers, where an indexed array may go to memory (4× slower on lavapipe).
fn iq4_nl_value(q: u32) -> f32 {
    let book = vec4<u32>(0xbfad9881u, 0xf6eaddcfu, 0x26190d01u, 0x71594535u);
    return f32(extractBits(bitcast<i32>(book[(q >> 2u) & 3u]), (q & 3u) * 8u, 8u));
}

fn scaled(c: Chunk, d: f32) -> Chunk {
    return Chunk(d * c.lo, d * c.hi);
}

// The 6-bit scale (`.x`) and min (`.y`) of sub-block `j` (0..8) of a Q4_K block whose 12 packed
// scale bytes start at `o` (ggml's get_scale_min_k4).
fn q4_k_scale_min(o: u32, j: u32) -> vec2<u32> {
    if (j < 4u) {
        return vec2<u32>(byte_at(o + j) & 63u, byte_at(o + j + 4u) & 63u);
    }
    let packed = byte_at(o + j + 4u);
    let sc = (packed & 0xfu) | ((byte_at(o + j - 4u) >> 6u) << 4u);
    let m = (packed >> 4u) | ((byte_at(o + j) >> 6u) << 4u);
    return vec2<u32>(sc, m);
}

// MXFP4: code `q` (an E2M1 value doubled, ggml's kvalues_mxfp4) times 2^(e − 128), built as f32
// bits so that results in the subnormal range are exact on hardware that flushes them.
fn mxfp4_value(q: u32, e: u32) -> f32 {
    // |kvalue| = a · 2^t with a ∈ {1, 3}.
    let magnitudes = array<u32, 8>(0u, 1u, 2u, 3u, 4u, 6u, 8u, 12u);
    let m = magnitudes[q & 7u];
    if (m == 0u) {
        return 0.0;
    }
    let t = firstTrailingBit(m);
    let a = m >> t;
    // value = a · 2^(e − 128 + t); for a = 3 that is 1.5 · 2^(e − 127 + t).
    var biased = i32(e) - 1 + i32(t);
    var mantissa = 0u;
    if (a == 3u) {
        biased += 1;
        mantissa = 0x400000u;
    }
    var bits: u32;
    if (biased >= 255) {
        bits = 0x7f800000u;
    } else if (biased >= 1) {
        bits = (u32(biased) << 23u) | mantissa;
    } else {
        // Subnormal: a · 2^(biased − 127 − 22 − …) as an integer multiple of 2^−149.
        bits = (a << u32(22 + biased)) >> select(0u, 1u, a == 3u);
    }
    return bitcast<f32>(bits | select(0u, 0x80000000u, q >= 8u));
}

// Chunk `c` (weights 8c .. 8c+8) of row `row`.
fn load_chunk(row: u32, c: u32) -> Chunk {
    let per_block = block_weights() / CHUNK;
    let base = row * params.row_bytes + (c / per_block) * block_bytes();
    let s = c % per_block;
    switch FORMAT {
        case 0u: {
            let q = base + 2u + s * 8u;
            let lo = vec4<f32>(unpack4xI8(bytes4_at(q)));
            let hi = vec4<f32>(unpack4xI8(bytes4_at(q + 4u)));
            return scaled(Chunk(lo, hi), f16_at(base));
        }
        case 1u: {
            let q = nibbles8(base + 2u + (s & 1u) * 8u, s >= 2u);
            return scaled(Chunk(q.lo - 8.0, q.hi - 8.0), f16_at(base));
        }
        case 2u: {
            let q = scaled(nibbles8(base + 4u + (s & 1u) * 8u, s >= 2u), f16_at(base));
            let m = f16_at(base + 2u);
            return Chunk(q.lo + m, q.hi + m);
        }
        case 3u: {
            // 64 weights per 32 bytes: the first 32 are low nibbles, the next 32 high ones.
            let pair = s / 8u;
            let within = (s % 8u) * 8u;
            let sub = pair * 2u + within / 32u;
            let sm = q4_k_scale_min(base + 4u, sub);
            let d = f16_at(base) * f32(sm.x);
            let m = f16_at(base + 2u) * f32(sm.y);
            let q = scaled(nibbles8(base + 16u + pair * 32u + within % 32u, within >= 32u), d);
            return Chunk(q.lo - m, q.hi - m);
        }
        case 4u: {
            // Two halves of 128; in each, quarter k of 32 weights takes the low (k < 2) or high
            // nibbles of ql[32·(k & 1) ..], bits 2k, 2k+1 of qh[..] and scale 2k + l / 16.
            let half = s / 16u;
            let quarter = (s % 16u) / 4u;
            let l = (s % 4u) * 8u;
            let ql = base + half * 64u + (quarter & 1u) * 32u + l;
            let qh = base + 128u + half * 32u + l;
            let low = nibbles8(ql, quarter >= 2u);
            let shift = quarter * 2u;
            let h0 = (bytes4_at(qh) >> shift) & 0x03030303u;
            let h1 = (bytes4_at(qh + 4u) >> shift) & 0x03030303u;
            let q = Chunk(low.lo + 16.0 * bytes_to_f32(h0) - 32.0, low.hi + 16.0 * bytes_to_f32(h1) - 32.0);
            let sc = f32(i32(byte_at(base + 192u + half * 8u + l / 16u + quarter * 2u) << 24u) >> 24u);
            let d = f16_at(base + 208u) * sc;
            return scaled(q, d);
        }
        case 5u: {
            let e = byte_at(base);
            let codes = base + 1u + (s & 1u) * 8u;
            var out: array<f32, 8>;
            for (var j = 0u; j < 8u; j++) {
                let b = byte_at(codes + j);
                out[j] = mxfp4_value(select(b & 0xfu, b >> 4u, s >= 2u), e);
            }
            return Chunk(vec4<f32>(out[0], out[1], out[2], out[3]), vec4<f32>(out[4], out[5], out[6], out[7]));
        }
        case 6u: {
            let q = q5_codes(base + 6u, base + 2u, s);
            return scaled(Chunk(q.lo - 16.0, q.hi - 16.0), f16_at(base));
        }
        case 7u: {
            let q = scaled(q5_codes(base + 8u, base + 4u, s), f16_at(base));
            let m = f16_at(base + 2u);
            return Chunk(q.lo + m, q.hi + m);
        }
        case 8u: {
            // Q4_K's layout plus one high bit per weight: bit 2·pair (low nibbles) or
            // 2·pair + 1 (high nibbles) of qh[l].
            let pair = s / 8u;
            let within = (s % 8u) * 8u;
            let high = within >= 32u;
            let sub = pair * 2u + within / 32u;
            let sm = q4_k_scale_min(base + 4u, sub);
            let d = f16_at(base) * f32(sm.x);
            let m = f16_at(base + 2u) * f32(sm.y);
            let low = nibbles8(base + 48u + pair * 32u + within % 32u, high);
            let qh = base + 16u + within % 32u;
            let shift = sub;
            let h0 = (bytes4_at(qh) >> shift) & 0x01010101u;
            let h1 = (bytes4_at(qh + 4u) >> shift) & 0x01010101u;
            let q = Chunk(low.lo + 16.0 * bytes_to_f32(h0), low.hi + 16.0 * bytes_to_f32(h1));
            let w = scaled(q, d);
            return Chunk(w.lo - m, w.hi - m);
        }
        case 9u: {
            let q = nibbles8(base + 2u + (s & 1u) * 8u, s >= 2u);
            let lo = vec4<f32>(iq4_nl_value(u32(q.lo.x)), iq4_nl_value(u32(q.lo.y)), iq4_nl_value(u32(q.lo.z)), iq4_nl_value(u32(q.lo.w)));
            let hi = vec4<f32>(iq4_nl_value(u32(q.hi.x)), iq4_nl_value(u32(q.hi.y)), iq4_nl_value(u32(q.hi.z)), iq4_nl_value(u32(q.hi.w)));
            return scaled(Chunk(lo, hi), f16_at(base));
        }
        case 10u: {
            // Two halves of 128 weights; in half h, weights 32j + l take bits 2j of
            // qs[32h + l], bit 4h + j of hmask[l] (clear: subtract 4) and scale 8h + 2j + l/16.
            let h = s / 16u;
            let j = (s % 16u) / 4u;
            let l0 = (s % 4u) * 8u;
            let q = crumbs8(base + 32u + h * 32u, j, l0);
            let bit = 4u * h + j;
            let m0 = (bytes4_at(base + l0) >> bit) & 0x01010101u;
            let m1 = (bytes4_at(base + l0 + 4u) >> bit) & 0x01010101u;
            let codes = Chunk(q.lo - 4.0 + 4.0 * bytes_to_f32(m0), q.hi - 4.0 + 4.0 * bytes_to_f32(m1));
            let d = f16_at(base + 108u) * q3_k_scale(base + 96u, 8u * h + 2u * j + l0 / 16u);
            return scaled(codes, d);
        }
        default: {
            // Q2_K: weights 32j + l of half h take bits 2j of qs[32h + l] and the scale byte
            // 8h + 2j + l/16 (4-bit scale, 4-bit min).
            let h = s / 16u;
            let j = (s % 16u) / 4u;
            let l0 = (s % 4u) * 8u;
            let sc = byte_at(base + 8u * h + 2u * j + l0 / 16u);
            let d = f16_at(base + 80u) * f32(sc & 15u);
            let m = f16_at(base + 82u) * f32(sc >> 4u);
            let w = scaled(crumbs8(base + 16u + h * 32u, j, l0), d);
            return Chunk(w.lo - m, w.hi - m);
        }
    }
}
