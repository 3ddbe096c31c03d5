//! Bad input to GPU dequantization, GEMV and GEMM: typed errors naming the argument, before any
//! dispatch.

use half::f16;
use squeeze::quant::{Activations, Dequantize, Format, Gemm, GemmPath, Gemv, Problem, Reduction};
use squeeze::{Binding, DType, Error, Gpu, GpuOptions, enumerate_adapters};
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

#[test]
fn unknown_format_names_every_format() {
    let err = "q5_9".parse::<Format>().unwrap_err();
    let text = err.to_string();
    assert!(text.contains("q4_k") && text.contains("mxfp4"), "{text}");
}

fn arg_of(err: &Error) -> &'static str {
    match err {
        Error::InvalidArgument { arg, .. } => arg,
        other => panic!("expected an invalid argument, got {other}"),
    }
}

#[test]
fn gemv_checks_batch_dtype_and_sizes() {
    let gpu = gpu();
    let gemv = Gemv::with_reduction(&gpu, Format::Q8_0, Reduction::Workgroup).unwrap();
    let block = [0u8; 34];
    // x is not a whole number of rows; empty x is batch 0.
    let x = vec![0.0f32; 33];
    assert_eq!(
        arg_of(&gemv.run(&block, 32, Activations::F32(&x)).unwrap_err()),
        "x"
    );
    assert_eq!(
        arg_of(&gemv.run(&block, 32, Activations::F32(&[])).unwrap_err()),
        "batch"
    );
    // Batch 9 is past what one GEMV dispatch takes.
    let x = vec![f16::ZERO; 9 * 32];
    assert_eq!(
        arg_of(&gemv.run(&block, 32, Activations::F16(&x)).unwrap_err()),
        "batch"
    );
    // Weights not a whole number of rows; cols not whole blocks.
    let x = vec![0.0f32; 32];
    assert_eq!(
        arg_of(
            &gemv
                .run(&block[..33], 32, Activations::F32(&x))
                .unwrap_err()
        ),
        "w"
    );
    assert_eq!(
        arg_of(
            &gemv
                .run(&block, 16, Activations::F32(&x[..16]))
                .unwrap_err()
        ),
        "cols"
    );

    let w = gpu.storage_buffer("w", 34).unwrap();
    let xb = gpu.storage_buffer("x", 2 * 32 * 4).unwrap();
    let y = gpu.storage_buffer("y", 16).unwrap();
    let mut encoder = gpu.encoder("test");
    let mut encode = |rows, batch, dtype, w_size, x_size, y_size| {
        let problem = Problem {
            rows,
            cols: 32,
            batch,
            x_dtype: dtype,
        };
        gemv.encode(
            &mut encoder,
            problem,
            Binding::new(&w, 0, w_size),
            Binding::new(&xb, 0, x_size),
            Binding::new(&y, 0, y_size),
        )
        .map_err(|e| arg_of(&e))
    };
    assert_eq!(encode(1, 2, DType::U32, 36, 256, 8), Err("x"));
    assert_eq!(encode(2, 1, DType::F32, 36, 128, 8), Err("w"));
    assert_eq!(encode(1, 2, DType::F32, 36, 128, 8), Err("x"));
    assert_eq!(encode(1, 2, DType::F16, 36, 128, 4), Err("y"));
    assert_eq!(encode(1, 2, DType::F16, 36, 128, 8), Ok(()));
}

#[test]
fn subgroup_gemv_without_the_feature_is_a_typed_error() {
    for entry in enumerate_adapters() {
        let Ok(gpu) = Gpu::open(&entry) else { continue };
        match Gemv::with_reduction(&gpu, Format::Q4_0, Reduction::Subgroup) {
            Ok(_) => assert!(gpu.has_subgroups(), "{}", gpu.label()),
            Err(e) => assert!(
                !gpu.has_subgroups() && matches!(e, Error::MissingFeature { .. }),
                "{}: {e}",
                gpu.label()
            ),
        }
    }
}

#[test]
fn subgroup_gemm_without_the_feature_is_a_typed_error() {
    for entry in enumerate_adapters() {
        let Ok(gpu) = Gpu::open(&entry) else { continue };
        match Gemm::with_path(&gpu, Format::Q4_0, GemmPath::Subgroup) {
            Ok(gemm) => {
                assert!(GemmPath::Subgroup.runs_on(&gpu), "{}", gpu.label());
                assert_eq!(gemm.path(), GemmPath::Subgroup);
            }
            Err(e) => assert!(
                !GemmPath::Subgroup.runs_on(&gpu)
                    && matches!(
                        e,
                        Error::MissingFeature { .. }
                            | Error::InvalidArgument {
                                arg: "gemm path",
                                ..
                            }
                    ),
                "{}: {e}",
                gpu.label()
            ),
        }
    }
}

#[test]
fn x_and_y_in_one_buffer_is_a_typed_error_not_a_panic_at_finish() {
    let gpu = gpu();
    let gemv = Gemv::new(&gpu, Format::Q8_0).unwrap();
    let w = gpu.storage_buffer("w", 2 * 34).unwrap();
    // x [1, 32] f32 at offset 0 and y [1, 2] f32 at offset 256 of the same buffer: disjoint,
    // but wgpu forbids reading and writing one buffer in a dispatch.
    let shared = gpu.storage_buffer("x and y", 512).unwrap();
    let problem = Problem {
        rows: 2,
        cols: 32,
        batch: 1,
        x_dtype: DType::F32,
    };
    let mut encoder = gpu.encoder("test");
    let err = gemv
        .encode(
            &mut encoder,
            problem,
            Binding::whole(&w),
            Binding::new(&shared, 0, 128),
            Binding::new(&shared, 256, 8),
        )
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidArgument {
                arg: "bindings",
                ..
            }
        ) && err.to_string().contains("the same buffer"),
        "{err}"
    );
    // Nothing was recorded: the encoder finishes and submits cleanly.
    gpu.submit_and_wait(encoder).unwrap();
    // Distinct buffers at the same offsets are fine.
    let y = gpu.storage_buffer("y", 8).unwrap();
    let mut encoder = gpu.encoder("test");
    gemv.encode(
        &mut encoder,
        problem,
        Binding::whole(&w),
        Binding::new(&shared, 0, 128),
        Binding::whole(&y),
    )
    .unwrap();
    gpu.submit_and_wait(encoder).unwrap();
}

#[test]
fn gguf_weights_bind_in_place_at_any_four_byte_offset() {
    use squeeze::quant::reference;
    let gpu = gpu();
    let (rows, cols) = (5usize, 64usize);
    let weights: Vec<f32> = (0..rows * cols)
        .map(|i| (i % 17) as f32 / 8.0 - 1.0)
        .collect();
    let blocks = reference::quantize(Format::Q4_0, &weights).unwrap();
    let x: Vec<f32> = (0..cols).map(|i| (i % 5) as f32 * 0.25).collect();
    let want = Gemv::new(&gpu, Format::Q4_0)
        .unwrap()
        .run(&blocks[..], cols, Activations::F32(&x))
        .unwrap();
    let gemv = Gemv::new(&gpu, Format::Q4_0).unwrap();
    let dq = Dequantize::new(&gpu, Format::Q4_0).unwrap();
    let want_w = dq.run(&blocks, cols).unwrap();
    let x_buf = gpu.upload("x", &x).unwrap();
    // The tensor after 4 · k bytes of other data, as in a GGUF file uploaded whole: offsets
    // below, at and above the device's binding alignment.
    for pad in [4usize, 36, 260] {
        let mut file = vec![0xa5u8; pad];
        file.extend(&blocks);
        let buffer = gpu.upload("file", &file).unwrap();
        let w = Binding::new(&buffer, pad as u64, blocks.len() as u64);
        let y = gpu.storage_buffer("y", rows as u64 * 4).unwrap();
        let all = gpu.storage_buffer("w", (rows * cols * 4) as u64).unwrap();
        let problem = Problem {
            rows,
            cols,
            batch: 1,
            x_dtype: DType::F32,
        };
        let mut encoder = gpu.encoder("in place");
        gemv.encode(
            &mut encoder,
            problem,
            w,
            Binding::whole(&x_buf),
            Binding::whole(&y),
        )
        .unwrap();
        dq.encode(&mut encoder, rows, cols, w, Binding::whole(&all))
            .unwrap();
        gpu.submit_and_wait(encoder).unwrap();
        let got: Vec<f32> = gpu.read_back("y", &y, 0, rows).unwrap();
        assert_eq!(got, want, "GEMV at offset {pad}");
        let got_w: Vec<f32> = gpu.read_back("w", &all, 0, rows * cols).unwrap();
        assert_eq!(got_w, want_w, "dequantize at offset {pad}");
    }
    // Offsets inside a word are refused.
    let buffer = gpu.upload("file", &vec![0u8; 4096]).unwrap();
    let mut encoder = gpu.encoder("test");
    let x = Binding::whole(&x_buf);
    let y = gpu.storage_buffer("y", rows as u64 * 4).unwrap();
    let problem = Problem {
        rows,
        cols,
        batch: 1,
        x_dtype: DType::F32,
    };
    let err = gemv
        .encode(
            &mut encoder,
            problem,
            Binding::new(&buffer, 2, blocks.len() as u64),
            x,
            Binding::whole(&y),
        )
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidArgument {
                arg: "w",
                what: "offset",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn row_blocks_write_into_one_output_through_a_row_stride() {
    use squeeze::quant::{Gemm, YRows, reference};
    let gpu = gpu();
    let (rows, cols, batch) = (7usize, 64usize, 2usize);
    let weights: Vec<f32> = (0..rows * cols)
        .map(|i| (i % 13) as f32 / 4.0 - 1.5)
        .collect();
    let blocks = reference::quantize(Format::Q8_0, &weights).unwrap();
    let x: Vec<f32> = (0..batch * cols)
        .map(|i| (i % 7) as f32 * 0.5 - 1.0)
        .collect();
    let gemv = Gemv::new(&gpu, Format::Q8_0).unwrap();
    let want = gemv.run(&blocks[..], cols, Activations::F32(&x)).unwrap();
    let row_bytes = Format::Q8_0.row_bytes(cols).unwrap();
    let w = gpu.upload("w", &blocks).unwrap();
    let x_buf = gpu.upload("x", &x).unwrap();
    // One output [batch, rows] after 3 words of other data; rows 0..3 and 3..7 written by two
    // products into it, each at its column offset with the full row stride.
    let y = gpu
        .storage_buffer("y", ((3 + batch * rows) * 4) as u64)
        .unwrap();
    let gemm = Gemm::new(&gpu, Format::Q8_0).unwrap();
    for by_gemm in [false, true] {
        let mut encoder = gpu.encoder("row blocks");
        for (first, count) in [(0usize, 3usize), (3, 4)] {
            let problem = Problem {
                rows: count,
                cols,
                batch,
                x_dtype: DType::F32,
            };
            let w_block = Binding::new(&w, (first * row_bytes) as u64, (count * row_bytes) as u64);
            let out = YRows {
                y: Binding::new(
                    &y,
                    ((3 + first) * 4) as u64,
                    (((batch - 1) * rows + count) * 4) as u64,
                ),
                row_stride: Some(rows),
                dtype: DType::F32,
            };
            let x = Binding::whole(&x_buf);
            if by_gemm {
                gemm.encode(&mut encoder, problem, w_block, x, out).unwrap();
            } else {
                gemv.encode(&mut encoder, problem, w_block, x, out).unwrap();
            }
        }
        gpu.submit_and_wait(encoder).unwrap();
        let got: Vec<f32> = gpu.read_back("y", &y, 12, batch * rows).unwrap();
        assert_eq!(got, want, "by GEMM: {by_gemm}");
    }
    // A stride below the rows would overlap batch rows.
    let mut encoder = gpu.encoder("test");
    let problem = Problem {
        rows,
        cols,
        batch,
        x_dtype: DType::F32,
    };
    let bad = YRows {
        y: Binding::whole(&y),
        row_stride: Some(rows - 1),
        dtype: DType::F32,
    };
    let err = gemv
        .encode(
            &mut encoder,
            problem,
            Binding::whole(&w),
            Binding::whole(&x_buf),
            bad,
        )
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidArgument {
                arg: "y",
                what: "row stride",
                ..
            }
        ),
        "{err}"
    );
    // f16 results come in pairs of rows per word: an odd row count is refused.
    let odd = YRows {
        y: Binding::whole(&y),
        row_stride: None,
        dtype: DType::F16,
    };
    let x = Binding::whole(&x_buf);
    let err = gemv
        .encode(&mut encoder, problem, Binding::whole(&w), x, odd)
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidArgument {
                arg: "y",
                what: "rows and row stride",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn a_matrix_over_one_binding_names_the_limit_and_the_split() {
    let gpu = gpu();
    let max = gpu.limits().max_storage_buffer_binding_size;
    let cols = 1 << 20;
    let row_bytes = Format::Q8_0.row_bytes(cols).unwrap() as u64;
    let rows = (max / row_bytes + 1) as usize;
    let w = gpu.storage_buffer("w", rows as u64 * row_bytes).unwrap();
    let x = gpu.storage_buffer("x", cols as u64 * 4).unwrap();
    let y = gpu.storage_buffer("y", rows as u64 * 4).unwrap();
    let problem = Problem {
        rows,
        cols,
        batch: 1,
        x_dtype: DType::F32,
    };
    let mut encoder = gpu.encoder("test");
    let err = Gemv::new(&gpu, Format::Q8_0)
        .unwrap()
        .encode(
            &mut encoder,
            problem,
            Binding::whole(&w),
            Binding::whole(&x),
            Binding::whole(&y),
        )
        .unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, Error::InvalidArgument { arg: "w", .. })
            && text.contains("max_storage_buffer_binding_size")
            && text.contains("YRows"),
        "{text}"
    );
}
