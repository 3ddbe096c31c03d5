// Group-wise affine int4 / int8 weights (GPTQ / AWQ style) as chunks of eight weights; layout,
// with a diagram, in `crates/squeeze-quant/src/affine.rs`:
//
//   qweight u32 [rows, cols · BITS / 32]: weight 8i + k of a row (int4) is bits 4k .. 4k+4 of its
//           word i; weight 4i + k (int8) is byte k of word i. Unsigned codes.
//   scales  f16 [rows, cols / GROUP], two per word.
//   zeros   f16 [rows, cols / GROUP] zero points in code units (HAS_ZEROS); without them the
//           zero point is 2^(BITS − 1), the symmetric case.
//   w = scale · (q − zero)
//
// One subtraction and one product, in the reference's order: equal to the CPU reference bit for
// bit. Reads past a binding give zeros (no out-of-bounds access).

// 4 or 8.
override BITS: u32 = 4u;
// Weights per scale: 32, 64 or 128 (a multiple of the chunk).
override GROUP: u32 = 128u;
// Whether `zeros` holds per-group zero points.
override HAS_ZEROS: bool = false;

@group(0) @binding(1) var<storage, read> qweight: array<u32>;
@group(0) @binding(2) var<storage, read> scales: array<u32>;
// Without zero points the host binds `scales` here too; it is never read then.
@group(0) @binding(3) var<storage, read> zeros: array<u32>;

// The kernel's own bindings follow the weights'.
const KERNEL_BINDING: u32 = 4u;

fn group_half(table: u32, i: u32) -> f32 {
    let w = i / 2u;
    var word = 0u;
    if (table == 0u && w < arrayLength(&scales)) {
        word = scales[w];
    } else if (table == 1u && w < arrayLength(&zeros)) {
        word = zeros[w];
    }
    return f16_to_f32(half_bits(word, i));
}

fn qword(w: u32) -> u32 {
    return select(0u, qweight[min(w, arrayLength(&qweight) - 1u)], w < arrayLength(&qweight));
}

// Chunk `c` (weights 8c .. 8c+8) of row `row`.
fn load_chunk(row: u32, c: u32) -> Chunk {
    let g = row * (params.cols / GROUP) + c * CHUNK / GROUP;
    let scale = group_half(0u, g);
    var zero = f32(1u << (BITS - 1u));
    if (HAS_ZEROS) {
        zero = group_half(1u, g);
    }
    var q: Chunk;
    if (BITS == 4u) {
        let w = qword(row * (params.cols / 8u) + c);
        q = Chunk(
            vec4<f32>((vec4<u32>(w) >> vec4<u32>(0u, 4u, 8u, 12u)) & vec4<u32>(0xfu)),
            vec4<f32>((vec4<u32>(w) >> vec4<u32>(16u, 20u, 24u, 28u)) & vec4<u32>(0xfu)),
        );
    } else {
        let w = row * (params.cols / 4u) + 2u * c;
        q = Chunk(vec4<f32>(unpack4xU8(qword(w))), vec4<f32>(unpack4xU8(qword(w + 1u))));
    }
    return Chunk(scale * (q.lo - zero), scale * (q.hi - zero));
}

// Unit `u` (weights 32u .. 32u+32) of row `row`, for the GEMV: its four chunks.
fn load_unit(row: u32, u: u32) -> Unit {
    let c = u * UNIT_CHUNKS;
    return Unit(load_chunk(row, c), load_chunk(row, c + 1u), load_chunk(row, c + 2u), load_chunk(row, c + 3u));
}
