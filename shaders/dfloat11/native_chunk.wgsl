// Shared part of the native-format kernels (native_decode.wgsl, native_gemv.wgsl): the unit's
// bindings, the decode table in workgroup memory, and a reader that decodes one chunk's codes
// with one table lookup each (format in `crates/squeeze-dfloat11/src/native/mod.rs`).
//
// A chunk is 128 consecutive weights of one row (fewer at a row's end); its first bit is
// tile_offsets[g / 32] + chunk_offsets[g]. The reader keeps two stream words (hi, lo) and the
// bit position in hi; a code is at most 12 bits, so after each one at most one word is loaded.
//
// Bounds: the table copy is a fixed loop, every storage read is checked against `arrayLength`
// (zero past the end), a lookup index is at most 4095 and a code advances 1..=15 bits; the
// including kernel decodes a fixed count of codes per chunk. `params` is native_params.wgsl's,
// `sign_mantissa` (binding 3) sign_mantissa.wgsl's; outputs bind from 6 on.

// Invocations per workgroup (one chunk each).
override WORKGROUP_SIZE: u32 = 256u;

const CHUNK_SYMBOLS: u32 = 128u;
const TILE_CHUNKS: u32 = 32u;
const MAX_CODE_BITS: u32 = 12u;
// 4096 u16 entries, two per word.
const TABLE_WORDS: u32 = 2048u;

@group(0) @binding(1) var<storage, read> table: array<u32>;
@group(0) @binding(2) var<storage, read> exponents: array<u32>;
@group(0) @binding(4) var<storage, read> tile_offsets: array<u32>;
@group(0) @binding(5) var<storage, read> chunk_offsets: array<u32>;

var<workgroup> lut: array<u32, TABLE_WORDS>;

// The reader: words `reader_word` (hi) and the next (lo), next code at bit `reader_bit` of hi.
var<private> reader_word: u32;
var<private> reader_hi: u32;
var<private> reader_lo: u32;
var<private> reader_bit: u32;

// Copies the decode table to workgroup memory. Call from uniform control flow, then barrier.
fn load_table(lid: u32) {
    for (var i = lid; i < TABLE_WORDS; i += WORKGROUP_SIZE) {
        var word = 0u;
        if (i < arrayLength(&table)) {
            word = table[i];
        }
        lut[i] = word;
    }
}

fn stream_word(i: u32) -> u32 {
    if (i < arrayLength(&exponents)) {
        return exponents[i];
    }
    return 0u;
}

// First bit of chunk `g`.
fn chunk_start(g: u32) -> u32 {
    let tile = g / TILE_CHUNKS;
    var base = 0u;
    if (tile < arrayLength(&tile_offsets)) {
        base = tile_offsets[tile];
    }
    var relative = 0u;
    if (g / 2u < arrayLength(&chunk_offsets)) {
        relative = (chunk_offsets[g / 2u] >> ((g & 1u) * 16u)) & 0xffffu;
    }
    return base + relative;
}

// Weights [x, y) of chunk `g` (at most CHUNK_SYMBOLS), clamped to `n`.
fn chunk_range(g: u32) -> vec2<u32> {
    let cpr = max(params.chunks_per_row, 1u);
    let row_start = (g / cpr) * params.cols;
    let first = (g % cpr) * CHUNK_SYMBOLS;
    let end = min(row_start + min(first + CHUNK_SYMBOLS, params.cols), params.n);
    return vec2<u32>(min(row_start + min(first, params.cols), end), end);
}

// Points the reader at stream bit `bit`.
fn seek(bit: u32) {
    reader_word = bit / 32u;
    reader_bit = bit % 32u;
    reader_hi = stream_word(reader_word);
    reader_lo = stream_word(reader_word + 1u);
}

// Decodes the code at the reader and steps past it; returns the exponent.
fn next_exponent() -> u32 {
    let window = window_bits(reader_hi, reader_lo, reader_bit, MAX_CODE_BITS);
    let entry = (lut[window / 2u] >> ((window & 1u) * 16u)) & 0xffffu;
    reader_bit += max((entry >> 8u) & 0xfu, 1u);
    if (reader_bit >= 32u) {
        reader_bit -= 32u;
        reader_word++;
        reader_hi = reader_lo;
        reader_lo = stream_word(reader_word + 1u);
    }
    return entry & 0xffu;
}
