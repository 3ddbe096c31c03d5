//! Bad input to GPU dequantization: typed errors naming the argument, before any dispatch.

use squeeze::quant::{Dequantize, Format};
use squeeze::{Binding, Error, Gpu, GpuOptions};
use squeeze_conformance::adapters::NO_ADAPTER_HELP;

fn gpu() -> Gpu {
    Gpu::new(GpuOptions::default()).unwrap_or_else(|e| panic!("{NO_ADAPTER_HELP}\n({e})"))
}

#[test]
fn cols_must_be_whole_blocks() {
    let gpu = gpu();
    let dq = Dequantize::new(&gpu, Format::Q4_0).unwrap();
    let err = dq.run(&[0; 18], 31).unwrap_err();
    assert!(
        matches!(err, Error::InvalidArgument { arg: "cols", .. }),
        "{err}"
    );
    let err = dq.run(&[0; 19], 32).unwrap_err();
    assert!(
        matches!(err, Error::InvalidArgument { arg: "w", .. }),
        "{err}"
    );
    assert_eq!(dq.run(&[], 32).unwrap(), Vec::<f32>::new());
}

#[test]
fn short_bindings_are_refused() {
    let gpu = gpu();
    let dq = Dequantize::new(&gpu, Format::Q8_0).unwrap();
    let w = gpu.storage_buffer("w", 2 * 34).unwrap();
    let y = gpu.storage_buffer("y", 64 * 4).unwrap();
    let mut encoder = gpu.encoder("test");
    let err = dq
        .encode(&mut encoder, 3, 32, Binding::whole(&w), Binding::whole(&y))
        .unwrap_err();
    assert!(
        matches!(err, Error::InvalidArgument { arg: "w", .. }) && err.to_string().contains("102"),
        "{err}"
    );
    let err = dq
        .encode(
            &mut encoder,
            2,
            32,
            Binding::whole(&w),
            Binding::new(&y, 0, 192),
        )
        .unwrap_err();
    assert!(
        matches!(err, Error::InvalidArgument { arg: "y", .. }),
        "{err}"
    );
}
