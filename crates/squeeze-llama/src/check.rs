//! Host checks the glue kernels share: sizes that must fit the shaders' u32 indexing, and f32
//! bindings that must hold a tensor.

use squeeze::{Binding, Error, Gpu, Result};

/// `a × b` as u32, or an error naming `arg`.
pub(crate) fn product(arg: &'static str, a: u32, b: u32) -> Result<u32> {
    a.checked_mul(b)
        .ok_or_else(|| Error::invalid(arg, "elements", "at most u32::MAX", format!("{a} × {b}")))
}

/// Fails unless `binding` can be bound as storage and holds `count` f32 values (`what` names
/// the shape in the message).
pub(crate) fn f32s(
    gpu: &Gpu,
    arg: &'static str,
    binding: &Binding<'_>,
    count: u32,
    what: std::fmt::Arguments<'_>,
) -> Result<()> {
    gpu.check_storage_binding(arg, binding)?;
    gpu.check_binding_holds(arg, binding, u64::from(count) * 4, what)
}
