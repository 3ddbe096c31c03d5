// Subgroup GEMM for adapters whose subgroups are CPU SIMD vectors (lavapipe: 8 lanes of 32 bits
// in a 256-bit register). There a load whose address differs between lanes is a loop over the
// lanes, one scalar at a time, and it bounds the tiled GEMM (gemm.wgsl reads eight vec4 of
// workgroup memory per sixteen dot products). Here every value is loaded by one lane only and
// handed to the others by `subgroupBroadcast` from a constant lane, a register move there.
//
// A workgroup is one subgroup of eight lanes and owns a tile of 64 rows × 32 batch columns at a
// time: lane l decodes rows 8l .. 8l + 8 of it (so each weight is decoded once per 32 columns),
// and for each group of 8 columns, lanes 0..8 load one column's activations and every lane takes
// all eight by broadcast (so each activation is loaded once per tile). Per chunk of 8
// inner-dimension steps a lane does 8 rows × 32 columns × 8 products from 8 decoded chunks and 4
// loaded ones. f32 accumulation; workgroups walk the tiles, rows first, with a stride of the
// dispatch's workgroups. Needs subgroups of at least 8 lanes (the host checks), so that the
// workgroup is one subgroup. Tuned on lavapipe (4096² × 128 q4_0: 102 ms, against 108 ms with 6
// × 48 tiles, 116 ms with 4 × 128 and 620 ms for the tiled kernel). A workgroup of eight
// subgroups (eight tiles at a time) took as long at 4096² but 13.8 ms against 10.2 ms at
// SmolLM2's 3072 × 576 × 128 tokens (whose tiles it spread less evenly over a CPU's threads).

// Lanes per workgroup: one subgroup.
const LANES: u32 = 8u;
// Consecutive rows each lane owns (even, so f16 results pair within a lane).
const ROWS_PER_LANE: u32 = 8u;
// Batch columns per tile: GROUPS groups of 8, one column per lane 0..8 in each.
const GROUPS: u32 = 4u;
const TILE_COLUMNS: u32 = 8u * GROUPS;

// Eight activation chunks: column j of a group, one chunk of the inner dimension.
struct Columns {
    c0: Chunk,
    c1: Chunk,
    c2: Chunk,
    c3: Chunk,
    c4: Chunk,
    c5: Chunk,
    c6: Chunk,
    c7: Chunk,
}

// One chunk of each of a lane's 8 rows.
struct Weights {
    w0: Chunk,
    w1: Chunk,
    w2: Chunk,
    w3: Chunk,
    w4: Chunk,
    w5: Chunk,
    w6: Chunk,
    w7: Chunk,
}

// A lane's 8 rows × one group's 8 columns: each row's sums as a Chunk, component j column j.
struct Block {
    r0: Chunk,
    r1: Chunk,
    r2: Chunk,
    r3: Chunk,
    r4: Chunk,
    r5: Chunk,
    r6: Chunk,
    r7: Chunk,
}

// Lane j's chunk, for every lane.
fn columns(v: Chunk) -> Columns {
    return Columns(
        Chunk(subgroupBroadcast(v.lo, 0u), subgroupBroadcast(v.hi, 0u)),
        Chunk(subgroupBroadcast(v.lo, 1u), subgroupBroadcast(v.hi, 1u)),
        Chunk(subgroupBroadcast(v.lo, 2u), subgroupBroadcast(v.hi, 2u)),
        Chunk(subgroupBroadcast(v.lo, 3u), subgroupBroadcast(v.hi, 3u)),
        Chunk(subgroupBroadcast(v.lo, 4u), subgroupBroadcast(v.hi, 4u)),
        Chunk(subgroupBroadcast(v.lo, 5u), subgroupBroadcast(v.hi, 5u)),
        Chunk(subgroupBroadcast(v.lo, 6u), subgroupBroadcast(v.hi, 6u)),
        Chunk(subgroupBroadcast(v.lo, 7u), subgroupBroadcast(v.hi, 7u)),
    );
}

// Column `column`'s chunk `c` as this lane loads it for its group (zeros past the batch), and
// every lane's.
fn group_columns(column: u32, c: u32) -> Columns {
    var own = Chunk(vec4<f32>(), vec4<f32>());
    if (column < params.batch) {
        own = x_chunk(column, c);
    }
    return columns(own);
}

// Chunk `c` of `row`, zeros past the last row.
fn weights(row: u32, c: u32) -> Chunk {
    if (row < params.rows) {
        return load_chunk(row, c);
    }
    return Chunk(vec4<f32>(), vec4<f32>());
}

fn lane_weights(row: u32, c: u32) -> Weights {
    return Weights(
        weights(row, c), weights(row + 1u, c), weights(row + 2u, c), weights(row + 3u, c),
        weights(row + 4u, c), weights(row + 5u, c), weights(row + 6u, c), weights(row + 7u, c),
    );
}

fn dot8(a: Chunk, b: Chunk) -> f32 {
    return dot(a.lo, b.lo) + dot(a.hi, b.hi);
}

// `s` plus weight chunk `w` against each column.
fn mac(s: Chunk, w: Chunk, x: Columns) -> Chunk {
    return Chunk(
        s.lo + vec4<f32>(dot8(w, x.c0), dot8(w, x.c1), dot8(w, x.c2), dot8(w, x.c3)),
        s.hi + vec4<f32>(dot8(w, x.c4), dot8(w, x.c5), dot8(w, x.c6), dot8(w, x.c7)),
    );
}

fn mac_block(s: Block, w: Weights, x: Columns) -> Block {
    return Block(
        mac(s.r0, w.w0, x), mac(s.r1, w.w1, x), mac(s.r2, w.w2, x), mac(s.r3, w.w3, x),
        mac(s.r4, w.w4, x), mac(s.r5, w.w5, x), mac(s.r6, w.w6, x), mac(s.r7, w.w7, x),
    );
}

// Writes rows `row`, `row + 1` of the group's columns from `b0`, those that exist.
fn store_pair(b0: u32, row: u32, first: Chunk, second: Chunk) {
    for (var j = 0u; j < 8u && b0 + j < params.batch; j++) {
        let a = component(first, j);
        let b = component(second, j);
        if (Y_F16) {
            if (row < params.rows) {
                store_y_pair(b0 + j, row, a, b);
            }
        } else {
            if (row < params.rows) {
                store_y(b0 + j, row, a);
            }
            if (row + 1u < params.rows) {
                store_y(b0 + j, row + 1u, b);
            }
        }
    }
}

fn store_block(b0: u32, row: u32, s: Block) {
    store_pair(b0, row, s.r0, s.r1);
    store_pair(b0, row + 2u, s.r2, s.r3);
    store_pair(b0, row + 4u, s.r4, s.r5);
    store_pair(b0, row + 6u, s.r6, s.r7);
}

@compute @workgroup_size(LANES)
fn gemm(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(subgroup_invocation_id) lane: u32,
) {
    let tile_rows = ROWS_PER_LANE * LANES;
    let row_tiles = (params.rows + tile_rows - 1u) / tile_rows;
    let tiles = row_tiles * ((params.batch + TILE_COLUMNS - 1u) / TILE_COLUMNS);
    let chunks = params.cols / CHUNK;
    let zero = Chunk(vec4<f32>(), vec4<f32>());
    let empty = Block(zero, zero, zero, zero, zero, zero, zero, zero);
    for (var t = wg.x; t < tiles; t += groups.x) {
        let row = (t % row_tiles) * tile_rows + lane * ROWS_PER_LANE;
        let b0 = (t / row_tiles) * TILE_COLUMNS;
        var g0 = empty;
        var g1 = empty;
        var g2 = empty;
        var g3 = empty;
        for (var c = 0u; c < chunks; c++) {
            let w = lane_weights(row, c);
            g0 = mac_block(g0, w, group_columns(b0 + lane, c));
            g1 = mac_block(g1, w, group_columns(b0 + 8u + lane, c));
            g2 = mac_block(g2, w, group_columns(b0 + 16u + lane, c));
            g3 = mac_block(g3, w, group_columns(b0 + 24u + lane, c));
        }
        store_block(b0, row, g0);
        store_block(b0 + 8u, row, g1);
        store_block(b0 + 16u, row, g2);
        store_block(b0 + 24u, row, g3);
    }
}
