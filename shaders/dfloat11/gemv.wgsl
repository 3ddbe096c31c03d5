// Fused DFloat11 GEMV, pass 1: y[b, r] = Σ_c W[r, c] · x[b, c] with W [rows, cols] BF16 given as
// one DF11 unit, in gemv_rows.wgsl's order (the BF16 and native GEMVs' order: the same matrix
// gives the same bits). The exponents are decoded as in decode.wgsl (codes.wgsl) and each
// weight is multiplied into a running sum instead of being stored: BF16 never reaches memory.
// f32 accumulation, f32 activations, batch 1..=8 (a uniform: one pipeline for all).
//
// This pass computes the chunk sums (each row cut into chunks of GEMV_CHUNK columns, products
// added one by one in column order from 0) and stores them to `partials`; pass 2
// (gemv_tree.wgsl) adds each row's chunk sums in gemv_rows.wgsl's tree.
//
// A chunk is summed by one invocation of the block in which its first weight lies: the thread
// holding that weight knows where its code starts in the stream (the thread's gap plus the
// lengths of its codes before it) and lists it in workgroup memory (slots from a block scan
// of the threads' chunk counts); invocation k then decodes the k-th listed chunk's codes one
// after another — past the thread's 64 bits and past the block's end where the chunk goes on
// (the stream is contiguous) — adding each product in column order. No running sum crosses
// invocations or blocks, at the cost of decoding each weight twice.
//
// `partials`: the chunk sums, [MAX_BATCH, chunks].
//
// Bounds: codes.wgsl's; a thread's loop stops after 64 weights, a chunk's after GEMV_CHUNK
// codes, and every read and write is checked against its buffer's length.

@group(0) @binding(6) var<storage, read> x: array<u32>;
// Declared for gemv_vectors.wgsl's helpers; this pass writes `partials` only.
@group(0) @binding(7) var<storage, read_write> y: array<f32>;
@group(0) @binding(8) var<storage, read_write> partials: array<f32>;

// The chunks starting in the block, one pass's worth: (first weight − the block's first) << 16 |
// (bit of its code − the block's first bit); both below 2^15 (a block has 2^15 bits).
var<workgroup> chunk_starts: array<u32, THREADS_PER_BLOCK>;
// Chunks starting in the block.
var<workgroup> chunk_total: u32;

fn chunks_per_row() -> u32 {
    return (max(params.cols, 1u) + GEMV_CHUNK - 1u) / GEMV_CHUNK;
}

// First weight of the chunk holding weight i, and its end.
fn chunk_bounds(i: u32) -> vec2<u32> {
    let cols = max(params.cols, 1u);
    let row_start = i - i % cols;
    let first = row_start + (i % cols) / GEMV_CHUNK * GEMV_CHUNK;
    return vec2<u32>(first, min(first + GEMV_CHUNK, row_start + cols));
}

// Index in the chunk sums of the chunk holding weight i.
fn chunk_index(i: u32) -> u32 {
    let cols = max(params.cols, 1u);
    return (i / cols) * chunks_per_row() + (i % cols) / GEMV_CHUNK;
}

fn store_chunk(i: u32, sums: Sums) {
    let chunks = params.rows * chunks_per_row();
    let base = chunk_index(i);
    for (var b = 0u; b < min(params.batch, MAX_BATCH); b++) {
        let at = base + b * chunks;
        if (at < arrayLength(&partials)) {
            partials[at] = pick(sums.lo, sums.hi, b);
        }
    }
}

// Sums the chunk whose first weight is `first` (index `first` of the stream), its code starting
// at bit `bit` of stream word `word`: decodes the chunk's codes in order and adds each product
// from 0, then stores the chunk's sums.
fn multiply_chunk_at(first: u32, start_word: u32, start_bit: u32, length_row: u32) {
    let cols = max(params.cols, 1u);
    let end = chunk_bounds(first).y;
    let first_col = first % cols;
    // A reader as the native GEMV's: two stream words, the next code at `bit` of the first; a
    // code is at most 32 bits, so each one loads at most one word.
    var word = start_word;
    var bit = start_bit;
    var first_word = code_word(word);
    var second_word = code_word(word + 1u);
    var lo = vec4<f32>();
    var hi = vec4<f32>();
    for (var i = first; i < min(end, first + GEMV_CHUNK); i++) {
        let symbol = decode_symbol(window_bits(first_word, second_word, bit, 32u), length_row);
        bit += max(symbol.y, 1u);
        if (bit >= 32u) {
            bit -= 32u;
            word++;
            first_word = second_word;
            second_word = code_word(word + 1u);
        }
        accumulate(bitcast<f32>(bf16_at(symbol.x, i) << 16u), first_col + (i - first), &lo, &hi);
    }
    store_chunk(first, Sums(lo, hi));
}

// A chunk list entry: the chunk's first weight and the bit of its code, both relative to the
// block (15 bits each: a block has 2^15 bits).
fn chunk_entry(weight: u32, word: u32, bit: u32, block_word: u32) -> u32 {
    return (weight << 16u) | ((((word - block_word) * 32u) + bit) & 0xffffu);
}

@compute @workgroup_size(THREADS_PER_BLOCK)
fn gemv(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    let block = wid.x;
    let count = decode_thread_codes(lid, block, params.n_luts);
    let range = thread_range(lid, block, count, params.n);
    let length_row = clamp(params.n_luts, 2u, LUT_ROWS) - 1u;
    let weights = min(range.y - range.x, THREAD_BITS);
    // Columns advance with a counter (no division per weight); a chunk starts at a column that
    // is a multiple of GEMV_CHUNK (a power of two).
    let cols = max(params.cols, 1u);
    let first_col = range.x % cols;
    let block_start = block_range(block, params.n).x;
    let block_word = 2u * block * THREADS_PER_BLOCK;
    let t = block * THREADS_PER_BLOCK + lid;
    // Count the chunks starting in the thread, keeping the first one's list entry (most threads
    // hold at most one: they need not walk their codes again below).
    var starts = 0u;
    var first_entry = 0u;
    var col = first_col;
    var word = 2u * t;
    var bit = thread_gap(t);
    for (var j = 0u; j < weights; j++) {
        if ((col & (GEMV_CHUNK - 1u)) == 0u) {
            if (starts == 0u) {
                first_entry = chunk_entry(range.x + j - block_start, word, bit, block_word);
            }
            starts++;
        }
        bit += lut_byte(length_row, kept_exponent(j));
        word += bit / 32u;
        bit %= 32u;
        col++;
        if (col == cols) {
            col = 0u;
        }
    }
    // The scan's workgroup memory is reused: everyone is past the first scan.
    workgroupBarrier();
    let before = block_exclusive_scan(lid, starts);
    if (lid == THREADS_PER_BLOCK - 1u) {
        chunk_total = before + starts;
    }
    let total = workgroupUniformLoad(&chunk_total);
    // Passes of THREADS_PER_BLOCK chunks (one unless rows are very short): each thread lists
    // the chunks starting in it whose slot falls in the pass, then each invocation sums one.
    for (var round = 0u; round <= THREAD_BITS && round * THREADS_PER_BLOCK < total; round++) {
        let first_slot = round * THREADS_PER_BLOCK;
        let in_round = before >= first_slot && before < first_slot + THREADS_PER_BLOCK;
        if (starts == 1u && in_round) {
            chunk_starts[before - first_slot] = first_entry;
        }
        word = 2u * t;
        bit = thread_gap(t);
        var slot = before;
        col = first_col;
        for (var j = 0u; j < select(0u, weights, starts > 1u); j++) {
            if ((col & (GEMV_CHUNK - 1u)) == 0u) {
                if (slot >= first_slot && slot < first_slot + THREADS_PER_BLOCK) {
                    chunk_starts[slot - first_slot] =
                        chunk_entry(range.x + j - block_start, word, bit, block_word);
                }
                slot++;
            }
            bit += lut_byte(length_row, kept_exponent(j));
            word += bit / 32u;
            bit %= 32u;
            col++;
            if (col == cols) {
                col = 0u;
            }
        }
        workgroupBarrier();
        if (first_slot + lid < total) {
            let packed = chunk_starts[lid];
            let bits = packed & 0xffffu;
            multiply_chunk_at(block_start + (packed >> 16u), block_word + bits / 32u, bits % 32u,
                length_row);
        }
        workgroupBarrier();
    }
}
