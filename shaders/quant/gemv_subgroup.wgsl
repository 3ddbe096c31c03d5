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
    let stride = groups.x * subgroups;
    for (var row = wg.x * subgroups + sg; row < params.rows; row += stride) {
        let partials = row_partials(row, lane, lanes);
        let sums = Chunk(subgroupAdd(partials.lo), subgroupAdd(partials.hi));
        if (lane == 0u) {
            store_row(row, sums);
        }
    }
}
