// The `params` uniform of the kernels that need no more than the shape and the flags
// (topk/select.wgsl, topk/small.wgsl, topk/gather.wgsl); the words are described in
// topk/constants.wgsl. Its Rust twin is `squeeze_topk::params::TopkParams`; the validation suite
// holds the two layouts equal.

struct TopkParams {
    rows: u32,
    n: u32,
    k: u32,
    flags: u32,
}

@group(0) @binding(0) var<uniform> params: TopkParams;
