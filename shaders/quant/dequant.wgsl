// Dequantize GGUF blocks to f32: Q8_0, Q4_0 and Q4_1 (byte layouts in
// `crates/squeeze-quant/src/format.rs`).
//
// The tensor is a flat run of blocks (rows are whole blocks, so row boundaries need no care). The
// bytes arrive as little-endian u32 words because WGSL storage has no u8; block sizes (34, 18, 20)
// are even, so a block's f16 scales never straddle a word. One invocation per weight with a grid
// stride; every product is exact in f32 (an f16 scale times a code of at most 8 bits), so the
// result equals the CPU reference bit for bit on every backend, fused multiply-add or not.

// A full memory pipeline on every vendor, as for the copy kernel.
override WORKGROUP_SIZE: u32 = 256u;
// 0 = Q8_0, 1 = Q4_0, 2 = Q4_1; a pipeline constant, so the other formats' code folds away.
override FORMAT: u32 = 0u;

// `params.n` (core/grid.wgsl): weights to produce (blocks × 32).

@group(0) @binding(1) var<storage, read> blocks: array<u32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

fn block_bytes() -> u32 {
    switch FORMAT {
        case 0u: { return 34u; }
        case 1u: { return 18u; }
        default: { return 20u; }
    }
}

// Byte `o` of the tensor; 0 past the end of the binding.
fn byte_at(o: u32) -> u32 {
    let w = o / 4u;
    if (w >= arrayLength(&blocks)) {
        return 0u;
    }
    return stream_byte(blocks[w], o);
}

// The f16 at even byte offset `o`, as f32.
fn scale_at(o: u32) -> f32 {
    let w = o / 4u;
    if (w >= arrayLength(&blocks)) {
        return 0.0;
    }
    return f16_to_f32(half_bits(blocks[w], o / 2u));
}

// The 4-bit code of weight `j` (0..32) whose packed nibbles start at byte `qs`.
fn nibble(qs: u32, j: u32) -> u32 {
    let b = byte_at(qs + (j & 15u));
    return select(b & 0xfu, b >> 4u, j >= 16u);
}

fn dequantize(i: u32) -> f32 {
    let base = (i / 32u) * block_bytes();
    let j = i % 32u;
    switch FORMAT {
        case 0u: {
            let q = i32(byte_at(base + 2u + j) << 24u) >> 24u;
            return scale_at(base) * f32(q);
        }
        case 1u: {
            return scale_at(base) * f32(i32(nibble(base + 2u, j)) - 8);
        }
        default: {
            return scale_at(base) * f32(nibble(base + 4u, j)) + scale_at(base + 2u);
        }
    }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn dequant(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let stride = groups.x * WORKGROUP_SIZE;
    let n = min(params.n, arrayLength(&dst));
    for (var i = gid.x; i < n; i += stride) {
        dst[i] = dequantize(i);
    }
}
