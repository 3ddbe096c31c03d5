"""squeeze.dfloat11: a unit encoded in memory decodes bit-exactly; malformed units are
ValueErrors naming what is wrong."""

import ml_dtypes
import numpy as np
import pytest

import squeeze


def weights(n, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(n) * 0.02).astype(ml_dtypes.bfloat16)


@pytest.mark.parametrize("threads_per_block", [256, 512])
@pytest.mark.parametrize("n", [1, 1000, 70_000])
def test_decode_is_bit_exact(device, n, threads_per_block):
    w = weights(n, n)
    unit = squeeze.dfloat11.encode(w, threads_per_block=threads_per_block)
    assert set(unit) == {"luts", "encoded_exponent", "sign_mantissa", "output_positions", "gaps", "split_positions"}
    y = squeeze.dfloat11.decode(unit, threads_per_block=threads_per_block, device=device)
    assert y.dtype == ml_dtypes.bfloat16 and y.shape == (n,)
    np.testing.assert_array_equal(y.view(np.uint16), w.view(np.uint16))


def test_uint16_bit_patterns_encode_too(device):
    w = weights(4096, 1)
    unit = squeeze.dfloat11.encode(w.view(np.uint16).reshape(64, 64))
    y = squeeze.dfloat11.decode(unit, device=device)
    np.testing.assert_array_equal(y.view(np.uint16), w.view(np.uint16))


def test_bad_units_are_value_errors():
    unit = squeeze.dfloat11.encode(weights(2000))
    with pytest.raises(ValueError, match="argument `unit`: tensor name must be luts"):
        squeeze.dfloat11.decode({**unit, "bogus": np.zeros(1, np.uint8)})
    missing = {k: v for k, v in unit.items() if k != "gaps"}
    with pytest.raises(ValueError, match="argument `gaps`: tensor must be present in unit, got missing"):
        squeeze.dfloat11.decode(missing)
    with pytest.raises(ValueError, match="argument `luts`: dtype must be uint8"):
        squeeze.dfloat11.decode({**unit, "luts": unit["luts"].astype(np.int32)})
    with pytest.raises(ValueError, match="DF11 unit `unit`"):
        squeeze.dfloat11.decode({**unit, "luts": unit["luts"][:-1]})
    with pytest.raises(ValueError, match="bytes_per_thread"):
        squeeze.dfloat11.decode(unit, bytes_per_thread=4)
