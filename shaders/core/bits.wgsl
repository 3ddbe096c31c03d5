// Shared helpers: bit fields in byte streams stored as little-endian u32 words (WGSL storage has
// no u8). Entropy-coded streams (DFloat11 exponents) are MSB-first across bytes; block formats
// (GGUF nibbles) are LSB-first within a word and use `extractBits` directly.

// Byte `i` of a stream whose word `i / 4` is `word`.
fn stream_byte(word: u32, i: u32) -> u32 {
    return (word >> ((i & 3u) * 8u)) & 0xffu;
}

// A little-endian word seen as four bytes of an MSB-first stream: the first byte becomes the most
// significant.
fn msb_first(word: u32) -> u32 {
    return ((word & 0xffu) << 24u) | ((word & 0xff00u) << 8u) | ((word >> 8u) & 0xff00u) | (word >> 24u);
}

// `count` bits (1..=32) that start `skip` bits (0..=31) into the 64-bit MSB-first window
// `hi:lo`, right-aligned. Out-of-range arguments are clamped, never undefined shifts.
fn window_bits(hi: u32, lo: u32, skip: u32, count: u32) -> u32 {
    let s = min(skip, 31u);
    let c = clamp(count, 1u, 32u);
    let top = select((hi << s) | (lo >> (32u - s)), hi, s == 0u);
    return top >> (32u - c);
}
