// Rotary position embedding, in place on `[rows, heads, head_dim]` f32 (q or k): pair p of each
// head turns by the angle position · inv_freq[p], where inv_freq[p] = theta^(−2p / head_dim).
//
// Two conventions pair the values differently: GGUF's LLaMA rows are permuted by llama.cpp's
// converter, so pairs are adjacent, (2p, 2p + 1) (`HALVES` 0); Hugging Face checkpoints pair
// the halves, (p, p + head_dim / 2) (`HALVES` 1). Positions come from a device buffer (one per
// row) so a steady-state step changes buffer contents, not its bind groups; `inv_freq` is the
// host's f32 table (computed in f64 once), so every device turns by the same angle. One
// invocation per pair with a grid stride.

// A full memory pipeline on every vendor, as for the copy kernel.
override WORKGROUP_SIZE: u32 = 256u;
// 0: adjacent pairs (GGUF), 1: halves (Hugging Face). A pipeline constant.
override HALVES: u32 = 0u;

@group(0) @binding(1) var<storage, read> positions: array<u32>;
@group(0) @binding(2) var<storage, read> inv_freq: array<f32>;
@group(0) @binding(3) var<storage, read_write> x: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn rope(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let stride = groups.x * WORKGROUP_SIZE;
    let half = min(params.cols / 2u, arrayLength(&inv_freq));
    let per_row = params.heads * half;
    let rows = min(params.rows, arrayLength(&positions));
    let n = min(rows * per_row, arrayLength(&x) / 2u);
    for (var i = gid.x; i < n; i += stride) {
        let row = i / per_row;
        let head = (i % per_row) / half;
        let p = i % half;
        let base = (row * params.heads + head) * params.cols;
        let a = base + select(2u * p, p, HALVES == 1u);
        let b = a + select(1u, params.cols / 2u, HALVES == 1u);
        let angle = f32(positions[row]) * inv_freq[p];
        let c = cos(angle);
        let s = sin(angle);
        let x0 = x[a];
        let x1 = x[b];
        x[a] = x0 * c - x1 * s;
        x[b] = x0 * s + x1 * c;
    }
}
