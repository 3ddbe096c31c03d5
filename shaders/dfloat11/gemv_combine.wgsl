// Fused DFloat11 GEMV, pass 2: the chunks that cross a DF11 block boundary. Pass 1 (gemv.wgsl)
// left the running sum of such a chunk, over its weights in the earlier block, in that block's
// carry slot; one invocation per later block decodes the block's first codes in stream order
// (the same codes its threads decode, read from the block's first code on) and adds the chunk's
// remaining products to the carry, one by one through gemv_vectors.wgsl's `accumulate`, then
// stores the chunk's sum where pass 3 (gemv_tree.wgsl) reads it. A block starting at a chunk
// start has nothing to do.
//
// Bounds: the decode loop stops after GEMV_CHUNK codes, a table chain after four lookups, and
// every read and write is checked against its buffer's length.

@group(0) @binding(6) var<storage, read> x: array<u32>;
// Declared for gemv_vectors.wgsl's helpers; this pass writes `partials` only.
@group(0) @binding(7) var<storage, read_write> y: array<f32>;
@group(0) @binding(8) var<storage, read_write> partials: array<f32>;

fn chunks_per_row() -> u32 {
    return (max(params.cols, 1u) + GEMV_CHUNK - 1u) / GEMV_CHUNK;
}

@compute @workgroup_size(THREADS_PER_BLOCK)
fn combine(
    @builtin(local_invocation_index) lid: u32,
    @builtin(global_invocation_id) gid: vec3<u32>,
) {
    // The decode tables, as pass 1 loads them.
    let rows = clamp(params.n_luts, 2u, LUT_ROWS);
    let lut_words = min(rows * 64u, arrayLength(&luts));
    for (var i = lid; i < LUT_WORDS; i += THREADS_PER_BLOCK) {
        var word = 0u;
        if (i < lut_words) {
            word = luts[i];
        }
        lut[i] = word;
    }
    workgroupBarrier();
    let length_row = rows - 1u;

    // Block `gid.x + 1`, continuing block `gid.x`'s open chunk.
    let block = gid.x + 1u;
    if (block >= params.blocks) {
        return;
    }
    let start = block_range(block, params.n).x;
    let cols = max(params.cols, 1u);
    let col = start % cols;
    let chunk_col = col / GEMV_CHUNK * GEMV_CHUNK;
    if (start >= params.n || col == chunk_col) {
        return;
    }
    let end = start - col + min(chunk_col + GEMV_CHUNK, cols);
    var lo = vec4<f32>();
    var hi = vec4<f32>();
    let carry = gid.x * MAX_BATCH;
    for (var b = 0u; b < min(params.batch, MAX_BATCH); b++) {
        var value = 0.0;
        if (carry + b < arrayLength(&partials)) {
            value = partials[carry + b];
        }
        if (b < 4u) {
            lo[b] = value;
        } else {
            hi[b - 4u] = value;
        }
    }
    // The block's first code: its first thread's gap into its 64 bits (word 2t). The position
    // is a word and a bit, so streams past 2^32 bits are read right.
    let first_thread = block * THREADS_PER_BLOCK;
    var word = 2u * first_thread;
    var bit = thread_gap(first_thread);
    for (var i = start; i < min(end, start + GEMV_CHUNK); i++) {
        let bits = window_bits(code_word(word), code_word(word + 1u), bit, 32u);
        let symbol = decode_symbol(bits, length_row);
        bit += symbol.y;
        word += bit / 32u;
        bit %= 32u;
        let w = bitcast<f32>(bf16_at(symbol.x, i) << 16u);
        accumulate(w, i % cols, &lo, &hi);
    }
    let chunks = params.rows * chunks_per_row();
    let base = params.blocks * MAX_BATCH + (start / cols) * chunks_per_row() + chunk_col / GEMV_CHUNK;
    for (var b = 0u; b < min(params.batch, MAX_BATCH); b++) {
        let at = base + b * chunks;
        if (at < arrayLength(&partials)) {
            partials[at] = pick(lo, hi, b);
        }
    }
}
