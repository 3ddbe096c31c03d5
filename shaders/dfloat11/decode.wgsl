// DFloat11 decode: Huffman-coded BF16 exponents + raw sign/mantissa bytes -> BF16, bit-exact
// (format in `crates/squeeze-dfloat11/src/lib.rs`). The pass over the codes, the bindings of
// the unit and its bounds are codes.wgsl's; this part writes the decoded weights.
//
// Outputs are 16-bit but storage is u32, and a thread's first or last weight may share a word
// with a neighbour's. No atomics and no zeroed output are needed: a thread writes exactly the
// words whose low (even) weight is its own; for its last weight at an even index it uses the
// one code more that codes.wgsl decodes (the first of the next thread) to fill the high half,
// and it skips its first weight at an odd index (the previous thread wrote it). Every word has
// one writer as long as `output_positions` never decreases, which the host checks before
// anything is recorded (`format.rs` rejects decreasing entries with a typed error).
//
// Bounds: the write loop stops after 33 words (65 weights) and every write is checked against `params.n`
// and the output's length, so corrupt data handed straight to the kernel cannot hang or write
// outside its output; with decreasing positions, blocks overlap and may race on words inside it.

struct Params {
    // Weights to produce.
    n: u32,
    // Workgroups launched: len(output_positions) - 1.
    blocks: u32,
    // Rows of `luts`, the length row included.
    n_luts: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(6) var<storage, read_write> bf16_out: array<u32>;

fn store_pair(word: u32, value: u32) {
    if (word < arrayLength(&bf16_out)) {
        bf16_out[word] = value;
    }
}

@compute @workgroup_size(THREADS_PER_BLOCK)
fn decode(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    let count = decode_thread_codes(lid, wid.x, params.n_luts);
    let range = thread_range(lid, wid.x, count, params.n);
    let start = range.x;
    let end = range.y;

    // Write whole words (see the header): each word whose low (even) weight is in
    // start..end, its high weight from the next exponent kept (the look-ahead code for the
    // last). Both weights' sign/mantissa bytes come from one word of `sign_mantissa`.
    let first = (start + 1u) / 2u;
    let last = min((end + 1u) / 2u, first + THREAD_BITS / 2u + 1u);
    for (var w = first; w < last; w++) {
        let index = 2u * w;
        let j = index - start;
        let sm = sign_mantissa_word(index / 4u) >> ((index & 2u) * 8u);
        let low = bf16_bits(kept_exponent(j), sm);
        var high = 0u;
        if (index + 1u < params.n) {
            high = bf16_bits(kept_exponent(j + 1u), sm >> 8u);
        }
        store_pair(w, low | (high << 16u));
    }
}
