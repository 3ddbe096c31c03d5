// Decode attention (decode_rows.wgsl has the contract) for adapters whose subgroups are CPU SIMD
// vectors (lavapipe: 8 lanes of 32 bits). There a load whose address differs between lanes is a
// loop over the lanes, one scalar at a time, and it bounds the portable kernel: decode.wgsl
// reloads every query head's chunk for each key chunk and reads probabilities back from
// workgroup memory for each value. Here a workgroup is eight lanes and a lane owns one query
// head of the KV group, its query (pre-scaled) and output in registers; keys come in blocks of
// eight by broadcast (key_blocks.wgsl), so a key costs only its own K and V loads, shared by
// every head. Online softmax per lane, rescaled once per block.
//
// A group of more than eight heads takes ⌈group / 8⌉ workgroups (grid [splits, kv_heads ×
// blocks, batch]); lanes past the group's heads run along and store nothing. Every loop is
// bounded by the chunk or by HEAD_DIM. Needs subgroups of at least 8 lanes (the host checks).

const LANES: u32 = 8u;

@compute @workgroup_size(LANES)
fn decode(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(subgroup_invocation_id) lane: u32,
) {
    let split = wg.x;
    let group = params.table.q_heads / params.table.kv_heads;
    let blocks = (group + LANES - 1u) / LANES;
    let h = wg.y / blocks;
    let head = (wg.y % blocks) * LANES + lane;
    let live = head < group;
    let b = wg.z;
    let len = seq_len(b);
    let start = split * params.chunk;
    let end = min(start + params.chunk, virtual_count(h, len));
    let q_row = b * params.table.q_heads + h * group + head;

    // This lane's query, pre-scaled (zeros past the group's heads), and output.
    var q: array<Eight, MAX_CHUNKS>;
    var acc: array<Eight, MAX_CHUNKS>;
    let zero = Eight(vec4<f32>(0.0), vec4<f32>(0.0));
    for (var c = 0u; c < CHUNKS; c++) {
        var x = zero;
        if (live) {
            let at = q_row * (HEAD_DIM / 4u) + 2u * c;
            x = Eight(q4(at) * params.scale, q4(at + 1u) * params.scale);
        }
        q[c] = x;
        acc[c] = zero;
    }

    // (maximum, sum) of the online softmax.
    var run = vec2<f32>(neg_inf(), 0.0);
    let steps = min((max(end, start) - start + 7u) / 8u, params.chunk / 8u);
    for (var i = 0u; i < steps; i++) {
        // Lane j finds virtual token first + j.
        let first = start + 8u * i;
        var key_row = NO_ROW;
        if (first + lane < end) {
            let pos = virtual_position(b, h, len, first + lane);
            if (pos != NO_ROW) {
                let pool_row = kv_row(b, pos);
                if (pool_row != NO_ROW) {
                    key_row = kv_element(pool_row, h);
                }
            }
        }
        run = attend_block(&q, &acc, run, key_row, u32(key_row != NO_ROW), first, end);
    }

    if (live) {
        let row = q_row * params.splits + split;
        for (var c = 0u; c < CHUNKS; c++) {
            part_o[row * (HEAD_DIM / 4u) + 2u * c] = acc[c].lo;
            part_o[row * (HEAD_DIM / 4u) + 2u * c + 1u] = acc[c].hi;
        }
        part_ml[row] = run;
    }
}
