// Shared core of the quantized GEMV, y[b, r] = Σ_c W[r, c] · x[b, c] for batch b < 8: a team of
// threads (a subgroup, or a slice of the workgroup) shares each row's units of 32 weights,
// decodes every unit once (`load_unit` of the weight layout) and uses it for all batch columns,
// so the weights stream from memory once whatever the batch. Each thread leaves one partial sum
// per column; the entry point (gemv_workgroup.wgsl or gemv_subgroup.wgsl) reduces them. f32
// accumulation.
//
// The batch is a uniform within a pipeline's class of batch sizes (`BATCH_COLUMNS`, whose
// columns past it are compiled out); the columns' sums live in the eight components of a
// `Chunk`.

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
    if (BATCH_COLUMNS > 1u && n > 1u) { (*sums).lo.y += dot8(w, x_chunk(1u, c)); }
    if (BATCH_COLUMNS > 2u && n > 2u) { (*sums).lo.z += dot8(w, x_chunk(2u, c)); }
    if (BATCH_COLUMNS > 3u && n > 3u) { (*sums).lo.w += dot8(w, x_chunk(3u, c)); }
    if (BATCH_COLUMNS > 4u && n > 4u) { (*sums).hi.x += dot8(w, x_chunk(4u, c)); }
    if (BATCH_COLUMNS > 5u && n > 5u) { (*sums).hi.y += dot8(w, x_chunk(5u, c)); }
    if (BATCH_COLUMNS > 6u && n > 6u) { (*sums).hi.z += dot8(w, x_chunk(6u, c)); }
    if (BATCH_COLUMNS > 7u && n > 7u) { (*sums).hi.w += dot8(w, x_chunk(7u, c)); }
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

// Partial sums of four rows: component r of `cb` is row r's sum for batch column b.
struct QuadSums {
    c0: vec4<f32>,
    c1: vec4<f32>,
    c2: vec4<f32>,
    c3: vec4<f32>,
    c4: vec4<f32>,
    c5: vec4<f32>,
    c6: vec4<f32>,
    c7: vec4<f32>,
}

// One chunk of each of four rows.
struct QuadChunks {
    a: Chunk,
    b: Chunk,
    c: Chunk,
    d: Chunk,
}

fn quad_dot(w: QuadChunks, x: Chunk) -> vec4<f32> {
    return vec4<f32>(dot8(w.a, x), dot8(w.b, x), dot8(w.c, x), dot8(w.d, x));
}

// Σ w·x over the 32 weights of a unit and its activations.
fn unit_dot(w: Unit, x: Unit) -> f32 {
    return dot8(w.c0, x.c0) + dot8(w.c1, x.c1) + dot8(w.c2, x.c2) + dot8(w.c3, x.c3);
}

// As `accumulate` for the same chunk of four rows, each activation chunk loaded once for all.
fn accumulate_quad(s: ptr<function, QuadSums>, w: QuadChunks, c: u32) {
    let n = params.batch;
    (*s).c0 += quad_dot(w, x_chunk(0u, c));
    if (BATCH_COLUMNS > 1u && n > 1u) { (*s).c1 += quad_dot(w, x_chunk(1u, c)); }
    if (BATCH_COLUMNS > 2u && n > 2u) { (*s).c2 += quad_dot(w, x_chunk(2u, c)); }
    if (BATCH_COLUMNS > 3u && n > 3u) { (*s).c3 += quad_dot(w, x_chunk(3u, c)); }
    if (BATCH_COLUMNS > 4u && n > 4u) { (*s).c4 += quad_dot(w, x_chunk(4u, c)); }
    if (BATCH_COLUMNS > 5u && n > 5u) { (*s).c5 += quad_dot(w, x_chunk(5u, c)); }
    if (BATCH_COLUMNS > 6u && n > 6u) { (*s).c6 += quad_dot(w, x_chunk(6u, c)); }
    if (BATCH_COLUMNS > 7u && n > 7u) { (*s).c7 += quad_dot(w, x_chunk(7u, c)); }
}

// As `row_partials` for rows `row` .. `row + 4` at once, so each activation chunk is loaded
// once for all four (at batch 1, activation words are otherwise several times the weight
// words). Rows past the last read the last row again; their sums are not stored.
fn row_quad_partials(row: u32, first: u32, step: u32) -> QuadSums {
    let zero = vec4<f32>();
    var s = QuadSums(zero, zero, zero, zero, zero, zero, zero, zero);
    let units = params.cols / UNIT;
    let last = params.rows - 1u;
    let r = vec4<u32>(row, min(row + 1u, last), min(row + 2u, last), min(row + 3u, last));
    for (var u = first; u < units; u += step) {
        let c = u * UNIT_CHUNKS;
        let wa = load_unit(r.x, u);
        let wb = load_unit(r.y, u);
        let wc = load_unit(r.z, u);
        let wd = load_unit(r.w, u);
        accumulate_quad(&s, QuadChunks(wa.c0, wb.c0, wc.c0, wd.c0), c);
        accumulate_quad(&s, QuadChunks(wa.c1, wb.c1, wc.c1, wd.c1), c + 1u);
        accumulate_quad(&s, QuadChunks(wa.c2, wb.c2, wc.c2, wd.c2), c + 2u);
        accumulate_quad(&s, QuadChunks(wa.c3, wb.c3, wc.c3, wd.c3), c + 3u);
    }
    return s;
}

// Row octets a subgroup takes at once at batch 1 (`row_octet_partials`): 32 rows.
const OCTETS: u32 = 4u;

// Partial sums of OCTETS × 8 rows at batch 1: component k of `o`i is row 8i + k's.
struct Octets {
    o0: Chunk,
    o1: Chunk,
    o2: Chunk,
    o3: Chunk,
}

// Unit `u` of rows `row` .. `row + 8` against its activations, which are loaded once for all
// eight (activation words, one scalar load each on lavapipe, drop to a quarter of the weights'
// per row): row k's product at component k. The rows' units are taken one at a time, so only
// one row's weights are live. Rows past the last read the last row again; their sums are not
// stored.
fn eight_rows_unit(row: u32, u: u32) -> Chunk {
    let last = params.rows - 1u;
    let a = min(vec4<u32>(row) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(last));
    let b = min(vec4<u32>(row + 4u) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(last));
    let c = u * UNIT_CHUNKS;
    let x = Unit(x_chunk(0u, c), x_chunk(0u, c + 1u), x_chunk(0u, c + 2u), x_chunk(0u, c + 3u));
    return Chunk(
        vec4<f32>(
            unit_dot(load_unit(a.x, u), x), unit_dot(load_unit(a.y, u), x),
            unit_dot(load_unit(a.z, u), x), unit_dot(load_unit(a.w, u), x),
        ),
        vec4<f32>(
            unit_dot(load_unit(b.x, u), x), unit_dot(load_unit(b.y, u), x),
            unit_dot(load_unit(b.z, u), x), unit_dot(load_unit(b.w, u), x),
        ),
    );
}

// `s` plus `p` where `on`.
fn add_where(s: Chunk, p: Chunk, on: bool) -> Chunk {
    return Chunk(s.lo + select(vec4<f32>(), p.lo, on), s.hi + select(vec4<f32>(), p.hi, on));
}

// Batch 1 (`BATCH_COLUMNS` 1): this thread's share of rows `row` .. `row + 8 · OCTETS`, the
// (octet, unit) pairs first, first + step, … of OCTETS × units. Splitting the pairs rather than
// each octet's units keeps the lanes evenly loaded whatever the units per row: at 576 columns
// (18 units) two of eight lanes took a third unit of every octet, a quarter of the time idle.
fn row_octet_partials(row: u32, first: u32, step: u32) -> Octets {
    let units = params.cols / UNIT;
    let zero = Chunk(vec4<f32>(), vec4<f32>());
    var s = Octets(zero, zero, zero, zero);
    for (var i = first; i < OCTETS * units; i += step) {
        let o = i / units;
        let p = eight_rows_unit(row + 8u * o, i - o * units);
        s = Octets(
            add_where(s.o0, p, o == 0u), add_where(s.o1, p, o == 1u),
            add_where(s.o2, p, o == 2u), add_where(s.o3, p, o == 3u),
        );
    }
    return s;
}

// Row r (0..4) of four rows' sums, as `row_partials` gives one row's.
fn quad_row(s: QuadSums, r: u32) -> Chunk {
    return Chunk(
        vec4<f32>(s.c0[r], s.c1[r], s.c2[r], s.c3[r]),
        vec4<f32>(s.c4[r], s.c5[r], s.c6[r], s.c7[r]),
    );
}
