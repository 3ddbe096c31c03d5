//! Property test: GPU top-k equals the CPU reference (values bit for bit, indices exactly) on
//! small random problems: any rows, n, k, order, dtype, per-row lengths, with ties, NaN, ±inf and
//! ±0 likely, through every selection path (Auto, which takes the small-row kernel here, one
//! workgroup per row, cooperative) and, where the device has subgroups, either scan. Few cases,
//! since each runs on the GPU (lavapipe in CI).

use std::sync::OnceLock;

use half::{bf16, f16};
use proptest::prelude::*;
use squeeze::topk::{Order, Scan, Strategy as Path};
use squeeze::{Gpu, GpuOptions};
use squeeze_conformance::adapters::NO_ADAPTER_HELP;
use squeeze_conformance::topk::{Input, check_topk, check_topk_with};

/// Scores drawn from a small pool so ties are common, plus the specials.
fn score() -> impl Strategy<Value = f32> {
    prop_oneof![
        4 => (-3i32..=3).prop_map(|v| v as f32 * 0.5),
        3 => any::<f32>(),
        1 => Just(f32::NAN),
        1 => Just(f32::from_bits(0xff80_0001)),
        1 => Just(f32::INFINITY),
        1 => Just(f32::NEG_INFINITY),
        1 => Just(-0.0f32),
    ]
}

fn problem() -> impl Strategy<Value = (usize, usize, usize, bool, u8, Vec<f32>, Option<Vec<u32>>)> {
    (1usize..5, 1usize..600, any::<bool>(), 0u8..3, any::<bool>()).prop_flat_map(
        |(rows, n, smallest, dtype, with_lengths)| {
            (
                Just(rows),
                Just(n),
                1..=n,
                Just(smallest),
                Just(dtype),
                prop::collection::vec(score(), rows * n),
                if with_lengths {
                    prop::collection::vec(0..=n as u32, rows)
                        .prop_map(Some)
                        .boxed()
                } else {
                    Just(None).boxed()
                },
            )
        },
    )
}

/// One device for every case (opening one per case would dominate the run).
fn gpu() -> &'static Gpu {
    static GPU: OnceLock<Gpu> = OnceLock::new();
    GPU.get_or_init(|| {
        Gpu::new(GpuOptions::default()).unwrap_or_else(|e| panic!("{NO_ADAPTER_HELP}\n({e})"))
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn gpu_topk_equals_the_reference(
        (_rows, n, k, smallest, dtype, x, lengths) in problem(),
        path in 0u8..4,
        subgroups in any::<bool>(),
    ) {
        let gpu = gpu();
        let order = if smallest { Order::Smallest } else { Order::Largest };
        let lengths = lengths.as_deref();
        let scan = if subgroups && gpu.has_subgroups() { Scan::Subgroup } else { Scan::Workgroup };
        let strategy = [Path::Auto, Path::Small, Path::PerRow, Path::Cooperative(3)][path as usize];
        let result = match dtype {
            0 if path == 0 => check_topk(gpu, Input { x: &x, n, k, order, lengths }),
            0 => check_topk_with(gpu, (strategy, scan), Input { x: &x, n, k, order, lengths }),
            1 => {
                let x: Vec<f16> = x.iter().map(|&v| f16::from_f32(v)).collect();
                check_topk_with(gpu, (strategy, scan), Input { x: &x, n, k, order, lengths })
            }
            _ => {
                let x: Vec<bf16> = x.iter().map(|&v| bf16::from_f32(v)).collect();
                check_topk_with(gpu, (strategy, scan), Input { x: &x, n, k, order, lengths })
            }
        };
        prop_assert!(result.is_ok(), "{:?}", result.err().map(|e| e.to_string()));
    }
}
