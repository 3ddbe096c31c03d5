//! Bad input to the attention kernels: typed errors naming the argument, before anything is
//! dispatched — page tables (out-of-range pages, inconsistent indptr, bad last-page lengths),
//! unsupported head dims and GQA groups, budgets below sink + window, short bindings, appends
//! that do not fit, block caches (q8_0 / q4_0) with partial blocks, wrong inputs or another
//! kernel's format, KIVI caches (int4 / int2) with partial groups, bindings without their
//! residual or appends without their touched pages; the subgroup prefill without subgroups.

use squeeze::attention::decode::{Decode, DecodeArgs, DecodePath, HeadPolicy, Tokens};
use squeeze::attention::host::{HostKv, Uploaded, run_decode, run_sparse};
use squeeze::attention::{
    Append, Budget, CacheLayout, DevicePageTable, KvCache, KvDtype, NewTokens, PageTable, Query,
    Selector,
};
use squeeze::{Binding, DType, Error, Gpu, GpuOptions, enumerate_adapters};
use squeeze_conformance::adapters::NO_ADAPTER_HELP;

fn gpu() -> Gpu {
    Gpu::new(GpuOptions::default()).unwrap_or_else(|e| panic!("{NO_ADAPTER_HELP}\n({e})"))
}

fn is_invalid(err: &Error, name: &str) -> bool {
    matches!(err, Error::InvalidArgument { arg, .. } if *arg == name)
}

fn layout(pages: u32, head_dim: u32) -> CacheLayout {
    CacheLayout {
        pages,
        page_size: 4,
        kv_heads: 2,
        head_dim,
        dtype: KvDtype::F32,
    }
}

/// A 2-sequence table (lengths 6 and 3) on pages 0..3.
fn table() -> PageTable {
    PageTable {
        indptr: vec![0, 2, 3],
        indices: vec![2, 0, 1],
        last_page_len: vec![2, 3],
    }
}

#[test]
fn inconsistent_page_tables_are_refused() {
    let l = layout(3, 64);
    assert_eq!(table().check(&l).unwrap(), vec![6, 3]);
    let cases: [(&str, PageTable); 7] = [
        (
            "page_indices",
            PageTable {
                indices: vec![2, 0, 3],
                ..table()
            },
        ),
        (
            "page_indptr",
            PageTable {
                indptr: vec![1, 2, 3],
                ..table()
            },
        ),
        (
            "page_indptr",
            PageTable {
                indptr: vec![0, 2, 1],
                ..table()
            },
        ),
        (
            "page_indptr",
            PageTable {
                indptr: vec![0, 2, 2],
                ..table()
            },
        ),
        (
            "page_indptr",
            PageTable {
                indptr: vec![0],
                indices: vec![],
                last_page_len: vec![],
            },
        ),
        (
            "last_page_len",
            PageTable {
                last_page_len: vec![5, 3],
                ..table()
            },
        ),
        (
            "last_page_len",
            PageTable {
                last_page_len: vec![2],
                ..table()
            },
        ),
    ];
    for (arg, t) in cases {
        let err = t.check(&l).unwrap_err();
        assert!(is_invalid(&err, arg), "{arg}: {err}");
    }
    // A sequence without pages must say 0 tokens in its last page.
    let empty = PageTable {
        indptr: vec![0, 0],
        indices: vec![],
        last_page_len: vec![1],
    };
    assert!(is_invalid(&empty.check(&l).unwrap_err(), "last_page_len"));
    let gpu = gpu();
    let err = DevicePageTable::new(&gpu, layout(2, 64), &table())
        .err()
        .unwrap();
    assert!(
        is_invalid(&err, "page_indices") && err.to_string().contains("< pages = 2"),
        "{err}"
    );
}

#[test]
fn head_dims_and_groups_outside_the_kernels_are_refused() {
    for d in [0, 32, 96, 512] {
        let err = layout(3, d).check().unwrap_err();
        assert!(
            is_invalid(&err, "head_dim") && err.to_string().contains("64, 128 or 256"),
            "{err}"
        );
    }
    let l = layout(3, 128);
    assert!(is_invalid(&l.check_q_heads(3).unwrap_err(), "q_heads"));
    assert!(is_invalid(&l.check_q_heads(0).unwrap_err(), "q_heads"));
    // 16 query heads per KV head × 128 = 2048: the most one workgroup accumulates.
    assert_eq!(l.check_q_heads(32).unwrap(), 16);
    let err = l.check_q_heads(34).unwrap_err();
    assert!(
        is_invalid(&err, "q_heads") && err.to_string().contains("at most 16"),
        "{err}"
    );
    let err = CacheLayout { page_size: 0, ..l }.check().unwrap_err();
    assert!(is_invalid(&err, "page_size"), "{err}");
    let err = CacheLayout { kv_heads: 0, ..l }.check().unwrap_err();
    assert!(is_invalid(&err, "kv_heads"), "{err}");
}

fn uploaded(gpu: &Gpu) -> Uploaded {
    let l = layout(3, 64);
    let n = l.elements() as usize;
    let kv = vec![0.5f32; n];
    Uploaded::new(
        gpu,
        l,
        &table(),
        HostKv::F32 { k: &kv, v: &kv },
        &vec![0.25; 2 * 4 * 64],
        4,
    )
    .unwrap()
}

#[test]
fn budgets_below_sink_and_window_are_refused() {
    let gpu = gpu();
    let data = uploaded(&gpu);
    let err = run_sparse(
        &gpu,
        &data,
        0.125,
        Selector::Tidal,
        Budget {
            tokens: 4,
            sink: 2,
            window: 3,
        },
        DecodePath::Tiled,
    )
    .unwrap_err();
    assert!(
        is_invalid(&err, "budget") && err.to_string().contains("sink + window = 5"),
        "{err}"
    );
    // Quest rounds down to whole pages of 4: 3 tokens is no page.
    let err = run_sparse(
        &gpu,
        &data,
        0.125,
        Selector::Quest,
        Budget {
            tokens: 3,
            sink: 0,
            window: 0,
        },
        DecodePath::Tiled,
    )
    .unwrap_err();
    assert!(is_invalid(&err, "budget"), "{err}");
    // Sink page 0 and window pages 0..2 of the 6-token sequence: 2 pages are needed.
    let err = run_sparse(
        &gpu,
        &data,
        0.125,
        Selector::Quest,
        Budget {
            tokens: 4,
            sink: 1,
            window: 3,
        },
        DecodePath::Tiled,
    )
    .unwrap_err();
    assert!(
        is_invalid(&err, "budget") && err.to_string().contains("2 sink and window pages"),
        "{err}"
    );
    // Quest without metadata in the cache.
    let sparse = squeeze::attention::Sparse::new(&gpu, KvDtype::F32).unwrap();
    let ws = sparse
        .workspace(
            &data.table,
            4,
            Selector::Quest,
            Budget {
                tokens: 8,
                sink: 0,
                window: 0,
            },
        )
        .unwrap();
    let out = gpu.storage_buffer("o", 2 * 4 * 64 * 4).unwrap();
    let mut encoder = gpu.encoder("quest");
    let err = sparse
        .encode(
            &mut encoder,
            &data.table,
            &data.kv(None),
            &data.query(0.125),
            &ws,
            Binding::whole(&out),
        )
        .unwrap_err();
    assert!(is_invalid(&err, "meta"), "{err}");
}

#[test]
fn short_bindings_policies_and_scales_are_refused() {
    let gpu = gpu();
    let data = uploaded(&gpu);
    let err = run_decode(&gpu, &data, 0.125, &[HeadPolicy::Full], DecodePath::Tiled).unwrap_err();
    assert!(
        is_invalid(&err, "policy") && err.to_string().contains("kv_heads = 2"),
        "{err}"
    );
    let err = run_decode(
        &gpu,
        &data,
        f32::NAN,
        &[HeadPolicy::Full; 2],
        DecodePath::Tiled,
    )
    .unwrap_err();
    assert!(is_invalid(&err, "scale"), "{err}");
    let decode = Decode::new(&gpu, KvDtype::F32).unwrap();
    let policy = [HeadPolicy::Full; 2];
    let tokens = Tokens::Policy(&policy);
    let scratch = gpu
        .storage_buffer("scratch", decode.scratch_bytes(&data.table, 4, &tokens))
        .unwrap();
    let small = gpu.storage_buffer("small", 256).unwrap();
    let out = gpu.storage_buffer("o", 2 * 4 * 64 * 4).unwrap();
    let mut encoder = gpu.encoder("decode");
    let record = |encoder: &mut squeeze::wgpu::CommandEncoder,
                  kv: KvCache<'_>,
                  q: Binding<'_>,
                  heads: u32,
                  tokens: Tokens<'_>,
                  o: Binding<'_>| {
        decode.encode(
            encoder,
            &DecodeArgs {
                table: &data.table,
                kv: &kv,
                query: &Query {
                    q,
                    heads,
                    scale: 0.125,
                    dtype: DType::F32,
                },
                tokens: &tokens,
                scratch: Binding::whole(&scratch),
                out: o.into(),
            },
        )
    };
    let kv = data.kv(None);
    let q = Binding::whole(&data.q);
    let short_k = KvCache {
        k: Binding::whole(&small),
        ..kv
    };
    assert!(is_invalid(
        &record(&mut encoder, short_k, q, 4, tokens, Binding::whole(&out)).unwrap_err(),
        "k_pages"
    ));
    assert!(is_invalid(
        &record(
            &mut encoder,
            kv,
            Binding::whole(&small),
            4,
            tokens,
            Binding::whole(&out)
        )
        .unwrap_err(),
        "q"
    ));
    assert!(is_invalid(
        &record(&mut encoder, kv, q, 4, tokens, Binding::whole(&small)).unwrap_err(),
        "o"
    ));
    assert!(is_invalid(
        &record(&mut encoder, kv, q, 3, tokens, Binding::whole(&out)).unwrap_err(),
        "q_heads"
    ));
    let list = Tokens::Selected {
        list: Binding::whole(&small),
        entries_per_row: 100,
        tokens_per_entry: 1,
    };
    assert!(is_invalid(
        &record(&mut encoder, kv, q, 4, list, Binding::whole(&out)).unwrap_err(),
        "selected"
    ));
    let list = Tokens::Selected {
        list: Binding::whole(&small),
        entries_per_row: 0,
        tokens_per_entry: 1,
    };
    assert!(is_invalid(
        &record(&mut encoder, kv, q, 4, list, Binding::whole(&out)).unwrap_err(),
        "selected"
    ));
    // A decode built for f16 refuses an f32 cache.
    let f16_decode = Decode::new(&gpu, KvDtype::F16).unwrap();
    let args = DecodeArgs {
        table: &data.table,
        kv: &kv,
        query: &data.query(0.125),
        tokens: &tokens,
        scratch: Binding::whole(&scratch),
        out: Binding::whole(&out).into(),
    };
    let err = f16_decode.encode(&mut encoder, &args).unwrap_err();
    assert!(is_invalid(&err, "k_pages"), "{err}");
    // Host tensors of the wrong size.
    let l = layout(3, 64);
    let short = vec![0f32; 10];
    let err = Uploaded::new(
        &gpu,
        l,
        &table(),
        HostKv::F32 {
            k: &short,
            v: &short,
        },
        &[0.0; 512],
        4,
    )
    .err()
    .unwrap();
    assert!(is_invalid(&err, "k_pages"), "{err}");
}

#[test]
fn appends_that_do_not_fit_are_refused() {
    let gpu = gpu();
    let data = uploaded(&gpu);
    let append = Append::new(&gpu, KvDtype::F32).unwrap();
    let row = 2 * 64 * 4;
    let new = gpu.storage_buffer("new", 4 * row).unwrap();
    let mut encoder = gpu.encoder("append");
    let mut try_append = |indptr: &[u32], bytes: u64| {
        let b = Binding::new(&new, 0, bytes);
        append.encode(
            &mut encoder,
            &data.table,
            &NewTokens {
                append_indptr: indptr,
                k: b,
                v: b,
            },
            &data.kv(None),
        )
    };
    // More tokens for sequence 1 than it holds (3).
    assert!(is_invalid(
        &try_append(&[0, 0, 4], 4 * row).unwrap_err(),
        "append_indptr"
    ));
    assert!(is_invalid(
        &try_append(&[0, 1], row).unwrap_err(),
        "append_indptr"
    ));
    assert!(is_invalid(
        &try_append(&[1, 1, 2], row).unwrap_err(),
        "append_indptr"
    ));
    // Two tokens need two rows of K.
    assert!(is_invalid(
        &try_append(&[0, 1, 2], row).unwrap_err(),
        "k_new"
    ));
    try_append(&[0, 1, 2], 2 * row).unwrap();
}

#[test]
fn engine_tables_and_placed_appends_check_their_bindings() {
    use squeeze::attention::quest_meta::all_pages;
    use squeeze::attention::{EngineTable, PlacedTokens};

    let gpu = gpu();
    let l = layout(3, 64);
    let words = |n: u64| gpu.storage_buffer("words", n * 4).unwrap();
    let (indptr, indices, last, lens) = (words(3), words(3), words(2), words(2));
    let short = words(2);
    let open = |batch, capacity, short_indptr: bool| {
        let table = EngineTable {
            batch,
            capacity,
            indptr: Binding::whole(if short_indptr { &short } else { &indptr }),
            indices: Binding::whole(&indices),
            last_page_len: Binding::whole(&last),
            seq_lens: Binding::whole(&lens),
        };
        DevicePageTable::from_engine(&gpu, l, &table)
    };
    let err = open(0, 8, false).err().unwrap();
    assert!(is_invalid(&err, "batch"), "{err}");
    let err = open(2, 13, false).err().unwrap();
    assert!(
        is_invalid(&err, "capacity") && err.to_string().contains("3 pages"),
        "{err}"
    );
    let err = open(2, 8, true).err().unwrap();
    assert!(is_invalid(&err, "page_indptr"), "{err}");
    let table = open(2, 12, false).unwrap();
    assert_eq!(
        (table.batch(), table.max_len(), table.max_pages()),
        (2, 12, 3)
    );
    assert!(table.table().is_none() && table.seq_lens().is_none());

    // Host-list conveniences need host lengths: an engine table says so.
    let err = all_pages(&table).unwrap_err();
    assert!(is_invalid(&err, "table"), "{err}");
    let kv_bytes = u64::from(l.pages * l.page_size * l.kv_heads * l.head_dim) * 4;
    let (k, v) = (
        gpu.storage_buffer("k", kv_bytes).unwrap(),
        gpu.storage_buffer("v", kv_bytes).unwrap(),
    );
    let meta = gpu.storage_buffer("meta", kv_bytes).unwrap();
    let kv = KvCache {
        k: Binding::whole(&k),
        v: Binding::whole(&v),
        meta: None,
    };
    let append = Append::new(&gpu, KvDtype::F32).unwrap();
    let row = gpu.storage_buffer("row", 2 * 64 * 4).unwrap();
    let mut encoder = gpu.encoder("test");
    let host_append = NewTokens {
        append_indptr: &[0, 1, 1],
        k: Binding::whole(&row),
        v: Binding::whole(&row),
    };
    let err = append
        .encode(&mut encoder, &table, &host_append, &kv)
        .unwrap_err();
    assert!(is_invalid(&err, "table"), "{err}");

    // Placed tokens: rows must hold every token, and Quest metadata needs the touched pages.
    let rows = words(1);
    let placed = |tokens| PlacedTokens {
        tokens,
        rows: Binding::whole(&rows),
        k: Binding::whole(&row),
        v: Binding::whole(&row),
        touched: None,
    };
    let err = append
        .encode_placed(&mut encoder, &table, &placed(2), &kv)
        .unwrap_err();
    assert!(
        is_invalid(&err, "rows") || is_invalid(&err, "k_new"),
        "{err}"
    );
    let with_meta = KvCache {
        meta: Some(Binding::whole(&meta)),
        ..kv
    };
    let err = append
        .encode_placed(&mut encoder, &table, &placed(1), &with_meta)
        .unwrap_err();
    assert!(is_invalid(&err, "touched"), "{err}");
    // Nothing was recorded by the refused calls; a good one records.
    append
        .encode_placed(&mut encoder, &table, &placed(1), &kv)
        .unwrap();
    gpu.submit_and_wait(encoder).unwrap();
}

#[test]
fn prefills_with_bad_query_layouts_are_refused() {
    use squeeze::attention::{Prefill, PrefillArgs};

    let gpu = gpu();
    // Sequences of 6 and 3 tokens, 4 query heads over 2 KV heads, d 64.
    let data = uploaded(&gpu);
    let prefill = Prefill::new(&gpu, KvDtype::F32).unwrap();
    let rows = 9u64;
    let q = gpu.storage_buffer("q", rows * 4 * 64 * 4).unwrap();
    let out = gpu.storage_buffer("o", rows * 4 * 64 * 4).unwrap();
    let small = gpu.storage_buffer("small", 256).unwrap();
    let kv = data.kv(None);
    let query = |heads, q| Query {
        q,
        heads,
        scale: 0.125,
        dtype: DType::F32,
    };
    let check = |qo_indptr: &[u32], query: &Query<'_>, o: Binding<'_>| {
        prefill.check(&PrefillArgs {
            table: &data.table,
            kv: &kv,
            query,
            qo_indptr,
            out: o.into(),
        })
    };
    let good = query(4, Binding::whole(&q));
    check(&[0, 6, 9], &good, Binding::whole(&out)).unwrap();
    check(&[0, 1, 2], &good, Binding::whole(&out)).unwrap();
    for (qo_indptr, says) in [
        (&[0, 6][..], "batch + 1 = 3"),
        (&[1, 6, 9][..], "element 0"),
        (&[0, 6, 5][..], "non-decreasing"),
        (&[0, 0, 0][..], "at least one"),
        // 7 new tokens in a sequence of 6.
        (&[0, 7, 8][..], "at most its length 6"),
        (&[0, 2, 6][..], "at most its length 3"),
    ] {
        let err = check(qo_indptr, &good, Binding::whole(&out)).unwrap_err();
        assert!(
            is_invalid(&err, "qo_indptr") && err.to_string().contains(says),
            "{qo_indptr:?}: {err}"
        );
    }
    // Query heads that are not whole KV groups; q and o shorter than the rows.
    let heads3 = query(3, Binding::whole(&q));
    let err = check(&[0, 6, 9], &heads3, Binding::whole(&out)).unwrap_err();
    assert!(is_invalid(&err, "q_heads"), "{err}");
    let short_q = query(4, Binding::whole(&small));
    let err = check(&[0, 6, 9], &short_q, Binding::whole(&out)).unwrap_err();
    assert!(is_invalid(&err, "q"), "{err}");
    let err = check(&[0, 6, 9], &good, Binding::whole(&small)).unwrap_err();
    assert!(is_invalid(&err, "o"), "{err}");
    let err = check(
        &[0, 6, 9],
        &Query {
            scale: f32::INFINITY,
            ..good
        },
        Binding::whole(&out),
    )
    .unwrap_err();
    assert!(is_invalid(&err, "scale"), "{err}");
    // A cache of another format than the kernel's.
    let err = Prefill::new(&gpu, KvDtype::F16)
        .unwrap()
        .check(&PrefillArgs {
            table: &data.table,
            kv: &kv,
            query: &good,
            qo_indptr: &[0, 6, 9],
            out: Binding::whole(&out).into(),
        })
        .unwrap_err();
    assert!(is_invalid(&err, "k_pages"), "{err}");
}

#[test]
fn block_caches_refuse_partial_blocks_wrong_inputs_and_mixed_formats() {
    let gpu = gpu();
    // head_dim must be whole 32-value blocks; the block check names the format.
    let l = CacheLayout {
        head_dim: 48,
        dtype: KvDtype::Q8_0,
        ..layout(3, 64)
    };
    let err = l.check().unwrap_err();
    assert!(
        is_invalid(&err, "head_dim") && err.to_string().contains("q8_0"),
        "{err}"
    );
    assert_eq!(
        KvDtype::parse("q4_1").map_err(|e| is_invalid(&e, "kv")),
        Err(true)
    );
    // Rows come in f32 or f16 only.
    let err = Append::with_input(&gpu, KvDtype::Q4_0, DType::Bf16).err();
    assert!(err.is_some_and(|e| is_invalid(&e, "k_new")));
    // A q8_0 pool is 34 bytes per 32 values: f16-sized host bytes are refused.
    let q8 = CacheLayout {
        dtype: KvDtype::Q8_0,
        ..layout(3, 64)
    };
    let short = vec![0u8; (q8.elements() * 2) as usize];
    let err = Uploaded::new(
        &gpu,
        q8,
        &table(),
        HostKv::Blocks {
            dtype: KvDtype::Q8_0,
            k: &short,
            v: &short,
        },
        &[0.0; 2 * 2 * 64],
        2,
    )
    .err();
    assert!(err.is_some_and(|e| is_invalid(&e, "k_pages")));
    // Bytes of one format handed to a kernel of another, and a pool sized for f16.
    let bytes = vec![0u8; q8.data_bytes() as usize];
    let kv = HostKv::Blocks {
        dtype: KvDtype::Q4_0,
        k: &bytes,
        v: &bytes,
    };
    let err = Uploaded::new(&gpu, q8, &table(), kv, &[0.0; 2 * 2 * 64], 2).err();
    assert!(err.is_some_and(|e| is_invalid(&e, "k_pages")));
    let data = Uploaded::new(
        &gpu,
        q8,
        &table(),
        HostKv::Blocks {
            dtype: KvDtype::Q8_0,
            k: &bytes,
            v: &bytes,
        },
        &[0.0; 2 * 2 * 64],
        2,
    )
    .unwrap();
    let err = run_decode(
        &gpu,
        &data,
        0.125,
        &[HeadPolicy::Full; 2],
        DecodePath::best(&gpu),
    );
    assert!(err.is_ok(), "{err:?}");
    let decode = Decode::new(&gpu, KvDtype::Q4_0).unwrap();
    let policy = [HeadPolicy::Full; 2];
    let tokens = Tokens::Policy(&policy);
    let scratch = gpu
        .storage_buffer("scratch", decode.scratch_bytes(&data.table, 2, &tokens))
        .unwrap();
    let out = gpu.storage_buffer("o", 2 * 2 * 64 * 4).unwrap();
    let err = decode
        .encode(
            &mut gpu.encoder("decode"),
            &DecodeArgs {
                table: &data.table,
                kv: &data.kv(None),
                query: &data.query(0.125),
                tokens: &tokens,
                scratch: Binding::whole(&scratch),
                out: Binding::whole(&out).into(),
            },
        )
        .unwrap_err();
    assert!(
        is_invalid(&err, "k_pages") && err.to_string().contains("q4_0"),
        "{err}"
    );
    // f16 rows into a q4_0 cache: two bytes per value, not four.
    let q4 = CacheLayout {
        dtype: KvDtype::Q4_0,
        ..layout(3, 64)
    };
    let pool = gpu.storage_buffer("pool", q4.bytes()).unwrap();
    let table = DevicePageTable::new(&gpu, q4, &table()).unwrap();
    let row = 2 * 64;
    let new = gpu.storage_buffer("new", 2 * row * 4).unwrap();
    let append = Append::with_input(&gpu, KvDtype::Q4_0, DType::F16).unwrap();
    let mut encoder = gpu.encoder("append");
    let mut try_append = |bytes: u64| {
        let b = Binding::new(&new, 0, bytes);
        append.encode(
            &mut encoder,
            &table,
            &NewTokens {
                append_indptr: &[0, 1, 2],
                k: b,
                v: b,
            },
            &KvCache {
                k: Binding::whole(&pool),
                v: Binding::whole(&pool),
                meta: None,
            },
        )
    };
    assert!(is_invalid(&try_append(2 * row - 2).unwrap_err(), "k_new"));
    try_append(2 * row * 2).unwrap();
}

#[test]
fn kivi_caches_refuse_partial_groups_missing_residuals_and_touched_lists() {
    use squeeze::attention::{PlacedTokens, Pool};

    let gpu = gpu();
    // head_dim must be whole groups of 32 (V's groups); the check names the format.
    let err = CacheLayout {
        head_dim: 48,
        dtype: KvDtype::Int4,
        ..layout(3, 64)
    }
    .check()
    .unwrap_err();
    assert!(
        is_invalid(&err, "head_dim") && err.to_string().contains("int4"),
        "{err}"
    );
    let l = CacheLayout {
        dtype: KvDtype::Int2,
        ..layout(3, 64)
    };
    let table = DevicePageTable::new(&gpu, l, &table()).unwrap();
    // Host bytes: the whole binding (pool and residual of both sequences), or refused.
    let pool_only = vec![0u8; l.pool_bytes(Pool::K) as usize];
    let err = Uploaded::new(
        &gpu,
        l,
        &self::table(),
        HostKv::Blocks {
            dtype: KvDtype::Int2,
            k: &pool_only,
            v: &pool_only,
        },
        &[0.0; 2 * 2 * 64],
        2,
    )
    .err();
    assert!(err.is_some_and(|e| is_invalid(&e, "k_pages")));
    // Bindings that hold the pools but not the residual are refused by appends and readers.
    let (k, v) = (
        gpu.storage_buffer("k", l.pool_bytes(Pool::K)).unwrap(),
        gpu.storage_buffer("v", l.pool_bytes(Pool::V)).unwrap(),
    );
    let short = KvCache {
        k: Binding::whole(&k),
        v: Binding::whole(&v),
        meta: None,
    };
    let new = gpu.storage_buffer("new", 3 * 2 * 64 * 4).unwrap();
    let append = Append::new(&gpu, KvDtype::Int2).unwrap();
    let host_append = NewTokens {
        append_indptr: &[0, 2, 3],
        k: Binding::whole(&new),
        v: Binding::whole(&new),
    };
    let mut encoder = gpu.encoder("kivi");
    let err = append
        .encode(&mut encoder, &table, &host_append, &short)
        .unwrap_err();
    assert!(is_invalid(&err, "k_pages"), "{err}");
    let decode = Decode::new(&gpu, KvDtype::Int2).unwrap();
    let policy = [HeadPolicy::Full; 2];
    let tokens = Tokens::Policy(&policy);
    let scratch = gpu
        .storage_buffer("scratch", decode.scratch_bytes(&table, 2, &tokens))
        .unwrap();
    let q = gpu.storage_buffer("q", 2 * 2 * 64 * 4).unwrap();
    let out = gpu.storage_buffer("o", 2 * 2 * 64 * 4).unwrap();
    let err = decode
        .encode(
            &mut encoder,
            &DecodeArgs {
                table: &table,
                kv: &short,
                query: &Query {
                    q: Binding::whole(&q),
                    heads: 2,
                    scale: 0.125,
                    dtype: DType::F32,
                },
                tokens: &tokens,
                scratch: Binding::whole(&scratch),
                out: Binding::whole(&out).into(),
            },
        )
        .unwrap_err();
    assert!(is_invalid(&err, "k_pages"), "{err}");
    // With the residual: placed tokens must name the pages they touch (the pages to quantize).
    let (k, v) = (
        gpu.storage_buffer("k", l.binding_bytes(Pool::K, 2))
            .unwrap(),
        gpu.storage_buffer("v", l.binding_bytes(Pool::V, 2))
            .unwrap(),
    );
    let kv = KvCache {
        k: Binding::whole(&k),
        v: Binding::whole(&v),
        meta: None,
    };
    let rows = gpu.upload("rows", &[8u32]).unwrap();
    let placed = PlacedTokens {
        tokens: 1,
        rows: Binding::whole(&rows),
        k: Binding::whole(&new),
        v: Binding::whole(&new),
        touched: None,
    };
    let err = append
        .encode_placed(&mut encoder, &table, &placed, &kv)
        .unwrap_err();
    assert!(is_invalid(&err, "touched"), "{err}");
    append
        .encode(&mut encoder, &table, &host_append, &kv)
        .unwrap();
    gpu.submit_and_wait(encoder).unwrap();
}

#[test]
fn subgroup_prefill_without_the_feature_is_a_typed_error() {
    use squeeze::attention::{Prefill, PrefillPath};

    for entry in enumerate_adapters() {
        let Ok(gpu) = Gpu::open(&entry) else { continue };
        match Prefill::with_path(&gpu, KvDtype::F16, PrefillPath::Subgroup) {
            Ok(prefill) => {
                assert!(PrefillPath::Subgroup.runs_on(&gpu), "{}", gpu.label());
                assert_eq!(prefill.path(), PrefillPath::Subgroup);
                // One kernel per head dimension: only the supported ones compile.
                prefill.prepare(128, DType::F16, DType::F32).unwrap();
                let err = prefill.prepare(96, DType::F32, DType::F32).unwrap_err();
                assert!(
                    is_invalid(&err, "head_dim") && err.to_string().contains("96"),
                    "{err}"
                );
            }
            Err(e) => assert!(
                !PrefillPath::Subgroup.runs_on(&gpu)
                    && matches!(
                        e,
                        Error::MissingFeature { .. }
                            | Error::InvalidArgument {
                                arg: "prefill path",
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
fn subgroup_decode_without_the_feature_is_a_typed_error() {
    use squeeze::attention::Sparse;

    for entry in enumerate_adapters() {
        let Ok(gpu) = Gpu::open(&entry) else { continue };
        match Decode::with_path(&gpu, KvDtype::F16, DecodePath::Subgroup) {
            Ok(decode) => {
                assert!(DecodePath::Subgroup.runs_on(&gpu), "{}", gpu.label());
                assert_eq!(decode.path(), DecodePath::Subgroup);
                // One kernel per head dimension: only the supported ones compile.
                decode.prepare_for(3, 64, DType::F16).unwrap();
                let err = decode.prepare(4, 96).unwrap_err();
                assert!(
                    is_invalid(&err, "head_dim") && err.to_string().contains("96"),
                    "{err}"
                );
            }
            Err(e) => {
                assert!(
                    !DecodePath::Subgroup.runs_on(&gpu)
                        && matches!(
                            e,
                            Error::MissingFeature { .. }
                                | Error::InvalidArgument {
                                    arg: "decode path",
                                    ..
                                }
                        ),
                    "{}: {e}",
                    gpu.label()
                );
                // The sparse step's decode refuses the same way.
                let sparse = Sparse::with_path(&gpu, KvDtype::F16, DecodePath::Subgroup);
                assert!(sparse.is_err(), "{}", gpu.label());
            }
        }
        // The tiled path runs everywhere.
        Decode::with_path(&gpu, KvDtype::F16, DecodePath::Tiled).unwrap();
    }
}
