// Rotary position embedding, in place on `[rows, heads, head_dim]` f32 (q or k) (entry `rope`),
// or from stacked `[rows, q heads + 2 · kv heads, head_dim]` Q|K|V rows — the output of one GEMV
// over the three projections' stacked weights — into separate q, k (both rotated) and v (copied)
// buffers (entry `rope_qkv`, one dispatch where a step would otherwise take three). Pair p of
// each head turns by the angle position · inv_freq[p], where inv_freq[p] = theta^(−2p / head_dim).
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
// rope_qkv: the stacked rows, and where each part goes.
@group(0) @binding(4) var<storage, read> qkv: array<f32>;
@group(0) @binding(5) var<storage, read_write> q_out: array<f32>;
@group(0) @binding(6) var<storage, read_write> k_out: array<f32>;
@group(0) @binding(7) var<storage, read_write> v_out: array<f32>;

// The offsets in a head of pair p's two values.
fn pair_offsets(p: u32) -> vec2<u32> {
    let a = select(2u * p, p, HALVES == 1u);
    return vec2<u32>(a, a + select(1u, params.cols / 2u, HALVES == 1u));
}

// (x0, x1) turned by `angle`.
fn rotate(x0: f32, x1: f32, angle: f32) -> vec2<f32> {
    let c = cos(angle);
    let s = sin(angle);
    return vec2<f32>(x0 * c - x1 * s, x0 * s + x1 * c);
}

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
        let at = (row * params.heads + head) * params.cols + pair_offsets(p);
        let y = rotate(x[at.x], x[at.y], f32(positions[row]) * inv_freq[p]);
        x[at.x] = y.x;
        x[at.y] = y.y;
    }
}

// One invocation per pair of a stacked row's q, k and v heads (v's pairs are copied, not
// turned), with a grid stride; rows past any buffer's end are not touched.
@compute @workgroup_size(WORKGROUP_SIZE)
fn rope_qkv(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let stride = groups.x * WORKGROUP_SIZE;
    let half = min(params.cols / 2u, arrayLength(&inv_freq));
    let qh = params.heads;
    let kh = params.kv_heads;
    let width = (qh + 2u * kh) * params.cols;
    if (half == 0u || width == 0u) {
        return;
    }
    let per_row = (qh + 2u * kh) * half;
    var rows = min(params.rows, min(arrayLength(&positions), arrayLength(&qkv) / width));
    rows = min(rows, arrayLength(&q_out) / max(qh * params.cols, 1u));
    rows = min(rows, min(arrayLength(&k_out), arrayLength(&v_out)) / max(kh * params.cols, 1u));
    for (var i = gid.x; i < rows * per_row; i += stride) {
        let row = i / per_row;
        let head = (i % per_row) / half;
        let p = i % half;
        let src = row * width + head * params.cols + pair_offsets(p);
        let x0 = qkv[src.x];
        let x1 = qkv[src.y];
        if (head < qh + kh) {
            let y = rotate(x0, x1, f32(positions[row]) * inv_freq[p]);
            if (head < qh) {
                let to = (row * qh + head) * params.cols + pair_offsets(p);
                q_out[to.x] = y.x;
                q_out[to.y] = y.y;
            } else {
                let to = (row * kh + head - qh) * params.cols + pair_offsets(p);
                k_out[to.x] = y.x;
                k_out[to.y] = y.y;
            }
        } else {
            let to = (row * kh + head - qh - kh) * params.cols + pair_offsets(p);
            v_out[to.x] = x0;
            v_out[to.y] = x1;
        }
    }
}
