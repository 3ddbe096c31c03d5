// Subgroup GEMV entry: one subgroup per row, summed with subgroupAdd — no workgroup memory and
// no barriers. Subgroups walk the rows with a stride of all subgroups in the dispatch.

@compute @workgroup_size(WORKGROUP_SIZE)
fn gemv(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(subgroup_id) sg: u32,
    @builtin(num_subgroups) subgroups: u32,
    @builtin(subgroup_invocation_id) lane: u32,
    @builtin(subgroup_size) lanes: u32,
) {
    let stride = 2u * groups.x * subgroups;
    for (var row = 2u * (wg.x * subgroups + sg); row < params.rows; row += stride) {
        let p = row_pair_partials(row, lane, lanes);
        let a = Chunk(subgroupAdd(p.a.lo), subgroupAdd(p.a.hi));
        let b = Chunk(subgroupAdd(p.b.lo), subgroupAdd(p.b.hi));
        if (lane == 0u) {
            if (Y_F16) {
                store_row_pair(row, a, b);
            } else {
                store_row(row, a);
                if (row + 1u < params.rows) {
                    store_row(row + 1u, b);
                }
            }
        }
    }
}
