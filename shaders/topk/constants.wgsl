// Shared part of every top-k module: flags and constants. Each module binds its own `params`
// uniform (topk/params.wgsl `TopkParams` for select, small and gather; `SortParams` in
// topk/sort.wgsl; `CooperativeParams` in topk/cooperative.wgsl), and each of those starts with
// the same four words, which the shared parts (topk/input.wgsl, topk/radix.wgsl) read:
// `rows` × `n` scores, `k` kept per row, and `flags`: bit 0 = a `lengths` buffer gives each
// row's valid length, bit 1 = smallest first (else largest), bit 2 = the last sort pass writes
// i32 indices.

const FLAG_LENGTHS: u32 = 1u;
const FLAG_SMALLEST: u32 = 2u;
const FLAG_WRITE_INDICES: u32 = 4u;

// Invocations per workgroup of every top-k kernel: one radix bin (256) per invocation in the
// selection, and a full memory pipeline in the grid-stride passes.
const WORKGROUP_SIZE: u32 = 256u;

// A (key, index) pair that ranks below every real element: key 0 is the worst key, and no real
// index equals 0xffffffff. Padding of short rows; its index reads as -1 in the output.
const SENTINEL: vec2<u32> = vec2<u32>(0u, 0xffffffffu);
