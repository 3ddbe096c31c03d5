// The head dimension as a pipeline constant (64, 128 or 256), for kernels that keep a row in
// registers and unroll over it. First in its module, like every override added since naga 30's
// override-ordering panic (see dfloat11/gemv_x.wgsl).

override HEAD_DIM: u32 = 64u;
