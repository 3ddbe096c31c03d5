//! Splitting a tensor by rows so each dispatch's bindings fit the device: the limit shared by
//! [`crate::gguf::F32Converter`] and [`crate::gguf::TensorMatmul`].

use squeeze_core::{Error, Gpu};

use crate::gguf::Tensor;
use crate::gguf::error::GgufError;

/// Bytes one dispatch's binding may hold on `gpu`: the storage-binding and buffer limits, and
/// at most 4 GiB − 1 so every byte offset of a binding fits the kernels' u32 indices.
pub fn device_limit(gpu: &Gpu) -> u64 {
    let limits = gpu.limits();
    limits
        .max_storage_buffer_binding_size
        .min(limits.max_buffer_size)
        .min(u64::from(u32::MAX))
}

/// Rows of `tensor` per dispatch when each row needs `row_bytes` of the largest binding and a
/// binding may hold `limit` bytes; an error naming the tensor if not even one row fits.
pub fn rows_per_dispatch(
    tensor: &Tensor<'_>,
    row_bytes: u64,
    limit: u64,
) -> Result<u64, GgufError> {
    let fit = limit / row_bytes;
    if fit == 0 {
        return Err(GgufError::Kernel {
            tensor: tensor.name.into(),
            source: Error::OverLimit {
                arg: "one row",
                bytes: row_bytes,
                limit: "max_storage_buffer_binding_size",
                max: limit,
            },
        });
    }
    Ok(fit.min(tensor.rows()))
}
