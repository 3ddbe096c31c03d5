//! `squeeze run attention-decode` end to end: contiguous and paged caches, dense, sinks +
//! window and a sparse run, against the CPU reference; bad arguments are errors naming them.

mod common;

use common::{read_tensor, scratch, squeeze, stderr, write_tensors};
use half::f16;
use safetensors::Dtype;
use squeeze::attention::decode::HeadPolicy;
use squeeze::attention::reference::{self, HostCache};
use squeeze::attention::{CacheLayout, KvDtype, PageTable};

const D: usize = 64;

/// Deterministic values in [-1, 1) that f16 holds exactly.
fn values(n: usize, seed: u32) -> Vec<f32> {
    let mut s = seed | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            f16::from_f32((s >> 8) as f32 / (1u32 << 23) as f32 - 1.0).to_f32()
        })
        .collect()
}

fn halves(x: &[f32]) -> Vec<u8> {
    x.iter()
        .flat_map(|v| f16::from_f32(*v).to_le_bytes())
        .collect()
}

fn output_o(path: &std::path::Path, len: usize) -> Vec<f32> {
    let (dtype, shape, data) = read_tensor(path, "o");
    assert_eq!((dtype, shape.iter().product::<usize>()), (Dtype::F32, len));
    bytemuck::pod_collect_to_vec(&data)
}

fn assert_close(got: &[f32], want: &[f32]) {
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= 1e-4, "o[{i}] = {g}, reference {w}");
    }
}

#[test]
fn contiguous_dense_and_sink_window_equal_the_reference() {
    let (seq, kv_heads, q_heads) = (37usize, 2usize, 8usize);
    let k = values(seq * kv_heads * D, 1);
    let v = values(seq * kv_heads * D, 2);
    let q = values(q_heads * D, 3);
    let input = scratch("attn-in.safetensors");
    let output = scratch("attn-out.safetensors");
    write_tensors(
        &input,
        &[
            ("q", Dtype::F32, vec![q_heads, D], bytemuck::cast_slice(&q)),
            ("k", Dtype::F16, vec![seq, kv_heads, D], &halves(&k)),
            ("v", Dtype::F16, vec![seq, kv_heads, D], &halves(&v)),
        ],
    );
    // The contiguous cache is one sequence on pages 0.. of 16; pad K and V to whole pages.
    let (table, pages) = PageTable::contiguous(&[seq as u32], 16);
    let layout = CacheLayout {
        pages,
        page_size: 16,
        kv_heads: kv_heads as u32,
        head_dim: D as u32,
        dtype: KvDtype::F16,
    };
    let padded = |x: &[f32]| {
        let mut x = x.to_vec();
        x.resize(layout.elements() as usize, 0.0);
        x
    };
    let (kp, vp) = (padded(&k), padded(&v));
    let cache = HostCache {
        layout,
        k: &kp,
        v: &vp,
    };
    let scale = 1.0 / (D as f32).sqrt();
    for (sets, policy) in [
        (vec![], HeadPolicy::Full),
        (
            vec!["sink=3", "window=10"],
            HeadPolicy::SinkWindow {
                sink: 3,
                window: 10,
            },
        ),
    ] {
        let mut args = vec![
            "run",
            "attention-decode",
            input.to_str().unwrap(),
            output.to_str().unwrap(),
            "--force", // one output, rewritten by each run
        ];
        for s in &sets {
            args.extend(["--set", s]);
        }
        let out = squeeze(&args);
        assert!(out.status.success(), "{}", stderr(&out));
        let want = reference::decode(&cache, &table, &q, q_heads as u32, scale, &|_, _| {
            reference::policy_positions(policy, seq as u32)
        });
        assert_close(&output_o(&output, q_heads * D), &want);
    }
}

#[test]
fn paged_sparse_run_keeps_an_ascending_selection() {
    let (pages, page_size, kv_heads, q_heads, seq_len) = (9usize, 8usize, 2usize, 4usize, 61u32);
    let k = values(pages * page_size * kv_heads * D, 4);
    let v = values(pages * page_size * kv_heads * D, 5);
    let q = values(q_heads * D, 6);
    let page_table: [i32; 8] = [3, 0, 7, 1, 8, 2, 6, 4];
    let input = scratch("attn-paged-in.safetensors");
    let output = scratch("attn-paged-out.safetensors");
    let shape = vec![pages, page_size, kv_heads, D];
    write_tensors(
        &input,
        &[
            ("q", Dtype::F32, vec![q_heads, D], bytemuck::cast_slice(&q)),
            (
                "k_pages",
                Dtype::F32,
                shape.clone(),
                bytemuck::cast_slice(&k),
            ),
            ("v_pages", Dtype::F32, shape, bytemuck::cast_slice(&v)),
            (
                "page_table",
                Dtype::I32,
                vec![8],
                bytemuck::cast_slice(&page_table),
            ),
        ],
    );
    let mut args = vec![
        "run",
        "attention-decode",
        input.to_str().unwrap(),
        output.to_str().unwrap(),
    ];
    args.extend([
        "--set",
        "seq_len=61",
        "--set",
        "select=quest",
        "--set",
        "budget=32",
    ]);
    args.extend(["--set", "sink=1", "--set", "window=8"]);
    let out = squeeze(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let (dtype, shape, data) = read_tensor(&output, "selected");
    assert_eq!((dtype, shape), (Dtype::I32, vec![kv_heads, 4]));
    let selected: Vec<i32> = bytemuck::pod_collect_to_vec(&data);
    let table = PageTable {
        indptr: vec![0, 8],
        indices: page_table.iter().map(|&p| p as u32).collect(),
        last_page_len: vec![5],
    };
    for row in selected.chunks(4) {
        assert!(row.windows(2).all(|w| w[0] < w[1]), "{row:?} not ascending");
        // The sink page and both window pages are kept.
        assert!(
            row.contains(&0) && row.contains(&6) && row.contains(&7),
            "{row:?}"
        );
    }
    let layout = CacheLayout {
        pages: pages as u32,
        page_size: page_size as u32,
        kv_heads: kv_heads as u32,
        head_dim: D as u32,
        dtype: KvDtype::F32,
    };
    let cache = HostCache {
        layout,
        k: &k,
        v: &v,
    };
    let want = reference::decode(&cache, &table, &q, q_heads as u32, 0.125, &|_, h| {
        reference::selected_positions(&selected[h * 4..h * 4 + 4], 8, seq_len)
    });
    assert_close(&output_o(&output, q_heads * D), &want);

    // seq_len must agree with the page table; budgets must hold sink + window.
    for (set, arg) in [
        ("seq_len=70", "seq_len"),
        ("budget=4", "budget"),
        ("select=dense", "select"),
        ("page_size=16", "page_size"),
    ] {
        let mut args = vec![
            "run",
            "attention-decode",
            input.to_str().unwrap(),
            output.to_str().unwrap(),
            "--force", // one output, rewritten by each run
        ];
        let mut sets = vec![
            "seq_len=61",
            "select=quest",
            "budget=32",
            "sink=1",
            "window=8",
        ];
        let key = set.split('=').next().unwrap();
        sets.retain(|s| !s.starts_with(key));
        sets.push(set);
        for s in &sets {
            args.extend(["--set", s]);
        }
        let out = squeeze(&args);
        assert!(!out.status.success(), "{set} was accepted");
        assert!(
            stderr(&out).contains(&format!("`{arg}`")),
            "{set}: {}",
            stderr(&out)
        );
    }
}

#[test]
fn quantized_caches_decode_over_the_reference_quantizers_values() {
    let (seq, kv_heads, q_heads) = (45usize, 2usize, 4usize);
    let k = values(seq * kv_heads * D, 11);
    let v = values(seq * kv_heads * D, 12);
    let q = values(q_heads * D, 13);
    let input = scratch("attn-quant-in.safetensors");
    let output = scratch("attn-quant-out.safetensors");
    write_tensors(
        &input,
        &[
            ("q", Dtype::F32, vec![q_heads, D], bytemuck::cast_slice(&q)),
            ("k", Dtype::F16, vec![seq, kv_heads, D], &halves(&k)),
            (
                "v",
                Dtype::F32,
                vec![seq, kv_heads, D],
                bytemuck::cast_slice(&v),
            ),
        ],
    );
    // k and v must share a dtype.
    let out = squeeze(&[
        "run",
        "attention-decode",
        input.to_str().unwrap(),
        output.to_str().unwrap(),
        "--force",
        "--set",
        "kv=q8_0",
    ]);
    assert!(!out.status.success());
    write_tensors(
        &input,
        &[
            ("q", Dtype::F32, vec![q_heads, D], bytemuck::cast_slice(&q)),
            ("k", Dtype::F16, vec![seq, kv_heads, D], &halves(&k)),
            ("v", Dtype::F16, vec![seq, kv_heads, D], &halves(&v)),
        ],
    );
    let (table, pages) = PageTable::contiguous(&[seq as u32], 16);
    let scale = 1.0 / (D as f32).sqrt();
    for kv in [KvDtype::Q8_0, KvDtype::Q4_0, KvDtype::Int4, KvDtype::Int2] {
        let layout = CacheLayout {
            pages,
            page_size: 16,
            kv_heads: kv_heads as u32,
            head_dim: D as u32,
            dtype: kv,
        };
        let stored = |x: &[f32]| {
            let mut x = x.to_vec();
            x.resize(layout.elements() as usize, 0.0);
            let bytes = reference::quantize_row(kv, &x).unwrap();
            reference::dequantize_row(kv, &bytes).unwrap()
        };
        // KIVI: 45 tokens are two quantized pages and 13 in the f16 residual.
        let shape = (16, kv_heads as u32, D as u32);
        let (kq, vq) = match reference::kivi::sequence(kv, shape, &k, &v) {
            Some((mut kq, mut vq)) => {
                kq.resize(layout.elements() as usize, 0.0);
                vq.resize(layout.elements() as usize, 0.0);
                (kq, vq)
            }
            None => (stored(&k), stored(&v)),
        };
        let cache = HostCache {
            layout,
            k: &kq,
            v: &vq,
        };
        let set = format!("kv={kv}");
        let out = squeeze(&[
            "run",
            "attention-decode",
            input.to_str().unwrap(),
            output.to_str().unwrap(),
            "--force",
            "--set",
            &set,
            "--set",
            "sink=2",
            "--set",
            "window=20",
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        let policy = HeadPolicy::SinkWindow {
            sink: 2,
            window: 20,
        };
        let want = reference::decode(&cache, &table, &q, q_heads as u32, scale, &|_, _| {
            reference::policy_positions(policy, seq as u32)
        });
        assert_close(&output_o(&output, q_heads * D), &want);
    }
    let out = squeeze(&[
        "run",
        "attention-decode",
        input.to_str().unwrap(),
        output.to_str().unwrap(),
        "--force",
        "--set",
        "kv=int3",
    ]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("kv"), "{}", stderr(&out));
}
