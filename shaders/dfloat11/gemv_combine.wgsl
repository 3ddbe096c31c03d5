// Fused DFloat11 GEMV, pass 2: the rows that continue across blocks. One invocation per row
// finds the blocks holding its weights (a binary search over `output_positions`, then a walk)
// and adds their partial sums in block order; rows inside one block were written by pass 1
// (gemv.wgsl) and are left alone. Bounds: the search stops after 32 steps, the walk after
// `blocks`; every read and write is checked against its buffer's length.

override WORKGROUP_SIZE: u32 = 64u;

@group(0) @binding(1) var<storage, read> output_positions: array<u32>;
@group(0) @binding(2) var<storage, read> partials: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

fn position(i: u32) -> u32 {
    if (i < arrayLength(&output_positions)) {
        return output_positions[i];
    }
    return 0u;
}

// Block `block`'s weights [x, y), clamped like pass 1's.
fn block_weights(block: u32) -> vec2<u32> {
    let end = min(position(block + 1u), params.n);
    return vec2<u32>(min(position(block), end), end);
}

fn partial4(i: u32) -> vec4<f32> {
    var v = vec4<f32>();
    for (var k = 0u; k < 4u; k++) {
        if (i + k < arrayLength(&partials)) {
            v[k] = partials[i + k];
        }
    }
    return v;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn combine(@builtin(global_invocation_id) gid: vec3<u32>) {
    let r = gid.x;
    if (r >= params.rows) {
        return;
    }
    let cols = max(params.cols, 1u);
    let row_start = r * cols;
    let row_end = row_start + cols;

    // The first block that ends after the row starts.
    var lo = 0u;
    var hi = params.blocks;
    for (var step = 0u; step < 32u && lo < hi; step++) {
        let mid = lo + (hi - lo) / 2u;
        if (block_weights(mid).y <= row_start) {
            lo = mid + 1u;
        } else {
            hi = mid;
        }
    }

    var blocks = 0u;
    var inside = false;
    var sum_lo = vec4<f32>();
    var sum_hi = vec4<f32>();
    var block = lo;
    for (var i = 0u; i < params.blocks; i++) {
        if (block >= params.blocks) {
            break;
        }
        let range = block_weights(block);
        if (range.x >= row_end) {
            break;
        }
        if (max(range.x, row_start) < min(range.y, row_end)) {
            blocks++;
            inside = range.x <= row_start && row_end <= range.y;
            let slot = (block * 2u + select(1u, 0u, range.x / cols == r)) * MAX_BATCH;
            sum_lo += partial4(slot);
            sum_hi += partial4(slot + 4u);
        }
        block++;
    }
    if (blocks == 1u && inside) {
        return;
    }
    for (var b = 0u; b < min(params.batch, MAX_BATCH); b++) {
        let i = b * params.rows + r;
        if (i < arrayLength(&y)) {
            y[i] = select(sum_hi, sum_lo, b < 4u)[b % 4u];
        }
    }
}
