// Test-only probe of the f32 -> f16 rounding of `shaders/core/halves.wgsl`: element i of the
// output is `f32_to_f16_bits` of input word i (an f32 bit pattern). Grid-stride.

@group(0) @binding(1) var<storage, read> inputs: array<u32>;
@group(0) @binding(2) var<storage, read_write> outputs: array<u32>;

@compute @workgroup_size(64)
fn probe_f16_round(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let n = min(params.n, min(arrayLength(&inputs), arrayLength(&outputs)));
    for (var i = gid.x; i < n; i += groups.x * 64u) {
        outputs[i] = f32_to_f16_bits(bitcast<f32>(inputs[i]));
    }
}
