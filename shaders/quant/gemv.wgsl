// Shared core of the quantized GEMV, y[b, r] = Σ_c W[r, c] · x[b, c] for batch b < 8: a team of
// threads (a subgroup, or a slice of the workgroup) shares each row's units of 32 weights,
// decodes every unit once (`load_unit` of the weight layout) and uses it for all batch columns,
// so the weights stream from memory once whatever the batch. Each thread leaves one partial sum
// per column; the entry point (gemv_workgroup.wgsl or gemv_subgroup.wgsl) reduces them. f32
// accumulation.
//
// The batch is a uniform, not a constant, so one pipeline serves every batch size; the columns'
// sums live in the eight components of a `Chunk`.

// Invocations per workgroup; a multiple of the portable path's threads per row.
override WORKGROUP_SIZE: u32 = 64u;

// `x` and `y`: activations.wgsl.

const MAX_BATCH: u32 = 8u;

fn dot8(w: Chunk, a: Chunk) -> f32 {
    return dot(w.lo, a.lo) + dot(w.hi, a.hi);
}

// Adds chunk `c` of the row (weights `w`) times every batch column's activations to `sums`
// (column b at component b of (lo, hi)). Written out per column rather than as a loop over an
// array, which some compilers (lavapipe's) keep in memory instead of registers.
fn accumulate(sums: ptr<function, Chunk>, w: Chunk, c: u32) {
    let n = params.batch;
    (*sums).lo.x += dot8(w, x_chunk(0u, c));
    if (n > 1u) { (*sums).lo.y += dot8(w, x_chunk(1u, c)); }
    if (n > 2u) { (*sums).lo.z += dot8(w, x_chunk(2u, c)); }
    if (n > 3u) { (*sums).lo.w += dot8(w, x_chunk(3u, c)); }
    if (n > 4u) { (*sums).hi.x += dot8(w, x_chunk(4u, c)); }
    if (n > 5u) { (*sums).hi.y += dot8(w, x_chunk(5u, c)); }
    if (n > 6u) { (*sums).hi.z += dot8(w, x_chunk(6u, c)); }
    if (n > 7u) { (*sums).hi.w += dot8(w, x_chunk(7u, c)); }
}

// This thread's share of row `row`, units (32 weights, `load_unit`) first, first + step, …: the
// partial dot product of each batch column b, at component b of (lo, hi).
fn row_partials(row: u32, first: u32, step: u32) -> Chunk {
    var sums = Chunk(vec4<f32>(), vec4<f32>());
    let units = params.cols / UNIT;
    for (var u = first; u < units; u += step) {
        let w = load_unit(row, u);
        let c = u * UNIT_CHUNKS;
        accumulate(&sums, w.c0, c);
        accumulate(&sums, w.c1, c + 1u);
        accumulate(&sums, w.c2, c + 2u);
        accumulate(&sums, w.c3, c + 3u);
    }
    return sums;
}

fn pick(sums: Chunk, b: u32) -> f32 {
    return select(sums.hi, sums.lo, b < 4u)[b % 4u];
}

// Writes the f32 sums of row `row` for every batch column (component b of `sums`).
fn store_row(row: u32, sums: Chunk) {
    for (var b = 0u; b < params.batch && b < MAX_BATCH; b++) {
        store_y(b, row, pick(sums, b));
    }
}

// Writes the sums of rows `row` (even) and `row + 1` for every batch column as f16 pairs.
fn store_row_pair(row: u32, first: Chunk, second: Chunk) {
    for (var b = 0u; b < params.batch && b < MAX_BATCH; b++) {
        store_y_pair(b, row, pick(first, b), pick(second, b));
    }
}

// Two rows' partial sums.
struct RowPair {
    a: Chunk,
    b: Chunk,
}

// As `accumulate` for the same chunk of two rows, each activation chunk loaded once for both.
fn accumulate_pair(a: ptr<function, Chunk>, b: ptr<function, Chunk>, wa: Chunk, wb: Chunk, c: u32) {
    let n = params.batch;
    let x0 = x_chunk(0u, c);
    (*a).lo.x += dot8(wa, x0);
    (*b).lo.x += dot8(wb, x0);
    if (n > 1u) { let x1 = x_chunk(1u, c); (*a).lo.y += dot8(wa, x1); (*b).lo.y += dot8(wb, x1); }
    if (n > 2u) { let x2 = x_chunk(2u, c); (*a).lo.z += dot8(wa, x2); (*b).lo.z += dot8(wb, x2); }
    if (n > 3u) { let x3 = x_chunk(3u, c); (*a).lo.w += dot8(wa, x3); (*b).lo.w += dot8(wb, x3); }
    if (n > 4u) { let x4 = x_chunk(4u, c); (*a).hi.x += dot8(wa, x4); (*b).hi.x += dot8(wb, x4); }
    if (n > 5u) { let x5 = x_chunk(5u, c); (*a).hi.y += dot8(wa, x5); (*b).hi.y += dot8(wb, x5); }
    if (n > 6u) { let x6 = x_chunk(6u, c); (*a).hi.z += dot8(wa, x6); (*b).hi.z += dot8(wb, x6); }
    if (n > 7u) { let x7 = x_chunk(7u, c); (*a).hi.w += dot8(wa, x7); (*b).hi.w += dot8(wb, x7); }
}

// As `row_partials` for rows `row` and `row + 1` at once, so each activation chunk is loaded
// once for both (at batch 1, activation words are otherwise as many as weight words). A missing
// second row reads as zeros.
fn row_pair_partials(row: u32, first: u32, step: u32) -> RowPair {
    var a = Chunk(vec4<f32>(), vec4<f32>());
    var b = a;
    let zero = Unit(a, a, a, a);
    let units = params.cols / UNIT;
    let second = row + 1u < params.rows;
    for (var u = first; u < units; u += step) {
        let wa = load_unit(row, u);
        var wb = zero;
        if (second) {
            wb = load_unit(row + 1u, u);
        }
        let c = u * UNIT_CHUNKS;
        accumulate_pair(&a, &b, wa.c0, wb.c0, c);
        accumulate_pair(&a, &b, wa.c1, wb.c1, c + 1u);
        accumulate_pair(&a, &b, wa.c2, wb.c2, c + 2u);
        accumulate_pair(&a, &b, wa.c3, wb.c3, c + 3u);
    }
    return RowPair(a, b);
}
