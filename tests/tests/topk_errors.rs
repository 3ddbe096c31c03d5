//! Bad input to top-k and the argsort baseline: typed errors naming the argument, before
//! anything is recorded.

use squeeze::topk::{Argsort, Order, Scan, ScoreBindings, Strategy, TopK};
use squeeze::{Binding, DType, Error, Gpu, GpuOptions};
use squeeze_conformance::adapters::NO_ADAPTER_HELP;

fn gpu() -> Gpu {
    Gpu::new(GpuOptions::default()).unwrap_or_else(|e| panic!("{NO_ADAPTER_HELP}\n({e})"))
}

fn is_invalid(err: &Error, name: &str) -> bool {
    matches!(err, Error::InvalidArgument { arg, .. } if *arg == name)
}

#[test]
fn k_outside_one_to_n_and_empty_rows_are_refused() {
    let gpu = gpu();
    let topk = TopK::new(&gpu, DType::F32).unwrap();
    let x = [1.0f32, 2.0, 3.0, 4.0];
    for k in [0, 5] {
        let err = topk.run(&x, 4, k, Order::Largest, None).unwrap_err();
        assert!(
            is_invalid(&err, "k") && err.to_string().contains("n = 4"),
            "{err}"
        );
    }
    let err = topk.run(&x, 0, 1, Order::Largest, None).unwrap_err();
    assert!(is_invalid(&err, "x"), "{err}");
    let err = topk.run(&x, 3, 1, Order::Largest, None).unwrap_err();
    assert!(is_invalid(&err, "x"), "{err}");
    assert_eq!(
        topk.run::<f32>(&[], 4, 2, Order::Largest, None).unwrap(),
        (vec![], vec![]),
        "no rows is no work"
    );
}

#[test]
fn lengths_must_cover_each_row_and_stay_within_n() {
    let gpu = gpu();
    let topk = TopK::new(&gpu, DType::F32).unwrap();
    let x = [0.5f32; 6];
    let err = topk
        .run(&x, 3, 2, Order::Largest, Some(&[3, 4]))
        .unwrap_err();
    assert!(
        is_invalid(&err, "lengths") && err.to_string().contains("row 1"),
        "{err}"
    );
    let err = topk.run(&x, 3, 2, Order::Largest, Some(&[3])).unwrap_err();
    assert!(is_invalid(&err, "lengths"), "{err}");
}

#[test]
fn dtypes_must_be_scores_and_match_the_kernel() {
    let gpu = gpu();
    let err = TopK::new(&gpu, DType::U32).err().unwrap();
    assert!(is_invalid(&err, "dtype"), "{err}");
    assert!(Argsort::new(&gpu, DType::I32).is_err());
    let topk = TopK::new(&gpu, DType::F16).unwrap();
    let err = topk
        .run(&[1.0f32, 2.0], 2, 1, Order::Largest, None)
        .unwrap_err();
    assert!(
        is_invalid(&err, "x") && err.to_string().contains("f16"),
        "{err}"
    );
}

#[test]
fn short_bindings_are_refused_naming_the_buffer() {
    let gpu = gpu();
    let topk = TopK::new(&gpu, DType::Bf16).unwrap();
    let (rows, n, k) = (3u32, 5u32, 3u32);
    let x = gpu.storage_buffer("x", 32).unwrap(); // 15 bf16 = 30 bytes -> 32 bound
    let lengths = gpu.storage_buffer("lengths", 12).unwrap();
    let scratch = gpu
        .storage_buffer("scratch", topk.scratch_bytes(rows, n, k))
        .unwrap();
    let indices = gpu.storage_buffer("indices", 36).unwrap();
    let values = gpu.storage_buffer("values", 20).unwrap(); // 9 bf16 -> 20 bytes
    let good = ScoreBindings {
        x: Binding::whole(&x),
        lengths: Some(Binding::whole(&lengths)),
        scratch: Binding::whole(&scratch),
        indices: Binding::whole(&indices),
        values: Some(Binding::whole(&values)),
    };
    let mut encoder = gpu.encoder("test");
    topk.encode(&mut encoder, rows, n, k, Order::Largest, &good)
        .unwrap();
    let cases = [
        (
            "x",
            ScoreBindings {
                x: Binding::new(&x, 0, 28),
                ..good
            },
        ),
        (
            "lengths",
            ScoreBindings {
                lengths: Some(Binding::new(&lengths, 0, 8)),
                ..good
            },
        ),
        (
            "scratch",
            ScoreBindings {
                scratch: Binding::new(&scratch, 0, 64),
                ..good
            },
        ),
        (
            "indices",
            ScoreBindings {
                indices: Binding::new(&indices, 0, 32),
                ..good
            },
        ),
        (
            "values",
            ScoreBindings {
                values: Some(Binding::new(&values, 0, 16)),
                ..good
            },
        ),
    ];
    for (name, bindings) in cases {
        let err = topk
            .encode(&mut encoder, rows, n, k, Order::Largest, &bindings)
            .unwrap_err();
        assert!(is_invalid(&err, name), "{name}: {err}");
    }
    let err = topk
        .encode(&mut encoder, rows, n, n + 1, Order::Smallest, &good)
        .unwrap_err();
    assert!(is_invalid(&err, "k"), "{err}");
    let err = topk
        .encode(&mut encoder, rows, 0, 1, Order::Smallest, &good)
        .unwrap_err();
    assert!(is_invalid(&err, "n"), "{err}");
}

#[test]
fn a_scratch_over_the_binding_limit_is_refused() {
    let gpu = gpu();
    let topk = TopK::new(&gpu, DType::F32).unwrap();
    let max = gpu.limits().max_storage_buffer_binding_size;
    let n = u32::try_from(max / 8 + 1).unwrap();
    let small = gpu.storage_buffer("small", 16).unwrap();
    let b = ScoreBindings {
        x: Binding::whole(&small),
        lengths: None,
        scratch: Binding::whole(&small),
        indices: Binding::whole(&small),
        values: None,
    };
    let mut encoder = gpu.encoder("test");
    let err = topk
        .encode(&mut encoder, 1, n, n, Order::Largest, &b)
        .unwrap_err();
    assert!(
        matches!(err, Error::OverLimit { arg: "scratch", .. }),
        "{err}"
    );
    let err = topk
        .encode(&mut encoder, 1, n, 1, Order::Largest, &b)
        .unwrap_err();
    assert!(is_invalid(&err, "x"), "{err}");
    let sort = Argsort::new(&gpu, DType::F32).unwrap();
    let err = sort
        .encode(&mut encoder, 1, n, Order::Largest, &b)
        .unwrap_err();
    assert!(
        matches!(err, Error::OverLimit { arg: "scratch", .. }),
        "{err}"
    );
}

#[test]
fn forced_small_rows_refuse_rows_past_the_capacity_and_subgroups_need_the_feature() {
    let gpu = gpu();
    let topk = TopK::new(&gpu, DType::F32)
        .unwrap()
        .with_strategy(Strategy::Small);
    let n = topk.small_capacity() as usize + 1;
    let x = vec![1.0f32; n];
    let err = topk.run(&x, n, 1, Order::Largest, None).unwrap_err();
    assert!(
        is_invalid(&err, "n") && err.to_string().contains("small-row capacity"),
        "{err}"
    );
    let (_, indices) = topk.run(&x[1..], n - 1, 1, Order::Largest, None).unwrap();
    assert_eq!(indices, [0]);
    if !gpu.has_subgroups() {
        let err = TopK::with_scan(&gpu, DType::F32, Scan::Subgroup)
            .err()
            .unwrap();
        assert!(matches!(err, Error::MissingFeature { .. }), "{err}");
    }
}
