// Shared part of the DFloat11 kernels (decode.wgsl, gemv.wgsl): the unit's bindings, the tables
// in workgroup memory, and a thread's pass over its codes (format in
// `crates/squeeze-dfloat11/src/lib.rs`).
//
// One workgroup per DF11 block, one invocation per DF11 thread, which owns 64 bits of the code
// stream and decodes every code that starts in them. The tables (at most 17 decode tables and
// the length row, 4.5 KiB) are copied to workgroup memory first. A thread decodes its codes
// once, keeping the exponents in a private array; a workgroup prefix sum over the code counts
// plus `output_positions[block]` gives each thread its first output index.
//
// Bounds: the decode loop stops after 64 codes (plus one look-ahead), a table chain after four
// lookups (pointer targets 1..=16 always index the workgroup copy), and every storage read is
// checked against `arrayLength` (zero past the end). The including kernel declares `params` and
// its outputs at bindings 0 and 6 onwards; `sign_mantissa` (binding 3) is sign_mantissa.wgsl's.

// Invocations per workgroup = DF11 threads per block (checkpoints use 512).
override THREADS_PER_BLOCK: u32 = 512u;

// Bits a thread owns (DF11 bytes_per_thread = 8); a 5-bit gap and 32-bit codes need exactly 64.
const THREAD_BITS: u32 = 64u;
// Decode tables a pointer reaches (table 0 + 16) plus the length row, as u32 words.
const LUT_ROWS: u32 = 18u;
const LUT_WORDS: u32 = LUT_ROWS * 64u;
// Table values at or above this are pointers to table 256 - value.
const POINTER_MIN: u32 = 240u;

@group(0) @binding(1) var<storage, read> luts: array<u32>;
@group(0) @binding(2) var<storage, read> codes: array<u32>;
@group(0) @binding(4) var<storage, read> output_positions: array<u32>;
@group(0) @binding(5) var<storage, read> gaps: array<u32>;

var<workgroup> lut: array<u32, LUT_WORDS>;
// 128 stream bits from the thread's first byte, MSB first (zeros past them): the last code
// starting in the thread ends by bit 95, the one more code by bit 127.
var<private> window0: u32;
var<private> window1: u32;
var<private> window2: u32;
var<private> window3: u32;
// The exponents a thread decodes (at most 64 plus one look-ahead), four per word, so the
// kernel's second pass does not decode again.
var<private> exponents: array<u32, 17>;

fn lut_byte(table: u32, entry: u32) -> u32 {
    let i = min(table, LUT_ROWS - 1u) * 256u + (entry & 0xffu);
    return stream_byte(lut[i / 4u], i);
}

fn code_word(i: u32) -> u32 {
    if (i < arrayLength(&codes)) {
        return msb_first(codes[i]);
    }
    return 0u;
}

fn gap_word(i: u32) -> u32 {
    if (i < arrayLength(&gaps)) {
        return msb_first(gaps[i]);
    }
    return 0u;
}

// Thread `t`'s 5-bit gap, packed MSB first at bit 5t.
fn thread_gap(t: u32) -> u32 {
    let bit = t * 5u;
    return window_bits(gap_word(bit / 32u), gap_word(bit / 32u + 1u), bit % 32u, 5u);
}

// The 32 bits at bit `p` of the thread's window (zeros past it).
fn peek(p: u32) -> u32 {
    if (p >= 128u) {
        return 0u;
    }
    let w = p / 32u;
    let hi = select(select(window0, window1, w == 1u), select(window2, window3, w == 3u), w >= 2u);
    let lo = select(select(window1, window2, w == 1u), select(window3, 0u, w == 3u), w >= 2u);
    return window_bits(hi, lo, p % 32u, 32u);
}

// (exponent, code length) of the code at the top of `bits`.
fn decode_symbol(bits: u32, length_row: u32) -> vec2<u32> {
    var value = lut_byte(0u, bits >> 24u);
    for (var level = 1u; level < 4u; level++) {
        if (value < POINTER_MIN) {
            break;
        }
        value = lut_byte(256u - value, bits >> (24u - 8u * level));
    }
    return vec2<u32>(value, lut_byte(length_row, value));
}

fn keep_exponent(j: u32, exponent: u32) {
    let w = min(j / 4u, 16u);
    let shift = (j % 4u) * 8u;
    exponents[w] = (exponents[w] & ~(0xffu << shift)) | ((exponent & 0xffu) << shift);
}

fn kept_exponent(j: u32) -> u32 {
    return (exponents[min(j / 4u, 16u)] >> ((j % 4u) * 8u)) & 0xffu;
}

fn position(i: u32) -> u32 {
    if (i < arrayLength(&output_positions)) {
        return output_positions[i];
    }
    return 0u;
}

// Block `block`'s output range [x, y), clamped to `n`.
fn block_range(block: u32, n: u32) -> vec2<u32> {
    let end = min(position(block + 1u), n);
    return vec2<u32>(min(position(block), end), end);
}

// Copies the tables to workgroup memory, loads this thread's window and decodes the codes that
// start in its 64 bits, keeping their exponents (four per word), and one code more (the next
// thread's first, which continues the same stream). Returns the number of codes that start in
// the thread. Call from uniform control flow: it contains the first barrier.
fn decode_thread_codes(lid: u32, block: u32, n_luts: u32) -> u32 {
    let rows = clamp(n_luts, 2u, LUT_ROWS);
    let lut_words = min(rows * 64u, arrayLength(&luts));
    for (var i = lid; i < LUT_WORDS; i += THREADS_PER_BLOCK) {
        var word = 0u;
        if (i < lut_words) {
            word = luts[i];
        }
        lut[i] = word;
    }
    let length_row = rows - 1u;
    let t = block * THREADS_PER_BLOCK + lid;
    window0 = code_word(2u * t);
    window1 = code_word(2u * t + 1u);
    window2 = code_word(2u * t + 2u);
    window3 = code_word(2u * t + 3u);
    let gap = thread_gap(t);
    block_scan_init(lid);
    workgroupBarrier();

    var p = gap;
    var count = 0u;
    for (; count < THREAD_BITS; count++) {
        if (p >= THREAD_BITS) {
            break;
        }
        let symbol = decode_symbol(peek(p), length_row);
        keep_exponent(count, symbol.x);
        p += symbol.y;
    }
    keep_exponent(count, decode_symbol(peek(p), length_row).x);
    return count;
}

// This thread's output range [x, y) from its code count: the workgroup prefix sum plus the
// block's first position, clamped to its block's range and to `n`. Call from uniform control
// flow (the scan has barriers).
fn thread_range(lid: u32, block: u32, count: u32, n: u32) -> vec2<u32> {
    let before = block_exclusive_scan(lid, count);
    let range = block_range(block, n);
    let start = range.x + min(before, range.y - range.x);
    return vec2<u32>(start, start + min(count, range.y - start));
}
