// Fused DFloat11 GEMV, pass 1: y[b, r] = Σ_c W[r, c] · x[b, c] with W [rows, cols] BF16 given as
// one DF11 unit, in gemv_rows.wgsl's order (the BF16 and native GEMVs' order: the same matrix
// gives the same bits). The exponents are decoded as in decode.wgsl (codes.wgsl) and each
// weight is multiplied into a running sum instead of being stored: BF16 never reaches memory.
// f32 accumulation, f32 activations, batch 1..=8 (a uniform: one pipeline for all).
//
// This pass computes the chunk sums (each row cut into chunks of GEMV_CHUNK columns, products
// added one by one in column order from 0) and stores them to `partials`; pass 2
// (gemv_combine.wgsl) finishes the chunks that cross a block boundary and pass 3
// (gemv_tree.wgsl) adds each row's chunk sums in gemv_rows.wgsl's tree.
//
// A thread's weights (at most 64 consecutive ones) are cut at chunk starts. A chunk that starts
// inside the thread is summed from 0; the thread's first weights continue the chunk its
// predecessor left open (its running sum, handed over in workgroup memory). So a chunk is a
// chain of threads, and the block runs rounds: in round 0 every thread whose first weight
// starts a chunk (or that only continues the block's leading chunk, see below) runs; in each
// later round a thread whose predecessor has run takes its running sum and runs. Chains are at
// most 128 weights long, so rounds are few (about 128 / weights per thread).
//
// A block owns the chunks that start inside it. The chunk running into the block from the
// previous one (weights before the block's first chunk start) is skipped here: pass 2 adds them
// to the running sum the previous block leaves in its carry slot. A chunk still open at the
// block's end goes to that slot.
//
// `partials`: [blocks, MAX_BATCH] carries, then [MAX_BATCH, chunks] chunk sums.
//
// Bounds: codes.wgsl's; a thread's multiply loop stops after 64 weights, the rounds after
// THREADS_PER_BLOCK, and every write is checked against its buffer's length.

@group(0) @binding(6) var<storage, read> x: array<u32>;
// Declared for gemv_vectors.wgsl's helpers; this pass writes `partials` only.
@group(0) @binding(7) var<storage, read_write> y: array<f32>;
@group(0) @binding(8) var<storage, read_write> partials: array<f32>;

// One batch column of each thread's running sum, handed to its successor.
var<workgroup> handed: array<f32, THREADS_PER_BLOCK>;
// Whether each thread has run.
var<workgroup> ran: array<u32, THREADS_PER_BLOCK>;
// Whether any thread still waits, read uniformly to end the rounds; two slots, a round's
// reset after its first barrier so no invocation can still be reading it.
var<workgroup> waiting_any: array<u32, 2>;

// Weight j of this thread (stream index `index`) as f32.
fn weight(j: u32, index: u32) -> f32 {
    return bitcast<f32>(bf16_at(kept_exponent(j), index) << 16u);
}

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
    let base = params.blocks * MAX_BATCH + chunk_index(i);
    for (var b = 0u; b < min(params.batch, MAX_BATCH); b++) {
        let at = base + b * chunks;
        if (at < arrayLength(&partials)) {
            partials[at] = pick(sums.lo, sums.hi, b);
        }
    }
}

// Multiplies this thread's weights [range.x, range.y) from `owned` on, continuing `incoming`
// (the running sum of the chunk its first weight belongs to); stores every chunk that ends in
// the thread and returns the running sum of the one left open (zeros if none).
fn run_thread(range: vec2<u32>, owned: u32, incoming: Sums) -> Sums {
    var lo = incoming.lo;
    var hi = incoming.hi;
    let cols = max(params.cols, 1u);
    for (var j = 0u; j < min(range.y - range.x, THREAD_BITS); j++) {
        let i = range.x + j;
        if (i < owned) {
            continue;
        }
        let bounds = chunk_bounds(i);
        if (i == bounds.x) {
            lo = vec4<f32>();
            hi = vec4<f32>();
        }
        accumulate(weight(j, i), i % cols, &lo, &hi);
        if (i + 1u == bounds.y) {
            store_chunk(i, Sums(lo, hi));
        }
    }
    return Sums(lo, hi);
}

@compute @workgroup_size(THREADS_PER_BLOCK)
fn gemv(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    let block = wid.x;
    let count = decode_thread_codes(lid, block, params.n_luts);
    let range = thread_range(lid, block, count, params.n);
    let block_weights = block_range(block, params.n);

    // The block's first chunk start: weights before it belong to the previous block's chunk.
    let leading = chunk_bounds(block_weights.x);
    let owned = select(leading.y, block_weights.x, leading.x == block_weights.x);
    // A thread continues its predecessor's chunk if its first owned weight is not a chunk start.
    let first = max(range.x, owned);
    let continues = first < range.y && chunk_bounds(first).x != first;

    var waiting = continues;
    var sums = Sums(vec4<f32>(), vec4<f32>());
    if (!waiting) {
        sums = run_thread(range, owned, sums);
    }
    if (lid == 0u) {
        waiting_any[0] = 0u;
        waiting_any[1] = 0u;
    }
    for (var round = 0u; round < THREADS_PER_BLOCK; round++) {
        ran[lid] = select(1u, 0u, waiting);
        workgroupBarrier();
        if (lid == 0u) {
            waiting_any[(round + 1u) % 2u] = 0u;
        }
        // lid > 0 whenever `continues`: thread 0 starts at the block's first weight, which
        // either starts a chunk or lies before `owned`.
        let go = waiting && lid > 0u && ran[max(lid, 1u) - 1u] == 1u;
        var incoming = Sums(vec4<f32>(), vec4<f32>());
        for (var b = 0u; b < min(params.batch, MAX_BATCH); b++) {
            handed[lid] = pick(sums.lo, sums.hi, b);
            workgroupBarrier();
            let value = handed[max(lid, 1u) - 1u];
            if (b < 4u) {
                incoming.lo[b] = value;
            } else {
                incoming.hi[b - 4u] = value;
            }
            workgroupBarrier();
        }
        if (go) {
            sums = run_thread(range, owned, incoming);
            waiting = false;
        }
        if (waiting) {
            waiting_any[round % 2u] = 1u;
        }
        if (workgroupUniformLoad(&waiting_any[round % 2u]) == 0u) {
            break;
        }
    }

    // The chunk open at the block's end continues in the next block (pass 2).
    let last = block_weights.y;
    let open = range.x < range.y && range.y == last && chunk_bounds(last - 1u).y != last
        && last - 1u >= owned;
    if (open) {
        for (var b = 0u; b < min(params.batch, MAX_BATCH); b++) {
            let at = block * MAX_BATCH + b;
            if (at < arrayLength(&partials)) {
                partials[at] = pick(sums.lo, sums.hi, b);
            }
        }
    }
}
