// Embedding rows: out[t, c] = table[tokens[t], c] for `params.rows` tokens of `params.cols`
// values, the table f32 (`FORMAT` 0), or f16 (`FORMAT` 1) or BF16 (`FORMAT` 2) packed two per u32
// word (low half first), output f32.
//
// The token ids are read from a device buffer, so the token a top-k pass just chose feeds the
// next step without a trip through the host. A token at or past `params.vocab` gives a row of
// zeros: ids come from the device and cannot be checked on the host. One invocation per output
// value with a grid stride.

// A full memory pipeline on every vendor, as for the copy kernel.
override WORKGROUP_SIZE: u32 = 256u;
// Table element type: 0 = f32, 1 = f16, 2 = BF16. A pipeline constant, so the branch folds away.
override FORMAT: u32 = 0u;

@group(0) @binding(1) var<storage, read> tokens: array<u32>;
@group(0) @binding(2) var<storage, read> table: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

// The f32 bit pattern of table element `i` (row-major).
fn table_bits(i: u32) -> u32 {
    if FORMAT == 1u {
        return f16_bits_to_f32_bits(half_bits(table[i / 2u], i));
    }
    if FORMAT == 2u {
        // BF16 is the high half of an f32: widening is a shift.
        return half_bits(table[i / 2u], i) << 16u;
    }
    return table[i];
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn embedding_rows(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let stride = groups.x * WORKGROUP_SIZE;
    let cols = params.cols;
    let rows = min(params.rows, arrayLength(&tokens));
    let n = min(rows * cols, arrayLength(&out));
    for (var i = gid.x; i < n; i += stride) {
        let token = tokens[i / cols];
        var value = 0.0;
        if token < params.vocab {
            value = bitcast<f32>(table_bits(token * cols + i % cols));
        }
        out[i] = value;
    }
}
