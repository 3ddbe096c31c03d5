// Shared first part of the BF16-weight GEMVs: whether activations are f16 (two per word) rather
// than f32 — a pipeline constant, so the f32 path pays nothing for it. f16 activations are
// widened exactly (halves.wgsl), so an f16 x gives the sums of its f32 widening. Declared before
// every other part: naga 30's `process_overrides` panicked (HandleVec insert) on the fused DF11
// GEMV with this override declared after the parts that use THREADS_PER_BLOCK.
override X_F16: bool = false;
