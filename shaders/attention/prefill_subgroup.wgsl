// Causal prefill attention for adapters whose subgroups are CPU SIMD vectors (lavapipe: 8 lanes
// of 32 bits in a 256-bit register); prefill_rows.wgsl has the contract. There a load whose
// address differs between lanes is a loop over the lanes, one scalar at a time, and it bounds
// the portable kernel (prefill.wgsl reads two vec4 of workgroup memory per four products). Here
// a lane owns one query row and keys come in blocks of eight by broadcast (key_blocks.wgsl); a
// subgroup holds `lanes` consecutive rows of one KV head, a workgroup 64 rows whatever the
// subgroup size. Online softmax per lane, rescaled once per block. The keys end at the
// subgroup's last row's causal limit; every loop is bounded by the table's longest sequence or
// by HEAD_DIM. Needs subgroups of at least 8 lanes (the host checks).

const WORKGROUP: u32 = 64u;

@compute @workgroup_size(WORKGROUP)
fn prefill(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(subgroup_id) sg: u32,
    @builtin(subgroup_invocation_id) lane: u32,
    @builtin(subgroup_size) lanes: u32,
) {
    let h = wg.y;
    let b = wg.z;
    let group = params.table.q_heads / params.table.kv_heads;
    let len = seq_len(b);
    let q_first = qo_indptr[b];
    let n = qo_indptr[b + 1u] - min(q_first, qo_indptr[b + 1u]);
    let rows = n * group;
    let sg_first = wg.x * WORKGROUP + sg * lanes;
    let row = sg_first + lane;
    let live = row < rows;
    let token = row / group;
    let out_row = (q_first + token) * params.table.q_heads + h * group + row % group;

    // This lane's query, pre-scaled (zeros for a row past the sequence's), and output.
    var q: array<Eight, MAX_CHUNKS>;
    var acc: array<Eight, MAX_CHUNKS>;
    let zero = Eight(vec4<f32>(0.0), vec4<f32>(0.0));
    for (var c = 0u; c < CHUNKS; c++) {
        var x = zero;
        if (live) {
            let at = out_row * (HEAD_DIM / 4u) + 2u * c;
            x = Eight(q4(at) * params.scale, q4(at + 1u) * params.scale);
        }
        q[c] = x;
        acc[c] = zero;
    }
    var limit = 0u;
    if (live) {
        limit = visible(token, n, len);
    }
    // The subgroup's keys: those its last row sees.
    let last = min(sg_first + lanes, rows);
    var keys_end = 0u;
    if (last > sg_first) {
        keys_end = min(visible((last - 1u) / group, n, len), params.max_seq_len);
    }

    // (maximum, sum) of the online softmax.
    var run = vec2<f32>(neg_inf(), 0.0);
    for (var first = 0u; first < keys_end; first += 8u) {
        // Lanes 0..8 find key first + lane.
        var key_row = NO_ROW;
        if (lane < 8u && first + lane < len) {
            key_row = kv_row(b, first + lane);
        }
        let found = u32(key_row != NO_ROW);
        let at = kv_element(select(0u, key_row, found != 0u), h);
        run = attend_block(&q, &acc, run, at, found, first, limit);
    }
    let run_sum = run.y;

    if (live) {
        for (var c = 0u; c < CHUNKS; c++) {
            let x = acc[c];
            let some = run_sum > 0.0;
            store8(out_row, c, Eight(
                select(vec4<f32>(0.0), x.lo / run_sum, some),
                select(vec4<f32>(0.0), x.hi / run_sum, some),
            ));
        }
    }
}
