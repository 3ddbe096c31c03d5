// Fused DFloat11 GEMV, pass 1: y[b, r] = Σ_c W[r, c] · x[b, c] with W [rows, cols] BF16 given as
// one DF11 unit. The exponents are decoded as in decode.wgsl (codes.wgsl), and each weight is
// multiplied into per-row sums instead of being stored: BF16 never reaches memory. f32
// accumulation, f32 activations, batch 1..=8 (the batch is a uniform: one pipeline for all).
//
// A thread's weights (at most 64 consecutive ones) split at row ends into segments. Its middle
// segments are whole rows it owns alone: it writes their sums to `y` directly. Its first (head)
// and last (tail) segment may share their row with other threads; they become two "pieces" in
// workgroup memory, in stream order, labelled with their row (an empty tail or thread gives a
// zero piece). Each row's pieces are summed in order in two steps (runs of up to RUN pieces,
// then the runs, by the invocation holding the row's first piece); a row that lies wholly inside the block goes to `y`, the block's first and last rows
// (which may continue in other blocks) go to `partials[block][0 or 1]`, and pass 2
// (gemv_combine.wgsl) adds those across blocks. Every sum has a fixed order: the result is
// deterministic.
//
// Bounds: codes.wgsl's; the multiply loop stops after 64 weights, the piece loops after
// RUN and 2·THREADS_PER_BLOCK / RUN pieces, and every write is checked against `rows` and
// its buffer's length.

// Activations [batch, cols] and results [batch, rows], f32 (helpers in gemv_vectors.wgsl).
@group(0) @binding(6) var<storage, read> x: array<u32>;
@group(0) @binding(7) var<storage, read_write> y: array<f32>;
// Per block, the sums of its first and last rows: [blocks, 2, MAX_BATCH].
@group(0) @binding(8) var<storage, read_write> partials: array<f32>;

// Pieces: row and, one batch column at a time, sum of each thread's head (2t) and tail (2t+1).
var<workgroup> piece_rows: array<u32, 2u * THREADS_PER_BLOCK>;
var<workgroup> piece_sums: array<f32, 2u * THREADS_PER_BLOCK>;
// Pieces a first reduction step adds serially (see `reduce_run`).
const RUN: u32 = 8u;

// Whether piece `p` is the first of its row.
fn row_starts(p: u32) -> bool {
    return p == 0u || piece_rows[p - 1u] != piece_rows[p];
}

// Step 1 of the row sums: a piece that starts a run (first of its row, or at a multiple of
// RUN) adds the run's pieces up to the next multiple of RUN or the row's end into its own
// slot. Runs are disjoint, so no slot is read by one invocation and written by another.
fn reduce_run(p: u32) {
    if (p % RUN != 0u && !row_starts(p)) {
        return;
    }
    let r = piece_rows[p];
    var sum = piece_sums[p];
    for (var q = p + 1u; q < min(p - p % RUN + RUN, 2u * THREADS_PER_BLOCK); q++) {
        if (piece_rows[q] != r) {
            break;
        }
        sum += piece_sums[q];
    }
    piece_sums[p] = sum;
}

// Step 2: if piece `p` is the first of its row in the block, adds the row's run sums (its own
// and those at multiples of RUN) of batch column `b` and stores them: to `y` when the row lies
// inside `range` (the block's weights), else to the block's slot for its first (0) or last (1)
// row.
fn reduce_row(p: u32, b: u32, block: u32, range: vec2<u32>, cols: u32) {
    let r = piece_rows[p];
    let first_row = range.x / cols;
    let last_row = (max(range.y, 1u) - 1u) / cols;
    if (range.y <= range.x || r < first_row || r > last_row) {
        return;
    }
    if (!row_starts(p)) {
        return;
    }
    var sum = piece_sums[p];
    for (var q = p - p % RUN + RUN; q < 2u * THREADS_PER_BLOCK; q += RUN) {
        if (piece_rows[q] != r) {
            break;
        }
        sum += piece_sums[q];
    }
    let row_start = r * cols;
    if (row_start >= range.x && row_start + cols <= range.y) {
        store_y(b, r, sum);
        return;
    }
    let i = (block * 2u + select(1u, 0u, r == first_row)) * MAX_BATCH + b;
    if (i < arrayLength(&partials)) {
        partials[i] = sum;
    }
}

// Weight j of this thread (stream index `index`) as f32.
fn weight(j: u32, index: u32) -> f32 {
    return bitcast<f32>(bf16_at(kept_exponent(j), index) << 16u);
}

@compute @workgroup_size(THREADS_PER_BLOCK)
fn gemv(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    let block = wid.x;
    let count = decode_thread_codes(lid, block, params.n_luts);
    let range = thread_range(lid, block, count, params.n);
    let cols = max(params.cols, 1u);

    // Multiply. The head segment first, in a loop with no row logic (the common case: with
    // long rows a thread's weights rarely reach the next row); then the rest, which starts a
    // row: its whole rows go to `y`, its last segment is the tail.
    let weights = range.y - range.x;
    let head_row = range.x / cols;
    let first_col = range.x % cols;
    let head_len = min(weights, cols - first_col);
    var head_lo = vec4<f32>();
    var head_hi = vec4<f32>();
    for (var j = 0u; j < min(head_len, THREAD_BITS); j++) {
        accumulate(weight(j, range.x + j), first_col + j, &head_lo, &head_hi);
    }
    var row = head_row + 1u;
    var col = 0u;
    var tail_lo = vec4<f32>();
    var tail_hi = vec4<f32>();
    for (var j = head_len; j < min(weights, THREAD_BITS); j++) {
        if (col >= cols) {
            store_row(row, tail_lo, tail_hi);
            tail_lo = vec4<f32>();
            tail_hi = vec4<f32>();
            row++;
            col = 0u;
        }
        accumulate(weight(j, range.x + j), col, &tail_lo, &tail_hi);
        col++;
    }
    let tail_row = select(head_row, row, weights > head_len);

    // Reduce the pieces, one batch column at a time (workgroup memory holds one).
    piece_rows[2u * lid] = head_row;
    piece_rows[2u * lid + 1u] = tail_row;
    let block_weights = block_range(block, params.n);
    for (var b = 0u; b < min(params.batch, MAX_BATCH); b++) {
        piece_sums[2u * lid] = pick(head_lo, head_hi, b);
        piece_sums[2u * lid + 1u] = pick(tail_lo, tail_hi, b);
        workgroupBarrier();
        reduce_run(2u * lid);
        reduce_run(2u * lid + 1u);
        workgroupBarrier();
        reduce_row(2u * lid, b, block, block_weights, cols);
        reduce_row(2u * lid + 1u, b, block, block_weights, cols);
        workgroupBarrier();
    }
}
