"""squeeze.dequantize / matmul (GGUF blocks) and dequantize_affine / matmul_affine against
NumPy references: dequantized values bit-exact, products within a stated tolerance."""

import numpy as np
import pytest

import squeeze


def f16_scales(rng, count):
    return (rng.uniform(0.001, 0.05, size=count) * rng.choice([-1, 1], size=count)).astype(np.float16)


def q8_0(rng, rows, cols):
    """Random Q8_0 rows (blocks of 32: f16 scale, 32 int8) and their f32 values as ggml computes them."""
    blocks = rows * cols // 32
    d = f16_scales(rng, blocks)
    q = rng.integers(-128, 128, size=(blocks, 32), dtype=np.int8)
    raw = np.concatenate([d.view(np.uint8).reshape(blocks, 2), q.view(np.uint8)], axis=1)
    values = q.astype(np.float32) * d.astype(np.float32)[:, None]
    return raw.reshape(rows, -1), values.reshape(rows, cols)


def q4_0(rng, rows, cols):
    """Random Q4_0 rows (f16 scale, 16 bytes: low nibbles are weights 0..15, high 16..31)."""
    blocks = rows * cols // 32
    d = f16_scales(rng, blocks)
    qs = rng.integers(0, 256, size=(blocks, 16), dtype=np.uint8)
    raw = np.concatenate([d.view(np.uint8).reshape(blocks, 2), qs], axis=1)
    codes = np.concatenate([qs & 0xF, qs >> 4], axis=1).astype(np.float32) - 8
    values = codes * d.astype(np.float32)[:, None]
    return raw.reshape(rows, -1), values.reshape(rows, cols)


@pytest.mark.parametrize("make,format", [(q8_0, "q8_0"), (q4_0, "q4_0")])
def test_gguf_dequantize_is_exact_and_matmul_close(device, make, format):
    rng = np.random.default_rng(5)
    rows, cols = 12, 256
    w, want = make(rng, rows, cols)
    y = squeeze.dequantize(w, format, cols, device=device)
    assert y.dtype == np.float32 and y.shape == (rows, cols)
    np.testing.assert_array_equal(y.view(np.uint32), want.view(np.uint32))
    for batch in (1, 3, 9):
        x = rng.standard_normal((batch, cols)).astype(np.float32)
        got = squeeze.matmul(w, x, format, cols, device=device)
        assert got.shape == (batch, rows)
        np.testing.assert_allclose(got, x @ want.T, rtol=1e-4, atol=1e-4)


def pack(codes, bits):
    """Codes [rows, cols] packed LSB-first into uint32 words."""
    rows, cols = codes.shape
    per = 32 // bits
    words = np.zeros((rows, cols // per), dtype=np.uint32)
    for i in range(per):
        words |= codes[:, i::per].astype(np.uint32) << np.uint32(i * bits)
    return words


@pytest.mark.parametrize("bits", [4, 8])
@pytest.mark.parametrize("with_zeros", [False, True])
def test_affine_dequantize_is_exact_and_matmul_close(device, bits, with_zeros):
    rng = np.random.default_rng(bits)
    rows, cols, group = 8, 256, 64
    codes = rng.integers(0, 1 << bits, size=(rows, cols))
    scales = f16_scales(rng, rows * cols // group).reshape(rows, -1)
    zeros = rng.integers(0, 1 << bits, size=scales.shape).astype(np.float16) if with_zeros else None
    zero = zeros.astype(np.float32) if with_zeros else np.float32(1 << (bits - 1))
    expand = lambda t: np.repeat(t, group, axis=1) if np.ndim(t) else t
    want = scales.astype(np.float32).repeat(group, axis=1) * (codes.astype(np.float32) - expand(zero))
    qweight = pack(codes, bits)
    for q in (qweight, qweight.view(np.int32)):  # GPTQ checkpoints store int32
        y = squeeze.dequantize_affine(q, scales, zeros, bits, group, device=device)
        np.testing.assert_array_equal(y.view(np.uint32), want.astype(np.float32).view(np.uint32))
    x = rng.standard_normal((2, cols)).astype(np.float16)
    got = squeeze.matmul_affine(qweight, scales, zeros, bits, group, x, device=device)
    np.testing.assert_allclose(got, x.astype(np.float32) @ want.T, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize(
    "call,needle",
    [
        (lambda: squeeze.dequantize(np.zeros((1, 34), np.uint8), "q9_9", 32), "argument `format`: name must be"),
        (lambda: squeeze.dequantize(np.zeros((1, 34), np.uint8), "q4_0", 32), "18 for 32 q4_0 weights"),
        (lambda: squeeze.dequantize(np.zeros((1, 34), np.int8), "q8_0", 32), "argument `w`: dtype must be uint8"),
        (lambda: squeeze.dequantize(np.zeros(34, np.uint8), "q8_0", 32), "argument `w`: shape must be 2 dimensions"),
        (
            lambda: squeeze.matmul(np.zeros((1, 34), np.uint8), np.zeros((1, 64), np.float32), "q8_0", 32),
            "argument `x`: shape[1] must be 32 (the weights' cols), got 64",
        ),
        (
            lambda: squeeze.matmul(np.zeros((1, 34), np.uint8), np.zeros((1, 32)), "q8_0", 32),
            "argument `x`: dtype must be float32 | float16, got float64",
        ),
        (
            lambda: squeeze.dequantize_affine(np.zeros((2, 8), np.uint32), np.zeros((2, 2), np.float16), None, 3, 32),
            "argument `bits`",
        ),
        (
            lambda: squeeze.dequantize_affine(np.zeros((2, 8), np.uint32), np.zeros((2, 1), np.float16), None, 4, 32),
            "argument `scales`: shape must be [2, 2]",
        ),
        (
            lambda: squeeze.dequantize_affine(np.zeros((2, 8), np.uint32), np.zeros((2, 2), np.float32), None, 4, 32),
            "argument `scales`: dtype must be float16",
        ),
    ],
)
def test_bad_input_is_a_value_error(call, needle):
    with pytest.raises(ValueError) as e:
        call()
    assert needle in str(e.value)
