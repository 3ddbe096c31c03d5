"""squeeze.topk against a NumPy reference: indices and values exact, as squeeze run promises
(torch.topk order: NaN above +inf, ties to the lower index, -0 == +0)."""

import ml_dtypes
import numpy as np
import pytest

import squeeze


def reference(x, k, largest=True, lengths=None):
    """Top-k of each row by sorting: NaN first (largest) or last (smallest), ties by index;
    rows shorter than k padded with -inf/+inf and index -1."""
    rows, n = x.shape
    wide = x.astype(np.float64)
    values = np.full((rows, k), -np.inf if largest else np.inf, dtype=x.dtype)
    indices = np.full((rows, k), -1, dtype=np.int32)
    for r in range(rows):
        m = n if lengths is None else int(lengths[r])
        row = wide[r, :m]
        nan = np.isnan(row)
        key = np.where(nan, 0.0, -row if largest else row)
        # lexsort: last key is primary; NaN ranks first when largest, last otherwise.
        order = np.lexsort((np.arange(m), key, ~nan if largest else nan))[:k]
        values[r, : len(order)] = x[r, order]
        indices[r, : len(order)] = order
    return values, indices


def bits(a):
    return a.view(np.uint16 if a.dtype.itemsize == 2 else np.uint32)


def scores(rng, shape, dtype):
    """Random scores with ties, NaN, infinities and signed zeros."""
    x = rng.integers(-20, 20, size=shape).astype(np.float32) / 4
    flat = x.reshape(-1)
    for value in (np.nan, np.inf, -np.inf, 0.0, -0.0):
        flat[rng.integers(0, flat.size, size=max(1, flat.size // 50))] = value
    return x.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float16, ml_dtypes.bfloat16])
@pytest.mark.parametrize("n,k", [(1, 1), (7, 3), (1000, 17), (5000, 64)])
@pytest.mark.parametrize("largest", [True, False])
def test_topk_is_exact(device, dtype, n, k, largest):
    rng = np.random.default_rng(n * 7 + k)
    x = scores(rng, (3, n), dtype)
    values, indices = squeeze.topk(x, k, largest=largest, device=device)
    want_values, want_indices = reference(x, k, largest)
    assert values.dtype == x.dtype and indices.dtype == np.int32
    assert values.shape == indices.shape == (3, k)
    np.testing.assert_array_equal(indices, want_indices)
    np.testing.assert_array_equal(bits(values), bits(want_values))


def test_bf16_bit_patterns_as_uint16(device):
    rng = np.random.default_rng(1)
    x = scores(rng, (2, 300), ml_dtypes.bfloat16)
    values, indices = squeeze.topk(x.view(np.uint16), 10, device=device)
    want_values, want_indices = reference(x, 10)
    assert values.dtype == np.uint16
    np.testing.assert_array_equal(indices, want_indices)
    np.testing.assert_array_equal(values, want_values.view(np.uint16))


def test_lengths_pad_short_rows(device):
    rng = np.random.default_rng(2)
    x = scores(rng, (4, 50), np.float32)
    lengths = np.array([50, 3, 0, 10])  # int64, NumPy's default, is accepted
    for largest in (True, False):
        values, indices = squeeze.topk(x, 5, largest=largest, lengths=lengths, device=device)
        want_values, want_indices = reference(x, 5, largest, lengths)
        np.testing.assert_array_equal(indices, want_indices)
        np.testing.assert_array_equal(bits(values), bits(want_values))


def test_non_contiguous_and_array_like_inputs(device):
    rng = np.random.default_rng(3)
    base = scores(rng, (6, 400), np.float32)

    class Tensorish:
        """What a PyTorch CPU tensor offers NumPy."""

        def __array__(self, dtype=None, copy=None):
            return base

    for x, want in (
        (base[::2, ::3], base[::2, ::3]),
        (np.asfortranarray(base), base),
        (Tensorish(), base),
    ):
        values, indices = squeeze.topk(x, 4, device=device)
        want_values, want_indices = reference(np.ascontiguousarray(want), 4)
        np.testing.assert_array_equal(indices, want_indices)
        np.testing.assert_array_equal(bits(values), bits(want_values))


def test_default_device_is_opened_once():
    assert squeeze.topk(np.arange(5, dtype=np.float32)[None], 2)[1].tolist() == [[4, 3]]
    first = squeeze.default_device()
    assert repr(first) == repr(squeeze.default_device())


@pytest.mark.parametrize(
    "call,needle",
    [
        (lambda: squeeze.topk(np.zeros((2, 8)), 2), "argument `x`: dtype must be float32"),
        (lambda: squeeze.topk(np.zeros(8, np.float32), 2), "argument `x`: shape must be 2 dimensions"),
        (lambda: squeeze.topk(np.zeros((2, 8), np.float32), 9), "argument `k`"),
        (lambda: squeeze.topk(np.zeros((2, 8), np.float32), 0), "argument `k`"),
        (lambda: squeeze.topk(np.zeros((2, 8), np.float32), -1), "a non-negative integer"),
        (
            lambda: squeeze.topk(np.zeros((2, 8), np.float32), 2, lengths=[1, 2, 3]),
            "argument `lengths`: shape must be [2] (one per row of x), got [3]",
        ),
        (lambda: squeeze.topk(np.zeros((2, 8), np.float32), 2, lengths=[1, -1]), "argument `lengths`: entry must be ≥ 0"),
        (lambda: squeeze.topk(np.zeros((2, 8), np.float32), 2, lengths=[1.0, 2.0]), "argument `lengths`: dtype"),
    ],
)
def test_bad_input_is_a_value_error(call, needle):
    with pytest.raises(ValueError) as e:
        call()
    assert needle in str(e.value)


def test_bad_device_names_are_value_errors():
    with pytest.raises(ValueError, match="unknown backend `cuda`"):
        squeeze.Device(backend="cuda")
    with pytest.raises(ValueError, match="adapter index 99 is out of range"):
        squeeze.Device(adapter=99)


def test_adapters_describe_every_adapter():
    adapters = squeeze.adapters()
    assert [a["index"] for a in adapters] == list(range(len(adapters)))
    assert sum(a["default"] for a in adapters) == 1
    for a in adapters:
        assert a["backend"] in ("vulkan", "metal", "dx12", "gl")
        assert a["limits"]["max_storage_buffer_binding_size"] > 0
