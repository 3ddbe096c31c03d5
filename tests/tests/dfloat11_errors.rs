//! Malformed DF11 units: typed errors from host validation and the CPU reference; and the GPU
//! kernel, handed corrupt data directly, terminates without writing outside its output.

use squeeze::dfloat11::decode::DecodeParams;
use squeeze::dfloat11::device::UnitBindings;
use squeeze::dfloat11::{Decode, Df11Error, Encoded, Layout, encode, reference};
use squeeze::{Binding, Gpu, GpuOptions};
use squeeze_conformance::adapters::NO_ADAPTER_HELP;
use squeeze_conformance::dfloat11::{le_bytes, weights};
use squeeze_conformance::rng::SplitMix64;

fn gpu() -> Gpu {
    Gpu::new(GpuOptions::default()).unwrap_or_else(|e| panic!("{NO_ADAPTER_HELP}\n({e})"))
}

fn sample() -> Encoded {
    encode(&[&le_bytes(&weights(60_001, 11))], Layout::DF11, 2).unwrap()
}

/// The DF11 layout with `threads_per_block` threads per block (8 bytes per thread).
fn blocks_of(threads_per_block: u32) -> Layout {
    Layout {
        threads_per_block,
        bytes_per_thread: 8,
    }
}

fn validate(e: &Encoded) -> Df11Error {
    e.unit().validate("g", Layout::DF11).unwrap_err()
}

#[test]
fn lut_pointers_that_loop_or_leave_the_tables() {
    let good = sample();
    let rows = good.luts.len() / 256;
    assert!(rows >= 3, "the sample code needs a level-1 table");
    let pointer = (0..256).find(|&e| good.luts[e] >= 240).unwrap();

    let target = 256 - usize::from(good.luts[pointer]);
    let mut bad = good.clone();
    bad.luts[target * 256 + 7] = good.luts[pointer]; // a table pointing to itself
    let err = validate(&bad);
    assert!(
        matches!(err, Df11Error::Lut { table, entry: 7, .. } if table == target)
            && err.to_string().contains("loop"),
        "{err}"
    );

    let mut bad = good.clone();
    bad.luts[pointer] = (256 - rows) as u8; // the length row is not a decode table
    let err = validate(&bad);
    assert!(
        matches!(err, Df11Error::Lut { table: 0, .. }) && err.to_string().contains("past"),
        "{err}"
    );

    let mut bad = good.clone();
    let symbol = bad.luts[0];
    bad.luts[(rows - 1) * 256 + usize::from(symbol)] = 0; // zero-length code
    assert!(matches!(validate(&bad), Df11Error::Lut { .. }));

    let mut bad = good.clone();
    bad.luts.truncate(good.luts.len() - 1);
    assert!(matches!(
        validate(&bad),
        Df11Error::Tensor { tensor: "luts", .. }
    ));
}

#[test]
fn truncated_streams_and_mismatched_sizes() {
    let good = sample();
    let mut bad = good.clone();
    bad.encoded_exponent.truncate(5000);
    assert!(matches!(
        validate(&bad),
        Df11Error::Tensor {
            tensor: "encoded_exponent",
            ..
        }
    ));

    let mut bad = good.clone();
    bad.sign_mantissa.pop();
    let err = validate(&bad);
    assert!(
        matches!(
            err,
            Df11Error::Tensor {
                tensor: "output_positions",
                what: "last entry",
                ..
            }
        ),
        "{err}"
    );

    let mut bad = good.clone();
    bad.gaps.truncate(10);
    assert!(matches!(
        validate(&bad),
        Df11Error::Tensor { tensor: "gaps", .. }
    ));

    let mut bad = good.clone();
    bad.output_positions.truncate(6);
    assert!(matches!(
        validate(&bad),
        Df11Error::Tensor {
            tensor: "output_positions",
            what: "length",
            ..
        }
    ));

    let mut bad = good.clone();
    bad.split_positions = vec![10, 5];
    assert!(matches!(
        validate(&bad),
        Df11Error::Tensor {
            tensor: "split_positions",
            ..
        }
    ));

    let err = good
        .unit()
        .validate(
            "g",
            Layout {
                threads_per_block: 512,
                bytes_per_thread: 16,
            },
        )
        .unwrap_err();
    assert!(
        matches!(
            err,
            Df11Error::Layout {
                what: "bytes_per_thread",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn positions_and_gaps_that_disagree_with_the_stream() {
    let good = sample();
    let mut bad = good.clone();
    bad.output_positions[4..8].copy_from_slice(&7u32.to_le_bytes());
    let err = reference::decode(bad.unit(), "g", Layout::DF11).unwrap_err();
    assert!(matches!(err, Df11Error::Stream { .. }), "{err}");

    let mut bad = good.clone();
    bad.output_positions[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(
        validate(&bad),
        Df11Error::Tensor {
            tensor: "output_positions",
            ..
        }
    ));

    for byte in [0, 3, 40] {
        let mut bad = good.clone();
        bad.gaps[byte] ^= 0x21;
        let err = reference::decode(bad.unit(), "g", Layout::DF11).unwrap_err();
        assert!(matches!(err, Df11Error::Stream { .. }), "{err}");
    }
}

/// Garbage tables, stream, gaps and positions straight to the kernel: it must finish and leave
/// the bytes after its output binding untouched.
#[test]
fn corrupt_units_on_the_gpu_stay_bounded() {
    fn bytes(rng: &mut SplitMix64, len: usize) -> Vec<u8> {
        (0..len).map(|_| rng.next_u32() as u8).collect()
    }
    let gpu = gpu();
    let decode = Decode::new(&gpu, Layout::DF11).unwrap();
    let mut rng = SplitMix64::new(77);
    let n = 20_000u32;
    let blocks = 4u32;
    let align = u64::from(gpu.limits().min_storage_buffer_offset_alignment).max(256);
    let out_bytes = u64::from(n) * 2;
    for round in 0..4 {
        let mut luts = bytes(&mut rng, 18 * 256);
        if round == 1 {
            // Every entry a pointer, every length zero: chains of four, no progress.
            luts.iter_mut().for_each(|b| *b = 240 + (*b % 16));
        }
        if round == 2 {
            luts.iter_mut().for_each(|b| *b = 0);
        }
        let codes = bytes(&mut rng, 4 * 4096 + 3);
        let sm = bytes(&mut rng, n as usize);
        let positions: Vec<u8> = (0..=blocks)
            .flat_map(|_| (rng.next_u32() % (2 * n)).to_le_bytes())
            .collect();
        let gaps = bytes(&mut rng, 5 * 512 * 4 / 8);
        let params = DecodeParams {
            n: if round == 3 { u32::MAX - 8 } else { n },
            ..DecodeParams::new(n, blocks, 18)
        };
        let up = |name, b: &[u8]| gpu.upload(name, b).unwrap();
        let (luts, codes, sm, positions, gaps) = (
            up("luts", &luts),
            up("codes", &codes),
            up("sm", &sm),
            up("positions", &positions),
            up("gaps", &gaps),
        );
        let guard = vec![0xa5a5_a5a5u32; ((out_bytes + 2 * align) / 4) as usize];
        let out = gpu.upload("out", &guard).unwrap();
        let mut encoder = gpu.encoder("corrupt");
        let unit = UnitBindings {
            luts: Binding::whole(&luts),
            encoded_exponent: Binding::whole(&codes),
            sign_mantissa: Binding::whole(&sm),
            output_positions: Binding::whole(&positions),
            gaps: Binding::whole(&gaps),
        };
        let result = decode.encode(
            &mut encoder,
            params,
            unit,
            Binding::new(&out, align, out_bytes),
        );
        if round == 3 {
            // n beyond the bound binding: refused before anything runs.
            assert!(matches!(result, Err(Df11Error::Gpu(_))), "{result:?}");
            continue;
        }
        result.unwrap();
        gpu.submit_and_wait(encoder).unwrap();
        let all: Vec<u32> = gpu.read_back("out", &out, 0, guard.len()).unwrap();
        let head = (align / 4) as usize;
        let tail = ((align + out_bytes) / 4) as usize;
        assert!(
            all[..head].iter().all(|&w| w == 0xa5a5_a5a5),
            "round {round}: wrote before"
        );
        assert!(
            all[tail..].iter().all(|&w| w == 0xa5a5_a5a5),
            "round {round}: wrote after"
        );
    }
}

#[test]
fn gpu_layouts_and_bindings_are_checked() {
    let gpu = gpu();
    let err = Decode::new(&gpu, blocks_of(384)).err().unwrap();
    assert!(err.to_string().contains("threads_per_block"), "{err}");

    // A decoder compiled for 256 threads per block refuses a unit of 512.
    let encoded = sample();
    let checked = encoded.unit().validate("g", Layout::DF11).unwrap();
    let decode_256 = Decode::new(&gpu, blocks_of(256)).unwrap();
    let err = decode_256.run(&checked).unwrap_err();
    assert!(
        err.to_string()
            .contains("argument `unit`: layout must be Layout { threads_per_block: 256"),
        "{err}"
    );

    let decode = Decode::new(&gpu, Layout::DF11).unwrap();
    let small = gpu.storage_buffer("small", 16).unwrap();
    let big = gpu.storage_buffer("big", 1 << 16).unwrap();
    let params = DecodeParams::new(1000, 1, 3);
    let mut encoder = gpu.encoder("t");
    let unit = |luts| UnitBindings {
        luts,
        encoded_exponent: Binding::whole(&big),
        sign_mantissa: Binding::whole(&big),
        output_positions: Binding::whole(&big),
        gaps: Binding::whole(&big),
    };
    let err = decode
        .encode(
            &mut encoder,
            params,
            unit(Binding::whole(&small)),
            Binding::whole(&big),
        )
        .unwrap_err();
    assert!(err.to_string().contains("`luts`"), "{err}");
    let err = decode
        .encode(
            &mut encoder,
            DecodeParams {
                n_luts: 19,
                ..params
            },
            unit(Binding::whole(&big)),
            Binding::whole(&big),
        )
        .unwrap_err();
    assert!(err.to_string().contains("rows"), "{err}");
}

/// The fused GEMV and its plain baseline (BF16 and F32 weights): shapes, batch, layout, weight
/// formats and short bindings are typed errors naming the argument; garbage units stay inside
/// `y`.
#[test]
fn gemv_shapes_batches_and_bindings_are_checked() {
    use squeeze::dfloat11::Gemv;
    use squeeze::dfloat11::bf16_gemv::{Bf16Gemv, WeightFormat};
    use squeeze::dfloat11::gemv::GemvParams;

    let gpu = gpu();
    let err = Gemv::new(&gpu, blocks_of(1024)).err().unwrap();
    assert!(err.to_string().contains("threads_per_block"), "{err}");

    let encoded = sample();
    let checked = encoded.unit().validate("g", Layout::DF11).unwrap();
    let gemv = Gemv::new(&gpu, Layout::DF11).unwrap();
    let x = vec![0.5f32; 9 * 60_001];
    let err = gemv
        .run(&checked, 2, 30_000, &x[..2 * 30_000], 2)
        .unwrap_err();
    assert!(err.to_string().contains("rows × cols"), "{err}");
    for batch in [0, 9] {
        let err = gemv
            .run(&checked, 1, 60_001, &x[..batch * 60_001], batch)
            .unwrap_err();
        assert!(err.to_string().contains("`batch`"), "{err}");
    }
    let err = gemv.run(&checked, 1, 60_001, &x[..100], 1).unwrap_err();
    assert!(err.to_string().contains("`x`"), "{err}");

    // Short x, y and partials bindings.
    let params = GemvParams::new(&checked, 1, 60_001, 2).unwrap();
    let buffers = squeeze::dfloat11::device::UnitBuffers::upload(&gpu, &checked).unwrap();
    let big = gpu.storage_buffer("big", 1 << 20).unwrap();
    let small = gpu.storage_buffer("small", 4).unwrap();
    let mut encoder = gpu.encoder("t");
    for (short, arg) in [(0, "`x`"), (1, "`y`"), (2, "`partials`")] {
        let pick = |i| Binding::whole(if i == short { &small } else { &big });
        let err = gemv
            .encode(
                &mut encoder,
                params,
                buffers.bindings(),
                pick(0),
                pick(1),
                pick(2),
            )
            .unwrap_err();
        assert!(err.to_string().contains(arg), "{err}");
    }

    let bf16 = Bf16Gemv::new(&gpu).unwrap();
    let err = bf16.run(&[0x3f80; 5], 2, 3, &[1.0; 3], 1).unwrap_err();
    assert!(err.to_string().contains("`weights`"), "{err}");
    let err = bf16.run(&[0x3f80; 6], 2, 3, &[1.0; 27], 9).unwrap_err();
    assert!(err.to_string().contains("`batch`"), "{err}");
    let err = bf16
        .encode(
            &mut encoder,
            Bf16Gemv::params(2, 3, 1).unwrap(),
            Binding::whole(&small),
            Binding::whole(&big),
            Binding::whole(&small),
        )
        .unwrap_err();
    assert!(
        err.to_string().contains("`weights`") || err.to_string().contains("`y`"),
        "{err}"
    );

    // F32 weights: 4 bytes each (a binding of BF16's 2 is short), and runs of the other format.
    let f32_gemv = Bf16Gemv::with_weights(&gpu, WeightFormat::F32).unwrap();
    let half_size = gpu.storage_buffer("half", 12).unwrap();
    let err = f32_gemv
        .encode(
            &mut encoder,
            Bf16Gemv::params(2, 3, 1).unwrap(),
            Binding::whole(&half_size),
            Binding::whole(&big),
            Binding::whole(&big),
        )
        .unwrap_err();
    assert!(
        err.to_string().contains("`weights`") && err.to_string().contains("F32"),
        "{err}"
    );
    let err = f32_gemv.run(&[0x3f80; 6], 2, 3, &[1.0; 3], 1).unwrap_err();
    assert!(err.to_string().contains("`weights`"), "{err}");
    let err = bf16.run_f32(&[1.0; 6], 2, 3, &[1.0; 3], 1).unwrap_err();
    assert!(
        err.to_string().contains("`weights`") && err.to_string().contains("BF16"),
        "{err}"
    );
    let err = f32_gemv.run_f32(&[1.0; 5], 2, 3, &[1.0; 3], 1).unwrap_err();
    assert!(err.to_string().contains("`weights`"), "{err}");

    // Garbage positions and tables: the kernels finish and write nothing outside `y`.
    let mut rng = SplitMix64::new(5);
    let mut garbage = |len: usize| -> Vec<u8> { (0..len).map(|_| rng.next_u32() as u8).collect() };
    let (rows, cols, batch) = (3u32, 20_000u32, 8u32);
    let n = rows * cols;
    let blocks = 6u32;
    let positions: Vec<u32> = garbage(4 * (blocks as usize + 1))
        .chunks(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]) % (2 * n))
        .collect();
    let up = |name, b: &[u8]| gpu.upload(name, b).unwrap();
    let (luts, codes, sm, gaps) = (
        up("luts", &garbage(18 * 256)),
        up("codes", &garbage(4 * 4096)),
        up("sm", &garbage(n as usize)),
        up("gaps", &garbage(5 * 512 * 6 / 8)),
    );
    let positions = gpu.upload("positions", &positions).unwrap();
    let params = GemvParams {
        n,
        blocks,
        n_luts: 18,
        rows,
        cols,
        batch,
        _pad: [0; 2],
    };
    let align = u64::from(gpu.limits().min_storage_buffer_offset_alignment).max(256);
    let y_bytes = 4 * u64::from(rows * batch);
    let guard = vec![0xa5a5_a5a5u32; ((y_bytes + 2 * align) / 4) as usize];
    let y = gpu.upload("y", &guard).unwrap();
    let xs = gpu.upload("x", &x).unwrap();
    let partials = gpu
        .storage_buffer("partials", params.partials_bytes())
        .unwrap();
    let mut encoder = gpu.encoder("corrupt gemv");
    gemv.encode(
        &mut encoder,
        params,
        squeeze::dfloat11::device::UnitBindings {
            luts: Binding::whole(&luts),
            encoded_exponent: Binding::whole(&codes),
            sign_mantissa: Binding::whole(&sm),
            output_positions: Binding::whole(&positions),
            gaps: Binding::whole(&gaps),
        },
        Binding::new(&xs, 0, 4 * u64::from(batch * cols)),
        Binding::new(&y, align, y_bytes),
        Binding::whole(&partials),
    )
    .unwrap();
    gpu.submit_and_wait(encoder).unwrap();
    let all: Vec<u32> = gpu.read_back("y", &y, 0, guard.len()).unwrap();
    let (head, tail) = ((align / 4) as usize, ((align + y_bytes) / 4) as usize);
    assert!(
        all[..head].iter().all(|&w| w == 0xa5a5_a5a5),
        "wrote before y"
    );
    assert!(
        all[tail..].iter().all(|&w| w == 0xa5a5_a5a5),
        "wrote after y"
    );
}
