// Shared part of every top-k module: the `params` uniform. Its Rust twin is
// `squeeze_topk::params::TopkParams`; the validation suite holds the two layouts equal.
//
// `rows` × `n` scores, `k` kept per row. `flags`: bit 0 = a `lengths` buffer gives each row's valid
// length, bit 1 = smallest first (else largest), bit 2 = the last sort pass writes i32 indices.
// `block`, `stride` and `span` drive one bitonic stage (topk/sort.wgsl); topk/cooperative.wgsl
// reads `block` as its round and `stride` as its workgroups per row; other kernels ignore them.

struct TopkParams {
    rows: u32,
    n: u32,
    k: u32,
    flags: u32,
    block: u32,
    stride: u32,
    span: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> params: TopkParams;

const FLAG_LENGTHS: u32 = 1u;
const FLAG_SMALLEST: u32 = 2u;
const FLAG_WRITE_INDICES: u32 = 4u;

// Invocations per workgroup of every top-k kernel: one radix bin (256) per invocation in the
// selection, and a full memory pipeline in the grid-stride passes.
const WORKGROUP_SIZE: u32 = 256u;

// A (key, index) pair that ranks below every real element: key 0 is the worst key, and no real
// index equals 0xffffffff. Padding of short rows; its index reads as -1 in the output.
const SENTINEL: vec2<u32> = vec2<u32>(0u, 0xffffffffu);
