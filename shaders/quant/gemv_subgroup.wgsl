// Subgroup GEMV entry: one subgroup per four rows, summed with subgroupAdd — no workgroup memory
// and no barriers. Subgroups walk the rows with a stride of all subgroups in the dispatch.

@compute @workgroup_size(WORKGROUP_SIZE)
fn gemv(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(subgroup_id) sg: u32,
    @builtin(num_subgroups) subgroups: u32,
    @builtin(subgroup_invocation_id) lane: u32,
    @builtin(subgroup_size) lanes: u32,
) {
    let stride = 4u * groups.x * subgroups;
    for (var row = 4u * (wg.x * subgroups + sg); row < params.rows; row += stride) {
        let p = row_quad_partials(row, lane, lanes);
        let t = QuadSums(
            subgroupAdd(p.c0), subgroupAdd(p.c1), subgroupAdd(p.c2), subgroupAdd(p.c3),
            subgroupAdd(p.c4), subgroupAdd(p.c5), subgroupAdd(p.c6), subgroupAdd(p.c7),
        );
        let a = quad_row(t, 0u);
        let b = quad_row(t, 1u);
        let c = quad_row(t, 2u);
        let d = quad_row(t, 3u);
        if (lane == 0u) {
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
    }
}
