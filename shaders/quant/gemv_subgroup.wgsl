// Subgroup GEMV entry: one subgroup per four rows (8 · OCTETS at batch 1), summed with subgroupAdd —
// no workgroup memory and no barriers. Subgroups walk the rows with a stride of all subgroups in the dispatch.

@compute @workgroup_size(WORKGROUP_SIZE)
fn gemv(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(subgroup_id) sg: u32,
    @builtin(num_subgroups) subgroups: u32,
    @builtin(subgroup_invocation_id) lane: u32,
    @builtin(subgroup_size) lanes: u32,
) {
    // Rows per subgroup: 8 · OCTETS at batch 1 (`row_octet_partials`), else four.
    let batch_one = BATCH_COLUMNS == 1u;
    let rows_per = select(4u, 8u * OCTETS, batch_one);
    let stride = rows_per * groups.x * subgroups;
    for (var row = rows_per * (wg.x * subgroups + sg); row < params.rows; row += stride) {
        if (batch_one) {
            let p = row_octet_partials(row, lane, lanes);
            store_eight_rows(row, Chunk(subgroupAdd(p.o0.lo), subgroupAdd(p.o0.hi)), lane, lanes);
            store_eight_rows(row + 8u, Chunk(subgroupAdd(p.o1.lo), subgroupAdd(p.o1.hi)), lane, lanes);
            store_eight_rows(row + 16u, Chunk(subgroupAdd(p.o2.lo), subgroupAdd(p.o2.hi)), lane, lanes);
            store_eight_rows(row + 24u, Chunk(subgroupAdd(p.o3.lo), subgroupAdd(p.o3.hi)), lane, lanes);
        } else {
            let p = row_quad_partials(row, lane, lanes);
            let t = QuadSums(
                subgroupAdd(p.c0), subgroupAdd(p.c1), subgroupAdd(p.c2), subgroupAdd(p.c3),
                subgroupAdd(p.c4), subgroupAdd(p.c5), subgroupAdd(p.c6), subgroupAdd(p.c7),
            );
            if (lane == 0u) {
                store_four_rows(row, t);
            }
        }
    }
}

// Writes the batch-1 sums of rows `row` .. `row + 8` (component k of `t`: row + k), those that
// exist: lane l writes rows l, l + lanes, … (f32) or pairs 2l, 2l + 1, … (f16), one store per
// lane rather than eight from one lane (a store is a loop over the lanes on lavapipe).
fn store_eight_rows(row: u32, t: Chunk, lane: u32, lanes: u32) {
    if (Y_F16) {
        // Rows are even for f16 results, so rows come in whole pairs.
        for (var k = 2u * lane; k < 8u && row + k < params.rows; k += 2u * lanes) {
            store_y_pair(0u, row + k, component(t, k), component(t, k + 1u));
        }
    } else {
        for (var k = lane; k < 8u && row + k < params.rows; k += lanes) {
            store_y(0u, row + k, component(t, k));
        }
    }
}

// Writes the sums of rows `row` .. `row + 4` (`quad_row`) for every batch column, those that
// exist.
fn store_four_rows(row: u32, t: QuadSums) {
    let a = quad_row(t, 0u);
    let b = quad_row(t, 1u);
    let c = quad_row(t, 2u);
    let d = quad_row(t, 3u);
    if (Y_F16) {
        // Rows are even for f16 results, so rows row + 2 and row + 3 come together.
        store_row_pair(row, a, b);
        if (row + 2u < params.rows) {
            store_row_pair(row + 2u, c, d);
        }
    } else {
        store_row(row, a);
        if (row + 1u < params.rows) {
            store_row(row + 1u, b);
        }
        if (row + 2u < params.rows) {
            store_row(row + 2u, c);
        }
        if (row + 3u < params.rows) {
            store_row(row + 3u, d);
        }
    }
}
