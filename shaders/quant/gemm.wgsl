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

// The weight tile (first half) and the activation tile (second half), each transposed: element
// (k, i) at k · 64 + i, so a thread reads its four rows (or batch columns) at one k as four
// consecutive scalars. Scalars, not vec4s: dynamic component stores make some compilers (Mesa's
// GLSL path) unroll into enormous code.
const X_TILE: u32 = TILE_K * TILE_ROWS;
var<workgroup> tiles: array<f32, TILE_K * (TILE_ROWS + TILE_BATCH)>;

// Stores chunk `c` (eight consecutive k) of row or column `i` of the tile at `base`, transposed.
fn put(base: u32, i: u32, c: u32, v: Chunk) {
    let at = base + c * CHUNK * 64u + i;
    tiles[at] = v.lo.x;
    tiles[at + 64u] = v.lo.y;
    tiles[at + 128u] = v.lo.z;
    tiles[at + 192u] = v.lo.w;
    tiles[at + 256u] = v.hi.x;
    tiles[at + 320u] = v.hi.y;
    tiles[at + 384u] = v.hi.z;
    tiles[at + 448u] = v.hi.w;
}

// Four consecutive entries of a tile from `at`.
fn get4(at: u32) -> vec4<f32> {
    return vec4<f32>(tiles[at], tiles[at + 1u], tiles[at + 2u], tiles[at + 3u]);
}

// Writes rows r .. r+4 of batch column b, those that exist.
fn store4(b: u32, r: u32, v: vec4<f32>) {
    if (b >= params.batch) {
        return;
    }
    let base = b * params.rows + r;
    if (r < params.rows) { y[base] = v.x; }
    if (r + 1u < params.rows) { y[base + 1u] = v.y; }
    if (r + 2u < params.rows) { y[base + 2u] = v.z; }
    if (r + 3u < params.rows) { y[base + 3u] = v.w; }
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
            for (var k = 0u; k < TILE_K; k++) {
                let w = get4(k * 64u + ty * 4u);
                let a = get4(X_TILE + k * 64u + tx * 4u);
                acc0 += w * a.x;
                acc1 += w * a.y;
                acc2 += w * a.z;
                acc3 += w * a.w;
            }
            workgroupBarrier();
        }
        store4(b0 + tx * 4u, r0 + ty * 4u, acc0);
        store4(b0 + tx * 4u + 1u, r0 + ty * 4u, acc1);
        store4(b0 + tx * 4u + 2u, r0 + ty * 4u, acc2);
        store4(b0 + tx * 4u + 3u, r0 + ty * 4u, acc3);
    }
}
