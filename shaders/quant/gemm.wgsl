// Quantized GEMM for prefill, y[b, r] = Σ_c W[r, c] · x[b, c] at any batch: a workgroup owns a
// 64-row × 64-column output tile and walks the inner dimension 32 at a time. Each of its 256
// threads decodes one chunk of the weight tile (`load_chunk`, so every weight is decoded once
// per tile, not once per product) and loads one chunk of activations into workgroup memory; then
// each thread accumulates a 4 × 4 block of outputs from the two tiles. f32 accumulation. Tiles
// past the last row or column read zeros and write nothing, so no dimension needs to be a
// multiple of the tile (cols is always a multiple of 32: every block and group is).

const TILE_ROWS: u32 = 64u;
const TILE_BATCH: u32 = 64u;
const TILE_K: u32 = 32u;
// 16 × 16 threads, each owning 4 rows × 4 batch columns of the tile.
const THREADS: u32 = 256u;

// The weight tile (rows 0..64) then the activation tile (rows 64..128); row i holds its TILE_K
// values as vec4s along k, padded by one vec4 so that consecutive rows start in different memory
// banks. 18 KiB: more than WebGPU's default 16 KiB, so the host checks the adapter's limit.
const ROW_VEC4: u32 = TILE_K / 4u + 1u;
const X_TILE: u32 = TILE_ROWS * ROW_VEC4;
var<workgroup> tiles: array<vec4<f32>, (TILE_ROWS + TILE_BATCH) * ROW_VEC4>;

// Stores chunk `c` (eight consecutive k) of row `i` of the tile at `base`.
fn put(base: u32, i: u32, c: u32, v: Chunk) {
    let at = base + i * ROW_VEC4 + c * 2u;
    tiles[at] = v.lo;
    tiles[at + 1u] = v.hi;
}

// Writes rows r .. r+4 of batch column b, those that exist.
fn store4(b: u32, r: u32, v: vec4<f32>) {
    if (b >= params.batch) {
        return;
    }
    if (Y_F16) {
        // r is a multiple of 4 and f16 outputs have an even row count: pairs are whole.
        if (r < params.rows) { store_y_pair(b, r, v.x, v.y); }
        if (r + 2u < params.rows) { store_y_pair(b, r + 2u, v.z, v.w); }
        return;
    }
    if (r < params.rows) { store_y(b, r, v.x); }
    if (r + 1u < params.rows) { store_y(b, r + 1u, v.y); }
    if (r + 2u < params.rows) { store_y(b, r + 2u, v.z); }
    if (r + 3u < params.rows) { store_y(b, r + 3u, v.w); }
}

@compute @workgroup_size(THREADS)
fn gemm(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let row_tiles = (params.rows + TILE_ROWS - 1u) / TILE_ROWS;
    let tile_count = row_tiles * ((params.batch + TILE_BATCH - 1u) / TILE_BATCH);
    let chunks_per_row = params.cols / CHUNK;
    // This thread's load: chunk `lid % 4` of tile row / column `lid / 4`.
    let load_i = lid / 4u;
    let load_c = lid % 4u;
    // This thread's outputs: rows 4·ty .. +4, batch columns 4·tx .. +4 of the tile.
    let tx = lid % 16u;
    let ty = lid / 16u;
    for (var t = wg.x; t < tile_count; t += groups.x) {
        let r0 = (t % row_tiles) * TILE_ROWS;
        let b0 = (t / row_tiles) * TILE_BATCH;
        var acc0 = vec4<f32>();
        var acc1 = vec4<f32>();
        var acc2 = vec4<f32>();
        var acc3 = vec4<f32>();
        for (var k0 = 0u; k0 < chunks_per_row; k0 += TILE_K / CHUNK) {
            var weights = Chunk(vec4<f32>(), vec4<f32>());
            var activations = weights;
            if (r0 + load_i < params.rows) {
                weights = load_chunk(r0 + load_i, k0 + load_c);
            }
            if (b0 + load_i < params.batch) {
                activations = x_chunk(b0 + load_i, k0 + load_c);
            }
            put(0u, load_i, load_c, weights);
            put(X_TILE, load_i, load_c, activations);
            workgroupBarrier();
            let w_at = ty * 4u * ROW_VEC4;
            let x_at = X_TILE + tx * 4u * ROW_VEC4;
            for (var k4 = 0u; k4 < TILE_K / 4u; k4++) {
                let w0 = tiles[w_at + k4];
                let w1 = tiles[w_at + ROW_VEC4 + k4];
                let w2 = tiles[w_at + 2u * ROW_VEC4 + k4];
                let w3 = tiles[w_at + 3u * ROW_VEC4 + k4];
                let a0 = tiles[x_at + k4];
                let a1 = tiles[x_at + ROW_VEC4 + k4];
                let a2 = tiles[x_at + 2u * ROW_VEC4 + k4];
                let a3 = tiles[x_at + 3u * ROW_VEC4 + k4];
                acc0 += vec4<f32>(dot(w0, a0), dot(w1, a0), dot(w2, a0), dot(w3, a0));
                acc1 += vec4<f32>(dot(w0, a1), dot(w1, a1), dot(w2, a1), dot(w3, a1));
                acc2 += vec4<f32>(dot(w0, a2), dot(w1, a2), dot(w2, a2), dot(w3, a2));
                acc3 += vec4<f32>(dot(w0, a3), dot(w1, a3), dot(w2, a3), dot(w3, a3));
            }
            workgroupBarrier();
        }
        store4(b0 + tx * 4u, r0 + ty * 4u, acc0);
        store4(b0 + tx * 4u + 1u, r0 + ty * 4u, acc1);
        store4(b0 + tx * 4u + 2u, r0 + ty * 4u, acc2);
        store4(b0 + tx * 4u + 3u, r0 + ty * 4u, acc3);
    }
}
