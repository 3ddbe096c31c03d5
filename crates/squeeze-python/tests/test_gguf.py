"""squeeze.gguf.dequantize on a GGUF file written here: same names and shapes, values exact,
the CLI's path policy (existing output refused unless force) and unsupported-type rules."""

import json
import struct

import numpy as np
import pytest

import squeeze

F32, F16, Q8_0, I8 = 0, 1, 8, 24  # ggml type ids


def write_gguf(path, tensors):
    """A GGUF v3 file with no metadata; `tensors` is [(name, ggml type, shape outermost first,
    raw bytes)]. Data is aligned to 32 bytes, as GGUF's default alignment requires."""
    header = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), 0)
    data, offset = b"", 0
    for name, ggml_type, shape, raw in tensors:
        encoded = name.encode()
        header += struct.pack("<Q", len(encoded)) + encoded + struct.pack("<I", len(shape))
        header += b"".join(struct.pack("<Q", d) for d in reversed(shape))  # GGUF: innermost first
        header += struct.pack("<IQ", ggml_type, offset)
        padded = raw + b"\0" * (-len(raw) % 32)
        data += padded
        offset += len(padded)
    header += b"\0" * (-len(header) % 32)
    path.write_bytes(header + data)


def read_safetensors(path):
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    out = {}
    for name, info in header.items():
        start, end = info["data_offsets"]
        assert info["dtype"] == "F32"
        out[name] = np.frombuffer(raw[8 + n + start : 8 + n + end], np.float32).reshape(info["shape"])
    return out


def model(tmp_path, extra=()):
    rng = np.random.default_rng(0)
    d = rng.uniform(0.001, 0.05, 8).astype(np.float16)
    q = rng.integers(-128, 128, (8, 32), dtype=np.int8)
    blocks = np.concatenate([d.view(np.uint8).reshape(8, 2), q.view(np.uint8)], axis=1).tobytes()
    want_q = (q.astype(np.float32) * d.astype(np.float32)[:, None]).reshape(4, 64)
    norm = rng.standard_normal(5).astype(np.float32)
    half = rng.standard_normal((2, 3)).astype(np.float16)
    path = tmp_path / "model.gguf"
    write_gguf(
        path,
        [
            ("blk.0.attn_q.weight", Q8_0, (4, 64), blocks),
            ("blk.0.attn_norm.weight", F32, (5,), norm.tobytes()),
            ("token_embd.weight", F16, (2, 3), half.tobytes()),
            *extra,
        ],
    )
    want = {"blk.0.attn_q.weight": want_q, "blk.0.attn_norm.weight": norm, "token_embd.weight": half.astype(np.float32)}
    return path, want


def test_dequantize_writes_every_tensor_exactly(device, tmp_path):
    path, want = model(tmp_path)
    out = tmp_path / "out.safetensors"
    summary = squeeze.gguf.dequantize(path, out, device=device)
    assert summary == {"tensors": 3, "dequantized": 1, "skipped": []}
    got = read_safetensors(out)
    assert got.keys() == want.keys()
    for name in want:
        assert got[name].shape == want[name].shape, name
        np.testing.assert_array_equal(got[name].view(np.uint32), want[name].view(np.uint32), name)
    with pytest.raises(ValueError, match="argument `out`: path must be a new path"):
        squeeze.gguf.dequantize(path, out, device=device)
    squeeze.gguf.dequantize(str(path), str(out), force=True, device=device)


def test_unsupported_types_stop_the_run_unless_skipped(tmp_path):
    path, _ = model(tmp_path, [("ints", I8, (4,), bytes(4))])
    out = tmp_path / "out.safetensors"
    with pytest.raises(ValueError, match="tensor `ints`"):
        squeeze.gguf.dequantize(path, out)
    assert not out.exists() and list(tmp_path.iterdir()) == [path]  # nothing partial left
    assert squeeze.gguf.dequantize(path, out, skip_unsupported=True)["skipped"] == ["ints"]
    assert "ints" not in read_safetensors(out)


def test_bad_paths_are_value_errors(tmp_path):
    with pytest.raises(ValueError, match="argument `path`: path must be an existing file or folder"):
        squeeze.gguf.dequantize(tmp_path / "missing.gguf", tmp_path / "out.safetensors")
    not_gguf = tmp_path / "x.bin"
    not_gguf.write_bytes(b"hello world")
    with pytest.raises(ValueError, match="must be a GGUF file"):
        squeeze.gguf.dequantize(not_gguf, tmp_path / "out.safetensors")
    path, _ = model(tmp_path)
    with pytest.raises(ValueError, match="argument `out`: path must be in an existing directory"):
        squeeze.gguf.dequantize(path, tmp_path / "no" / "out.safetensors")
