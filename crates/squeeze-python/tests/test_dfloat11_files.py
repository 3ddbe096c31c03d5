"""squeeze.dfloat11.compress / decompress on files written here: lossless round trips through
DF11 and native, a model folder's companions, conversions between the formats, the path
policy and the errors."""

import json
import struct

import ml_dtypes
import numpy as np
import pytest

import squeeze


def write_bf16_safetensors(path, tensors):
    """A safetensors file of BF16 tensors (name -> ml_dtypes.bfloat16 array)."""
    header, data, offset = {}, b"", 0
    for name, array in tensors.items():
        raw = np.ascontiguousarray(array).view(np.uint16).tobytes()
        header[name] = {"dtype": "BF16", "shape": list(array.shape), "data_offsets": [offset, offset + len(raw)]}
        data += raw
        offset += len(raw)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + data)


def read_safetensors(path):
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    header.pop("__metadata__", None)
    out = {}
    for name, info in header.items():
        start, end = info["data_offsets"]
        assert info["dtype"] == "BF16", name
        out[name] = np.frombuffer(raw[8 + n + start : 8 + n + end], np.uint16).reshape(info["shape"])
    return out


def tensors(seed=0):
    rng = np.random.default_rng(seed)
    w = lambda *shape: (rng.standard_normal(shape) * 0.02).astype(ml_dtypes.bfloat16)
    return {
        "model.layers.0.self_attn.q_proj.weight": w(64, 128),
        "model.layers.0.mlp.up_proj.weight": w(96, 64),
        "model.norm.weight": w(64),
    }


def assert_same(got, want):
    assert got.keys() == want.keys()
    for name, array in want.items():
        np.testing.assert_array_equal(got[name].reshape(array.shape), array.view(np.uint16), name)


@pytest.mark.parametrize("format", ["df11", "native"])
def test_round_trip_is_lossless(device, tmp_path, format):
    src = tmp_path / "model.safetensors"
    want = tensors()
    write_bf16_safetensors(src, want)
    summary = squeeze.dfloat11.compress(src, tmp_path / "packed", format)
    assert summary["weights"] == 64 * 128 + 96 * 64 and summary["stored_bytes"] < summary["input_bytes"]
    out = tmp_path / "back.safetensors"
    back = squeeze.dfloat11.decompress(tmp_path / "packed", out, device=device)
    assert back["format"] == format and back.get("flat", []) == []
    got = read_safetensors(out)
    for name, array in want.items():
        assert list(got[name].shape) == list(array.shape), name
    assert_same(got, want)


def test_model_folder_companions_and_format_conversion(tmp_path):
    folder = tmp_path / "llama"
    folder.mkdir()
    write_bf16_safetensors(folder / "model.safetensors", tensors(1))
    (folder / "config.json").write_text(json.dumps({"architectures": ["LlamaForCausalLM"]}))
    (folder / "tokenizer.json").write_text("{}")
    (folder / "README.md").write_text("hello")
    summary = squeeze.dfloat11.compress(folder, tmp_path / "df11")
    assert summary["copied"] == ["config.json", "tokenizer.json"] and summary["not_copied"] == ["README.md"]
    assert "dfloat11_config" in json.loads((tmp_path / "df11" / "config.json").read_text())
    # DF11 -> native converts losslessly (through the CPU reference), then back to BF16.
    converted = squeeze.dfloat11.compress(tmp_path / "df11", tmp_path / "native", "native")
    assert any("decoded" in note for note in converted["notes"])
    back = squeeze.dfloat11.decompress(tmp_path / "native", tmp_path / "back.safetensors", cpu=True)
    assert back["on"] == "CPU reference"
    assert_same(read_safetensors(tmp_path / "back.safetensors"), tensors(1))


def test_bad_paths_and_arguments_are_value_errors(tmp_path):
    src = tmp_path / "model.safetensors"
    write_bf16_safetensors(src, tensors())
    with pytest.raises(ValueError, match="argument `src`: path must be a DF11 checkpoint folder or native-format"):
        squeeze.dfloat11.decompress(src, tmp_path / "out.safetensors")
    with pytest.raises(ValueError, match="argument `format`: name must be df11 | native"):
        squeeze.dfloat11.compress(src, tmp_path / "packed", "zip")
    with pytest.raises(ValueError, match="argument `src`: path must be an existing file or folder"):
        squeeze.dfloat11.compress(tmp_path / "missing", tmp_path / "packed")
    (tmp_path / "packed").mkdir()
    (tmp_path / "packed" / "old.txt").write_text("x")
    with pytest.raises(ValueError, match="argument `out`: path must be a new path"):
        squeeze.dfloat11.compress(src, tmp_path / "packed")
    squeeze.dfloat11.compress(src, tmp_path / "packed", force=True)
    assert not (tmp_path / "packed" / "old.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.safetensors", "packed"]  # no temporaries
