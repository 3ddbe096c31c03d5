"""squeeze.attention_decode against a NumPy softmax-attention reference: contiguous and paged
caches, dense, sinks + window, and sparse steps over the indices they return."""

import numpy as np
import pytest

import squeeze

Q_HEADS, KV_HEADS, D, SEQ = 4, 2, 64, 61


def reference(q, k, v, scale, tokens=None):
    """o [q_heads, d]; `tokens[h]` limits KV head h to those token positions."""
    group = q.shape[0] // k.shape[1]
    o = np.zeros(q.shape, dtype=np.float64)
    for h in range(q.shape[0]):
        kv = h // group
        keep = np.arange(k.shape[0]) if tokens is None else np.asarray(tokens[kv])
        s = k[keep, kv].astype(np.float64) @ q[h].astype(np.float64) * scale
        p = np.exp(s - s.max())
        o[h] = (p / p.sum()) @ v[keep, kv].astype(np.float64)
    return o


def cache(seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((Q_HEADS, D)).astype(np.float32)
    k = rng.standard_normal((SEQ, KV_HEADS, D)).astype(dtype)
    v = rng.standard_normal((SEQ, KV_HEADS, D)).astype(dtype)
    return q, k, v


def paged(k, v, page_size, seed=1):
    """The cache on a shuffled pool with spare pages: (k_pages, v_pages, page_table)."""
    rng = np.random.default_rng(seed)
    n_pages = -(-SEQ // page_size)
    pool = n_pages + 3
    table = rng.permutation(pool)[:n_pages].astype(np.int32)
    shape = (pool, page_size, KV_HEADS, D)
    k_pages, v_pages = rng.standard_normal(shape).astype(k.dtype), rng.standard_normal(shape).astype(k.dtype)
    for i, p in enumerate(table):
        part = slice(i * page_size, min((i + 1) * page_size, SEQ))
        n = part.stop - part.start
        k_pages[p, :n], v_pages[p, :n] = k[part], v[part]
    return k_pages, v_pages, table


def test_dense_contiguous_and_paged(device):
    q, k, v = cache()
    want = reference(q, k, v, 1 / np.sqrt(D))
    o, selected = squeeze.attention_decode(q, k, v, kv="f32", device=device)
    assert o.dtype == np.float32 and o.shape == (Q_HEADS, D) and selected is None
    np.testing.assert_allclose(o, want, rtol=1e-4, atol=1e-5)
    k_pages, v_pages, table = paged(k, v, 8)
    o, _ = squeeze.attention_decode(q, k_pages, v_pages, page_table=table, seq_len=SEQ, kv="f32", scale=0.1, device=device)
    np.testing.assert_allclose(o, reference(q, k, v, 0.1), rtol=1e-4, atol=1e-5)


def dequantized_q8_0(x):
    """ggml's quantize_row_q8_0_ref then dequantize, per row of 32 along the last axis."""
    blocks = x.astype(np.float32).reshape(-1, 32)
    amax = np.abs(blocks).max(axis=1, keepdims=True)
    d = amax / 127
    inv = np.divide(1, d, out=np.zeros_like(d), where=d != 0)
    codes = np.trunc(blocks * inv + np.copysign(0.5, blocks * inv))
    return (codes * d.astype(np.float16).astype(np.float32)).reshape(x.shape)


def test_q8_0_cache_is_quantized_on_the_device(device):
    q, k, v = cache()
    want = reference(q, dequantized_q8_0(k), dequantized_q8_0(v), 1 / np.sqrt(D))
    o, _ = squeeze.attention_decode(q, k, v, kv="q8_0", device=device)
    np.testing.assert_allclose(o, want, rtol=1e-4, atol=1e-4)
    o4, _ = squeeze.attention_decode(q, k, v, kv="q4_0", device=device)
    assert np.abs(o4 - reference(q, k, v, 1 / np.sqrt(D))).max() < 0.3


def dequantized_kivi(x, bits, per_channel, page_size=16):
    """KIVI's int4 / int2 as squeeze stores a contiguous cache on pages of ``page_size``:
    values rounded to f16; full pages quantized (K: per channel over the page's tokens, V: per
    token over 32 channels), scale f16((max - min) / L), zero min, codes rounded half up; the
    last, partial page kept in f16."""
    x = x.astype(np.float16).astype(np.float32)
    full = x.shape[0] // page_size * page_size
    levels = np.float32(2**bits - 1)
    if per_channel:
        groups = x[:full].reshape(-1, page_size, *x.shape[1:])
        axis = 1
    else:
        groups = x[:full].reshape(*x[:full].shape[:-1], -1, 32)
        axis = -1
    lo = groups.min(axis=axis, keepdims=True)
    hi = groups.max(axis=axis, keepdims=True)
    scale = ((hi - lo) / levels).astype(np.float16).astype(np.float32)
    inv = np.divide(np.float32(1), scale, out=np.zeros_like(scale), where=scale != 0)
    y = (groups - lo) * inv
    codes = np.clip(np.floor(y) + (y - np.floor(y) >= 0.5), 0, levels)
    out = x.copy()
    out[:full] = (codes * scale + lo).reshape(x[:full].shape)
    return out


def test_kivi_caches_are_quantized_on_the_device(device):
    q, k, v = cache(3)
    for kv, bits in [("int4", 4), ("int2", 2)]:
        kq, vq = dequantized_kivi(k, bits, True), dequantized_kivi(v, bits, False)
        o, _ = squeeze.attention_decode(q, k, v, kv=kv, device=device)
        np.testing.assert_allclose(o, reference(q, kq, vq, 1 / np.sqrt(D)), rtol=1e-4, atol=1e-4)


def test_f16_cache_is_the_default(device):
    q, k, v = cache(2)
    want = reference(q, k.astype(np.float16), v.astype(np.float16), 1 / np.sqrt(D))
    o, _ = squeeze.attention_decode(q, k, v, device=device)
    np.testing.assert_allclose(o, want, rtol=1e-3, atol=1e-4)
    o16, _ = squeeze.attention_decode(q.astype(np.float16), k.astype(np.float16), v.astype(np.float16), device=device)
    want16 = reference(q.astype(np.float16), k.astype(np.float16), v.astype(np.float16), 1 / np.sqrt(D))
    np.testing.assert_allclose(o16, want16, rtol=1e-3, atol=1e-4)


def test_sink_and_window(device):
    q, k, v = cache(3)
    sink, window = 2, 9
    keep = list(range(sink)) + list(range(SEQ - window, SEQ))
    o, _ = squeeze.attention_decode(q, k, v, sink=sink, window=window, kv="f32", device=device)
    want = reference(q, k, v, 1 / np.sqrt(D), [keep] * KV_HEADS)
    np.testing.assert_allclose(o, want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("select", ["quest", "token", "tokenselect"])
def test_sparse_steps_attend_to_what_they_select(device, select):
    q, k, v = cache(4)
    page_size = 8
    o, selected = squeeze.attention_decode(
        q, k, v, page_size=page_size, select=select, budget=24, sink=1, window=4, kv="f32", device=device
    )
    assert selected.dtype == np.int32 and selected.shape[0] == KV_HEADS
    tokens = []
    for row in selected:
        kept = row[row >= 0]
        assert list(kept) == sorted(kept)  # ascending, padding last
        assert (row[len(kept):] == -1).all()
        if select == "quest":
            kept = [t for p in kept for t in range(p * page_size, min((p + 1) * page_size, SEQ))]
        assert 0 in kept and SEQ - 1 in kept  # the sink and the window
        tokens.append(kept)
    np.testing.assert_allclose(o, reference(q, k, v, 1 / np.sqrt(D), tokens), rtol=1e-4, atol=1e-5)


def bad(**overrides):
    q, k, v = cache()
    args = dict(q=q, k=k, v=v)
    args.update(overrides)
    return lambda: squeeze.attention_decode(args.pop("q"), args.pop("k"), args.pop("v"), **args)


@pytest.mark.parametrize(
    "call,needle",
    [
        (bad(kv="int3"), "argument `kv`: cache format must be f32 | f16 | q8_0 | q4_0 | int4 | int2"),
        (bad(select="dense"), "argument `select`: value must be one of none | quest | token | tokenselect"),
        (bad(seq_len=61), "argument `seq_len`: parameter must be unset with a contiguous cache"),
        (bad(page_table=np.arange(4)), "argument `seq_len`: parameter must be given with a page_table"),
        (bad(budget=32), "argument `budget`: parameter must be unset with select=none"),
        (bad(select="quest"), "argument `budget`: parameter must be given with select=quest"),
        (bad(sink=-1), "argument `sink`: value must be a non-negative integer"),
        (bad(scale=float("inf")), "argument `scale`: value must be a finite number"),
        (bad(v=np.zeros((SEQ, KV_HEADS, D), np.float16)), "argument `v`: dtype must be float32 (as k)"),
        (bad(v=np.zeros((SEQ - 1, KV_HEADS, D), np.float32)), "argument `v`: shape must be [61, 2, 64] (as k)"),
        (bad(q=np.zeros((Q_HEADS, 32), np.float32)), "argument `q`: head dim must be 64, got 32"),
        (bad(q=np.zeros((Q_HEADS, D), np.int32)), "argument `q`: dtype must be float32 | float16, got int32"),
    ],
)
def test_bad_input_is_a_value_error(call, needle):
    with pytest.raises(ValueError) as e:
        call()
    assert needle in str(e.value)


def test_bad_paged_input_is_a_value_error():
    q, k, v = cache()
    k_pages, v_pages, table = paged(k, v, 8)
    call = lambda **kw: squeeze.attention_decode(q, k_pages, v_pages, **{"page_table": table, "seq_len": SEQ, **kw})
    with pytest.raises(ValueError, match="argument `seq_len`: parameter must be the tokens 8 pages of 8 hold"):
        call(seq_len=70)
    with pytest.raises(ValueError, match="argument `page_size`: parameter must be 8 \\(the page size of k\\)"):
        call(page_size=16)
    with pytest.raises(ValueError, match="argument `page_table`: entry must be ≥ 0"):
        call(page_table=np.array([-1, 0, 1, 2, 3, 4, 5, 6]))
