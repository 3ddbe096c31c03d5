// Test-only probe of the shared bit-field helpers (`shaders/core/bits.wgsl`): for each query
// (bit offset, count) it reads `count` bits at `offset` of an MSB-first byte stream stored in
// little-endian words, the way entropy decoders will; and it extracts every byte with
// `stream_byte`. One query per invocation.

struct Params {
    queries: u32,
    stream_bytes: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> stream: array<u32>;
@group(0) @binding(2) var<storage, read> queries: array<vec2<u32>>;
@group(0) @binding(3) var<storage, read_write> fields: array<u32>;
@group(0) @binding(4) var<storage, read_write> bytes: array<u32>;

fn word_or_zero(i: u32) -> u32 {
    if (i < arrayLength(&stream)) {
        return stream[i];
    }
    return 0u;
}

@compute @workgroup_size(64)
fn probe_bits(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if (i < min(params.queries, arrayLength(&queries))) {
        let q = queries[i];
        let w = q.x / 32u;
        let hi = msb_first(word_or_zero(w));
        let lo = msb_first(word_or_zero(w + 1u));
        fields[i] = window_bits(hi, lo, q.x % 32u, q.y);
    }
    if (i < min(params.stream_bytes, arrayLength(&bytes))) {
        bytes[i] = stream_byte(word_or_zero(i / 4u), i);
    }
}
