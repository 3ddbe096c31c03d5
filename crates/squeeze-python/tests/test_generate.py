"""squeeze.generate on a tiny random LLaMA written here as a Hugging Face folder (BF16
safetensors, config.json, a byte-level tokenizer.json), against a NumPy forward pass of the same
model: greedy ids equal, logits within 1e-4 of the largest; attention modes, KV formats,
sampling and bad input."""

import json
import struct

import ml_dtypes
import numpy as np
import pytest

import squeeze

LAYERS, HIDDEN, HEADS, KV_HEADS, FFN, VOCAB = 2, 128, 2, 1, 256, 256
HEAD_DIM = HIDDEN // HEADS
EPS, THETA = 1e-5, 10000.0


def byte_chars():
    """GPT-2's printable character for each byte (byte-level BPE's alphabet)."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    chars, extra = {}, 0
    for b in range(256):
        if b in keep:
            chars[b] = chr(b)
        else:
            chars[b] = chr(256 + extra)
            extra += 1
    return chars


def tokenizer_json():
    chars = byte_chars()
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [],
        "normalizer": None,
        "pre_tokenizer": byte_level,
        "post_processor": None,
        "decoder": byte_level,
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": False,
            "byte_fallback": False,
            "ignore_merges": False,
            "vocab": {chars[b]: b for b in range(256)},
            "merges": [],
        },
    }


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, array in tensors.items():
        data = array.tobytes()
        header[name] = {"dtype": "BF16", "shape": list(array.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """The folder and its weights as float32 (the BF16 values exactly)."""
    rng = np.random.default_rng(5)
    w = {}

    def matrix(name, rows, cols):
        w[name] = (rng.standard_normal((rows, cols)) * 1.7 / np.sqrt(cols)).astype(ml_dtypes.bfloat16)

    w["model.embed_tokens.weight"] = rng.standard_normal((VOCAB, HIDDEN)).astype(ml_dtypes.bfloat16)
    for i in range(LAYERS):
        p = f"model.layers.{i}."
        w[p + "input_layernorm.weight"] = (1 + 0.2 * rng.standard_normal(HIDDEN)).astype(ml_dtypes.bfloat16)
        matrix(p + "self_attn.q_proj.weight", HEADS * HEAD_DIM, HIDDEN)
        matrix(p + "self_attn.k_proj.weight", KV_HEADS * HEAD_DIM, HIDDEN)
        matrix(p + "self_attn.v_proj.weight", KV_HEADS * HEAD_DIM, HIDDEN)
        matrix(p + "self_attn.o_proj.weight", HIDDEN, HEADS * HEAD_DIM)
        w[p + "post_attention_layernorm.weight"] = (1 + 0.2 * rng.standard_normal(HIDDEN)).astype(ml_dtypes.bfloat16)
        matrix(p + "mlp.gate_proj.weight", FFN, HIDDEN)
        matrix(p + "mlp.up_proj.weight", FFN, HIDDEN)
        matrix(p + "mlp.down_proj.weight", HIDDEN, FFN)
    w["model.norm.weight"] = (1 + 0.2 * rng.standard_normal(HIDDEN)).astype(ml_dtypes.bfloat16)
    folder = tmp_path_factory.mktemp("tiny-llama")
    write_safetensors(folder / "model.safetensors", w)
    config = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": HIDDEN,
        "intermediate_size": FFN,
        "num_hidden_layers": LAYERS,
        "num_attention_heads": HEADS,
        "num_key_value_heads": KV_HEADS,
        "hidden_act": "silu",
        "rms_norm_eps": EPS,
        "rope_theta": THETA,
        "vocab_size": VOCAB,
        "max_position_embeddings": 64,
        "tie_word_embeddings": True,
        "torch_dtype": "bfloat16",
        "eos_token_id": 0,
    }
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "tokenizer.json").write_text(json.dumps(tokenizer_json()))
    return folder, {k: v.astype(np.float64) for k, v in w.items()}


def rms_norm(x, weight):
    return x / np.sqrt(np.mean(x * x) + EPS) * weight


def rope(x, pos):
    """Hugging Face's rotation of halves, every head of x [heads, HEAD_DIM]."""
    half = HEAD_DIM // 2
    freq = THETA ** (-np.arange(half) * 2.0 / HEAD_DIM)
    cos, sin = np.cos(pos * freq), np.sin(pos * freq)
    a, b = x[:, :half], x[:, half:]
    return np.concatenate([a * cos - b * sin, b * cos + a * sin], axis=1)


def reference_logits(w, ids):
    """Logits after each token of ids, in float64."""
    keys = [[] for _ in range(LAYERS)]
    values = [[] for _ in range(LAYERS)]
    out = []
    for pos, token in enumerate(ids):
        x = w["model.embed_tokens.weight"][token].copy()
        for i in range(LAYERS):
            p = f"model.layers.{i}."
            h = rms_norm(x, w[p + "input_layernorm.weight"])
            q = rope((w[p + "self_attn.q_proj.weight"] @ h).reshape(HEADS, HEAD_DIM), pos)
            k = rope((w[p + "self_attn.k_proj.weight"] @ h).reshape(KV_HEADS, HEAD_DIM), pos)
            v = (w[p + "self_attn.v_proj.weight"] @ h).reshape(KV_HEADS, HEAD_DIM)
            keys[i].append(k)
            values[i].append(v)
            K, V = np.stack(keys[i]), np.stack(values[i])  # [t, kv_heads, d]
            attn = np.empty((HEADS, HEAD_DIM))
            for head in range(HEADS):
                g = head // (HEADS // KV_HEADS)
                s = K[:, g, :] @ q[head] / np.sqrt(HEAD_DIM)
                e = np.exp(s - s.max())
                attn[head] = (e / e.sum()) @ V[:, g, :]
            x = x + w[p + "self_attn.o_proj.weight"] @ attn.reshape(-1)
            h = rms_norm(x, w[p + "post_attention_layernorm.weight"])
            gate = w[p + "mlp.gate_proj.weight"] @ h
            up = w[p + "mlp.up_proj.weight"] @ h
            x = x + w[p + "mlp.down_proj.weight"] @ (gate / (1 + np.exp(-gate)) * up)
        out.append(w["model.embed_tokens.weight"] @ rms_norm(x, w["model.norm.weight"]))
    return np.stack(out)


PROMPT = [72, 101, 108, 108, 111]


def test_greedy_ids_and_logits_match_a_numpy_forward_pass(model, device):
    folder, w = model
    got = squeeze.generate(folder, PROMPT, n=6, logits=True, device=device)
    assert got["prompt_ids"] == PROMPT
    assert device.name in got["adapter"]
    ids = got["ids"]
    assert 1 <= len(ids) <= 6
    want = reference_logits(w, PROMPT + ids[:-1])[len(PROMPT) - 1 :]
    logits = got["logits"]
    assert logits.shape == (len(ids), VOCAB) and logits.dtype == np.float32
    scale = np.abs(want).max()
    assert np.abs(logits - want).max() <= 1e-4 * scale
    assert ids == [int(np.argmax(row)) for row in want]
    assert got["text"] == bytes(ids).decode("utf-8", errors="replace")
    assert got["prefill_tokens_per_s"] > 0


def test_text_prompts_use_the_folder_s_tokenizer(model, device):
    folder, _ = model
    got = squeeze.generate(folder, "Hi é", n=1, device=device)
    assert got["prompt_ids"] == list("Hi é".encode())
    assert got["ids"] == squeeze.generate(folder, got["prompt_ids"], n=1, device=device)["ids"]


def test_sparse_modes_at_a_whole_budget_give_the_dense_ids(model, device):
    folder, _ = model
    dense = squeeze.generate(folder, PROMPT, n=8, device=device)["ids"]
    for attention in ["quest", "tidal", "tokenselect", "sink-window"]:
        got = squeeze.generate(folder, PROMPT, n=8, attention=attention, budget=64, device=device)
        assert got["ids"] == dense, attention


def test_kv_formats_and_sampling_run(model, device):
    folder, _ = model
    for kv in ["f16", "q8_0", "q4_0", "int4", "int2"]:
        ids = squeeze.generate(folder, PROMPT, n=3, kv=kv, device=device)["ids"]
        assert all(0 <= i < VOCAB for i in ids), kv
    a = squeeze.generate(folder, PROMPT, n=4, temperature=1.5, top_k=8, seed=3, device=device)
    b = squeeze.generate(folder, PROMPT, n=4, temperature=1.5, top_k=8, seed=3, device=device)
    assert a["ids"] == b["ids"]


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"attention": "flash"}, "dense | sink-window"),
        ({"attention": "quest"}, "--attention quest"),
        ({"budget": 64}, "unset with --attention dense"),
        ({"attention": "sink-window", "budget": 20, "window": 8}, "--window is given"),
        ({"kv": "int3"}, "int3"),
        ({"n": -1}, "non-negative"),
        ({"temperature": 0.0}, "temperature"),
        ({"temperature": 1.0, "top_p": 0.0}, "top_p"),
        ({"temperature": 1.0, "top_k": 0}, "top_k"),
    ],
)
def test_bad_arguments_are_value_errors_naming_them(model, kwargs, words):
    folder, _ = model
    with pytest.raises(ValueError) as e:
        squeeze.generate(folder, PROMPT, **kwargs)
    assert words in str(e.value)


def test_bad_prompts_and_models_are_value_errors(model, tmp_path):
    folder, _ = model
    with pytest.raises(ValueError, match="below vocab = 256"):
        squeeze.generate(folder, [1, 256])
    with pytest.raises(ValueError, match="at least one"):
        squeeze.generate(folder, [])
    with pytest.raises(ValueError, match="prompt"):
        squeeze.generate(folder, 3.5)
    with pytest.raises(ValueError):
        squeeze.generate(tmp_path / "missing.gguf", PROMPT)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="config.json"):
        squeeze.generate(tmp_path, PROMPT)
