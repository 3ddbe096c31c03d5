// First part of the plain GEMV: the weights' storage format, a pipeline constant so each format
// pays nothing for the others. 0: BF16 (two per word), 1: IEEE f16 (two per word, widened
// exactly by halves.wgsl), 2: f32 (one per word). Declared before every other part (naga 30's
// `process_overrides` panics on an override declared after parts that use others; gemv_x.wgsl).
override W_FORMAT: u32 = 0u;
