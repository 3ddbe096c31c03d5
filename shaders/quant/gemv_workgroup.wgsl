// Portable GEMV entry: the workgroup takes WORKGROUP_SIZE / ROW_THREADS rows per pass, each shared
// by ROW_THREADS threads, and reduces all of them with one tree in workgroup memory, so barriers
// are paid per pass, not per row.

// Threads per row: a power of two (tree reduction).
const ROW_THREADS: u32 = 16u;

var<workgroup> partial_lo: array<vec4<f32>, WORKGROUP_SIZE>;
var<workgroup> partial_hi: array<vec4<f32>, WORKGROUP_SIZE>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn gemv(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let rows_per_pass = WORKGROUP_SIZE / ROW_THREADS;
    let row_in_pass = lid / ROW_THREADS;
    let lane = lid % ROW_THREADS;
    for (var first = wg.x * rows_per_pass; first < params.rows; first += groups.x * rows_per_pass) {
        let row = first + row_in_pass;
        var partials = Chunk(vec4<f32>(), vec4<f32>());
        if (row < params.rows) {
            partials = row_partials(row, lane, ROW_THREADS);
        }
        partial_lo[lid] = partials.lo;
        partial_hi[lid] = partials.hi;
        workgroupBarrier();
        for (var half = ROW_THREADS / 2u; half > 0u; half /= 2u) {
            if (lane < half) {
                partial_lo[lid] += partial_lo[lid + half];
                partial_hi[lid] += partial_hi[lid + half];
            }
            workgroupBarrier();
        }
        if (lane == 0u && row < params.rows) {
            let sums = Chunk(partial_lo[lid], partial_hi[lid]);
            if (!Y_F16) {
                store_row(row, sums);
            } else if (row_in_pass % 2u == 0u) {
                // The next row's sums are its team's lane 0 (rows per pass is even, and f16
                // outputs have an even row count, so the pair is whole).
                let next = lid + ROW_THREADS;
                store_row_pair(row, sums, Chunk(partial_lo[next], partial_hi[next]));
            }
        }
        workgroupBarrier();
    }
}
