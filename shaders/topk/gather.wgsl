// Values of the top-k: `values[r, j] = x[r, indices[r, j]]` in the input's own format (bits
// copied, so NaN payloads and -0.0 survive). A padding slot (index -1, a row shorter than k) gets
// -inf when ranking largest first and +inf when smallest first. 16-bit outputs are written a word
// (two values) per step, so no two invocations share a word; a grid stride covers any size.

@group(0) @binding(3) var<storage, read> picked: array<i32>;
@group(0) @binding(4) var<storage, read_write> values: array<u32>;

// The stored bits of output element `e` (row-major [rows, k]).
fn picked_raw(e: u32) -> u32 {
    let row = e / params.k;
    let index = picked[e];
    if (index >= 0 && u32(index) < params.n) {
        return element_raw(row * params.n + u32(index));
    }
    return padding_raw();
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn gather_values(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let total = params.rows * params.k;
    let step = groups.x * WORKGROUP_SIZE;
    if (FORMAT == 0u) {
        for (var e = gid.x; e < total; e += step) {
            values[e] = picked_raw(e);
        }
    } else {
        let words = (total + 1u) / 2u;
        for (var w = gid.x; w < words; w += step) {
            var word = picked_raw(2u * w);
            if (2u * w + 1u < total) {
                word |= picked_raw(2u * w + 1u) << 16u;
            }
            values[w] = word;
        }
    }
}
