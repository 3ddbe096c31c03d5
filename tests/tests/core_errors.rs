//! Bad input to the runtime and the core kernels: each gets a typed error naming the argument
//! and the expected and actual values, before anything reaches the device.

use squeeze::core::copy::Copy;
use squeeze::core::widen::{Half, Widen};
use squeeze::wgpu;
use squeeze::{
    Backend, Binding, Error, Gpu, GpuOptions, Profiler, enumerate_adapters, select_adapter,
};
use squeeze_conformance::adapters::NO_ADAPTER_HELP;

fn gpu() -> Gpu {
    Gpu::new(GpuOptions::default()).unwrap_or_else(|e| panic!("{NO_ADAPTER_HELP}\n({e})"))
}

/// Asserts that `result` failed with [`Error::InvalidArgument`] on `arg` — about `what` of it
/// (e.g. `"offset"`) when given — and returns the error for further checks.
#[track_caller]
fn invalid<T: std::fmt::Debug>(result: squeeze::Result<T>, arg: &str, what: Option<&str>) -> Error {
    let err = result.unwrap_err();
    match &err {
        Error::InvalidArgument {
            arg: a, what: w, ..
        } => {
            assert_eq!(*a, arg, "{err}");
            if let Some(what) = what {
                assert_eq!(*w, what, "{err}");
            }
        }
        other => panic!("expected InvalidArgument on `{arg}`, got {other:?}"),
    }
    err
}

#[test]
fn unknown_backend_names_the_choices() {
    let err = "cuda".parse::<Backend>().unwrap_err();
    assert!(matches!(err, Error::UnknownBackend { ref given } if given == "cuda"));
    assert!(err.to_string().contains("vulkan, metal, dx12, gl"));
    assert_eq!("VULKAN".parse::<Backend>().unwrap(), Backend::Vulkan);
}

#[test]
fn adapter_index_out_of_range_lists_what_exists() {
    let adapters = enumerate_adapters();
    assert!(!adapters.is_empty(), "{NO_ADAPTER_HELP}");
    let options = GpuOptions {
        backend: None,
        adapter: Some(adapters.len()),
    };
    match select_adapter(&adapters, &options) {
        Err(Error::AdapterOutOfRange {
            requested,
            count,
            available,
        }) => {
            assert_eq!((requested, count), (adapters.len(), adapters.len()));
            assert!(available.contains(&adapters[0].info.name), "{available}");
        }
        other => panic!("expected AdapterOutOfRange, got {other:?}"),
    }
}

#[test]
fn absent_backend_lists_the_available_adapters() {
    let adapters = enumerate_adapters();
    assert!(!adapters.is_empty(), "{NO_ADAPTER_HELP}");
    let absent = Backend::ALL.into_iter().find(|b| {
        adapters
            .iter()
            .all(|a| Backend::from_wgpu(a.info.backend) != Some(*b))
    });
    let Some(absent) = absent else {
        return; // every backend has an adapter here: nothing is absent to ask for
    };
    let options = GpuOptions {
        backend: Some(absent),
        adapter: None,
    };
    match select_adapter(&adapters, &options) {
        Err(Error::BackendUnavailable {
            requested,
            available,
        }) => {
            assert_eq!(requested, absent.to_string());
            assert!(available.contains(&adapters[0].info.name), "{available}");
        }
        other => panic!("expected BackendUnavailable, got {other:?}"),
    }
    assert!(matches!(
        select_adapter(&[], &GpuOptions::default()),
        Err(Error::NoAdapter { .. })
    ));
}

#[test]
fn buffer_over_max_buffer_size_is_refused_before_allocation() {
    let gpu = gpu();
    let max = gpu.limits().max_buffer_size;
    match gpu.storage_buffer("weights", max + 4) {
        Err(Error::OverLimit {
            arg,
            bytes,
            limit,
            max: m,
        }) => {
            assert_eq!((arg, limit, m), ("weights", "max_buffer_size", max));
            assert_eq!(
                bytes,
                (max + 4).next_multiple_of(4),
                "the padded size asked for"
            );
        }
        other => panic!("expected OverLimit, got {other:?}"),
    }
}

#[test]
fn binding_over_max_storage_binding_size_is_refused() {
    let gpu = gpu();
    let buffer = gpu.storage_buffer("src", 64).unwrap();
    let max = gpu.limits().max_storage_buffer_binding_size;
    let binding = Binding::new(&buffer, 0, (max + 1).next_multiple_of(4));
    match gpu.check_storage_binding("src", &binding) {
        Err(Error::OverLimit { arg, limit, .. }) => {
            assert_eq!((arg, limit), ("src", "max_storage_buffer_binding_size"));
        }
        other => panic!("expected OverLimit, got {other:?}"),
    }
}

#[test]
fn bindings_outside_their_buffer_or_misaligned_are_refused() {
    let gpu = gpu();
    let buffer = gpu.storage_buffer("dst", 256).unwrap();
    let check =
        |offset, size| gpu.check_storage_binding("dst", &Binding::new(&buffer, offset, size));
    invalid(check(0, 272), "dst", Some("offset + size"));
    invalid(check(4, 16), "dst", Some("offset"));
    invalid(check(0, 6), "dst", Some("size"));
}

#[test]
fn copy_rejects_mismatched_and_unaligned_sizes() {
    let gpu = gpu();
    let copy = Copy::new(&gpu).unwrap();
    let a = gpu.storage_buffer("src", 64).unwrap();
    let b = gpu.storage_buffer("dst", 48).unwrap();
    let mut encoder = gpu.encoder("test");
    let mismatched = copy.encode(&mut encoder, Binding::whole(&a), Binding::whole(&b));
    let err = invalid(mismatched, "dst", Some("size"));
    assert!(err.to_string().contains("64 bytes"), "{err}");
    let unaligned = copy.encode(
        &mut encoder,
        Binding::new(&a, 0, 20),
        Binding::new(&b, 0, 20),
    );
    invalid(unaligned, "src", None);
    invalid(copy.run(&[1, 2, 3]), "src", Some("length"));
    assert!(copy.run(&[]).is_err());
}

#[test]
fn widen_rejects_short_bindings_and_handles_empty_input() {
    let gpu = gpu();
    let widen = Widen::new(&gpu, Half::F16).unwrap();
    assert_eq!(widen.run(&[]).unwrap(), Vec::<f32>::new());
    let src = gpu.storage_buffer("src", 8).unwrap();
    let dst = gpu.storage_buffer("dst", 12).unwrap();
    let mut encoder = gpu.encoder("test");
    let mut widen_n = |n| widen.encode(&mut encoder, n, Binding::whole(&src), Binding::whole(&dst));
    invalid(widen_n(4), "dst", None);
    invalid(widen_n(5), "src", None);
}

#[test]
fn pipelines_only_from_registered_entries_and_override_sets() {
    let gpu = gpu();
    let err = gpu
        .pipeline(Copy::SHADER, "copy_vec4", &[("WORKGROUP_SIZE", 128.0)])
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::UnregisteredOverrides {
                shader: "core/copy",
                ..
            }
        ),
        "{err}"
    );
    let err = gpu.pipeline(Copy::SHADER, "copy_u8", &[]).unwrap_err();
    assert!(
        matches!(
            err,
            Error::UnknownEntryPoint {
                shader: "core/copy",
                ..
            }
        ),
        "{err}"
    );
    let first = gpu
        .pipeline(Copy::SHADER, "copy_vec4", &[("WORKGROUP_SIZE", 256.0)])
        .unwrap();
    let again = gpu
        .pipeline(Copy::SHADER, "copy_vec4", &[("WORKGROUP_SIZE", 256.0)])
        .unwrap();
    assert_eq!(first, again, "the cache returns the pipeline it built");
}

#[test]
fn read_back_outside_the_buffer_is_refused() {
    let gpu = gpu();
    let buffer = gpu.upload("x", &[1u32, 2, 3, 4]).unwrap();
    assert_eq!(
        gpu.read_back::<u32>("x", &buffer, 4, 3).unwrap(),
        vec![2, 3, 4]
    );
    invalid(gpu.read_back::<u32>("x", &buffer, 4, 4), "x", None);
    invalid(
        gpu.read_back::<u32>("x", &buffer, 2, 1),
        "x",
        Some("offset"),
    );
}

#[test]
fn profiler_times_work_and_says_which_clock() {
    let gpu = gpu();
    let copy = Copy::new(&gpu).unwrap();
    let src = gpu.storage_buffer("src", 1 << 20).unwrap();
    let dst = gpu.storage_buffer("dst", 1 << 20).unwrap();
    for profiler in [Profiler::new(&gpu), Profiler::wall_clock(&gpu)] {
        let timing = profiler
            .time(3, |enc| {
                copy.encode(enc, Binding::whole(&src), Binding::whole(&dst))
            })
            .unwrap();
        assert!(
            timing.seconds > 0.0 && timing.seconds.is_finite(),
            "{timing:?}"
        );
        assert_eq!(timing.repetitions, 3);
        assert_eq!(timing.clock, profiler.clock());
        assert!(profiler.time(0, |_| Ok(())).is_err());
    }
}

#[test]
fn wraps_a_device_the_engine_owns() {
    let entry = enumerate_adapters()
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("{NO_ADAPTER_HELP}"));
    let (device, queue) = pollster::block_on(
        entry
            .adapter
            .request_device(&wgpu::DeviceDescriptor::default()),
    )
    .unwrap();
    let gpu = Gpu::from_wgpu(entry.info.clone(), device, queue);
    assert!(
        !gpu.has_f16(),
        "default descriptor requests no optional feature"
    );
    assert_eq!(
        Copy::new(&gpu).unwrap().run(&[9, 8, 7, 6]).unwrap(),
        vec![9, 8, 7, 6]
    );
}

#[test]
fn family_errors_convert_into_the_one_error_type_and_back() {
    use squeeze::dfloat11::Df11Error;
    use squeeze::dfloat11::checkpoint::Checkpoint;
    use squeeze::quant::gguf::{GgufError, GgufFile};

    fn gguf(bytes: Vec<u8>) -> squeeze::Result<()> {
        GgufFile::from_bytes(bytes)?;
        Ok(())
    }
    fn df11(dir: &std::path::Path) -> squeeze::Result<()> {
        Checkpoint::open(dir)?;
        Ok(())
    }
    let err = gguf(b"not a gguf file".to_vec()).unwrap_err();
    let Error::Family(inner) = &err else {
        panic!("{err:?}")
    };
    assert!(inner.downcast_ref::<GgufError>().is_some(), "{err}");
    let missing = std::env::temp_dir().join(format!("squeeze-no-such-{}", std::process::id()));
    let err = df11(&missing).unwrap_err();
    let Error::Family(inner) = &err else {
        panic!("{err:?}")
    };
    assert!(inner.downcast_ref::<Df11Error>().is_some(), "{err}");
    assert!(err.to_string().contains("config.json"), "{err}");
}
