// Native-format decode: length-limited Huffman exponents + raw sign/mantissa bytes -> BF16,
// bit-exact, in one pass: every invocation decodes one chunk (a fixed count of weights at a
// stored bit offset) with one table lookup per weight (native_chunk.wgsl). Grid-stride over
// chunks, so any chunk count fits the dispatch limit.
//
// Outputs are 16-bit but storage is u32: an invocation writes exactly the words whose low
// (even) weight is its own, decoding the next chunk's first code for the high half of its last
// word when that is needed (odd `cols`), and skips a first weight at an odd index (the previous
// chunk's word). Every word has one writer.
//
// Bounds: the chunk loop runs at most CHUNK_SYMBOLS times, the grid-stride loop ends at
// `params.chunks`, every write is checked against the output's length.

@group(0) @binding(6) var<storage, read_write> bf16_out: array<u32>;

fn store_pair(word: u32, value: u32) {
    if (word < arrayLength(&bf16_out)) {
        bf16_out[word] = value;
    }
}

fn decode_chunk(g: u32) {
    let range = chunk_range(g);
    seek(chunk_start(g));
    var low = 0u;
    var pending = false;
    for (var i = range.x; i < range.y; i++) {
        let value = bf16_at(next_exponent(), i);
        if ((i & 1u) == 0u) {
            low = value;
            pending = true;
        } else if (pending) {
            store_pair(i / 2u, low | (value << 16u));
            pending = false;
        }
    }
    if (pending) {
        var high = 0u;
        if (range.y < params.n) {
            seek(chunk_start(g + 1u));
            high = bf16_at(next_exponent(), range.y);
        }
        store_pair((range.y - 1u) / 2u, low | (high << 16u));
    }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn decode(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    load_table(lid);
    workgroupBarrier();
    let stride = groups.x * WORKGROUP_SIZE;
    for (var g = wid.x * WORKGROUP_SIZE + lid; g < params.chunks; g += stride) {
        decode_chunk(g);
    }
}
