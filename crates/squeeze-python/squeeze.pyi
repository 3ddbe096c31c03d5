"""squeeze: portable GPU kernels for compressed LLM inference on NumPy arrays.

The kernels of `squeeze run` (exact top-k, GGUF and int4/int8 dequantize and matmul, decode
attention over a contiguous or paged KV cache, DFloat11 decode) and a whole LLaMA model
(``generate``, as `squeeze generate`) on any adapter wgpu finds:
Vulkan, Metal, DX12 or GL. Same names, semantics and messages as the command line.

Inputs are anything NumPy can view as an array (NumPy arrays, PyTorch CPU tensors and other
objects with ``__array__``); non-contiguous ones are copied once. bfloat16 is read as
``ml_dtypes.bfloat16`` or as uint16 bit patterns. Outputs are NumPy arrays.

Every function takes ``device=``; without one it runs on the default device, opened on first
use (``SQUEEZE_BACKEND`` / ``SQUEEZE_ADAPTER``, else the best adapter) and kept. Bad input
(dtype, shape, a parameter, an adapter that is not there) raises ``ValueError``; a device or
driver failure raises ``RuntimeError``. The GIL is released while the GPU works.
"""

from os import PathLike
from typing import Any, Literal, Mapping, Optional, Tuple, TypedDict, Union

import numpy as np
import numpy.typing as npt

ArrayLike = Any
"""Anything with ``__array__``: a NumPy array, a PyTorch CPU tensor, a nested list."""

Path = Union[str, PathLike[str]]

class Limits(TypedDict):
    max_buffer_size: int
    max_storage_buffer_binding_size: int
    max_compute_workgroup_storage_size: int
    max_compute_invocations_per_workgroup: int

class Adapter(TypedDict):
    index: int
    """The index ``Device(adapter=...)`` and ``squeeze --adapter`` take."""
    backend: Literal["vulkan", "metal", "dx12", "gl"]
    name: str
    device_type: str
    driver: str
    features: list[str]
    """The optional features squeeze uses that the adapter has (SHADER_F16, SUBGROUP, ...)."""
    limits: Limits
    default: bool
    """Whether ``Device()`` without arguments opens this adapter."""

def adapters() -> list[Adapter]:
    """Every adapter on this machine, in ``squeeze info`` order."""

class Device:
    """One opened GPU device, with its compiled pipelines (kept for its lifetime)."""

    def __init__(self, backend: Optional[str] = None, adapter: Optional[int] = None) -> None:
        """Open the adapter that ``backend`` ("vulkan", "metal", "dx12", "gl") and/or
        ``adapter`` (an index from ``adapters()``) select; unset ones fall back to
        ``SQUEEZE_BACKEND`` and ``SQUEEZE_ADAPTER``, then to the best adapter (real GPUs
        first). An unknown backend or index is a ``ValueError`` listing what exists."""
    @property
    def name(self) -> str: ...
    @property
    def backend(self) -> str: ...
    @property
    def features(self) -> list[str]: ...

def default_device() -> Device:
    """The device functions use when given none (opened now if it is not open yet)."""

def topk(
    x: ArrayLike,
    k: int,
    largest: bool = True,
    lengths: Optional[ArrayLike] = None,
    *,
    device: Optional[Device] = None,
) -> Tuple[np.ndarray, npt.NDArray[np.int32]]:
    """The ``k`` best elements of each row of ``x`` ``[rows, n]`` (float32, float16, bfloat16
    or uint16 bfloat16 bits), best first, in torch.topk's order: NaN above +inf, ties to the
    lower index, -0 equal to +0. ``1 <= k <= n``.

    ``lengths`` (``[rows]`` int32 or int64) limits row r to its first ``lengths[r]`` elements;
    rows shorter than k are padded with -inf (largest) or +inf, index -1.

    Returns ``(values, indices)``, both ``[rows, k]``: values in ``x``'s dtype, indices int32.
    Exact: the same indices and value bits as the CPU reference on every adapter.
    """

def dequantize(
    w: ArrayLike, format: str, cols: int, *, device: Optional[Device] = None
) -> npt.NDArray[np.float32]:
    """GGUF block bytes ``w`` uint8 ``[rows, row_bytes]`` of ``format`` (q8_0, q4_0, q4_1,
    q5_0, q5_1, q2_k, q3_k, q4_k, q5_k, q6_k, iq4_nl, mxfp4) with ``cols`` weights per row, to
    float32 ``[rows, cols]``, bit-exact to ggml's dequantization."""

def matmul(
    w: ArrayLike, x: ArrayLike, format: str, cols: int, *, device: Optional[Device] = None
) -> npt.NDArray[np.float32]:
    """``y = x @ W.T`` float32 ``[batch, rows]`` for GGUF weights ``w`` (as ``dequantize``)
    and activations ``x`` ``[batch, cols]`` float32 or float16 (GEMV for batch <= 8, GEMM
    above)."""

def dequantize_affine(
    qweight: ArrayLike,
    scales: ArrayLike,
    zeros: Optional[ArrayLike],
    bits: int,
    group: int,
    *,
    device: Optional[Device] = None,
) -> npt.NDArray[np.float32]:
    """Group-wise affine weights to float32 ``[rows, cols]``, bit-exact:
    ``scale * (code - zero)``. ``qweight`` uint32 or int32 ``[rows, cols * bits / 32]``
    (codes packed LSB-first), ``scales`` and ``zeros`` float16 ``[rows, cols / group]``
    (zero points in code units; None: symmetric, zero = 2**(bits-1)), ``bits`` 4 or 8,
    ``group`` 32, 64 or 128."""

def matmul_affine(
    qweight: ArrayLike,
    scales: ArrayLike,
    zeros: Optional[ArrayLike],
    bits: int,
    group: int,
    x: ArrayLike,
    *,
    device: Optional[Device] = None,
) -> npt.NDArray[np.float32]:
    """``y = x @ W.T`` float32 ``[batch, rows]`` for affine weights (as
    ``dequantize_affine``) and activations ``x`` ``[batch, cols]`` float32 or float16."""

def attention_decode(
    q: ArrayLike,
    k: ArrayLike,
    v: ArrayLike,
    *,
    page_table: Optional[ArrayLike] = None,
    seq_len: Optional[int] = None,
    page_size: Optional[int] = None,
    scale: Optional[float] = None,
    sink: int = 0,
    window: int = 0,
    select: Literal["none", "quest", "token", "tokenselect"] = "none",
    budget: Optional[int] = None,
    kv: Literal["f32", "f16", "q8_0", "q4_0", "int4", "int2"] = "f16",
    device: Optional[Device] = None,
) -> Tuple[npt.NDArray[np.float32], Optional[npt.NDArray[np.int32]]]:
    """Decode attention of one query token ``q`` ``[q_heads, d]`` (d = 64, 128 or 256; any
    GQA group) over one sequence's KV cache.

    Contiguous cache: ``k``, ``v`` ``[seq, kv_heads, d]``, laid out on pages of ``page_size``
    (default 16). Paged cache: ``k``, ``v`` ``[pages, page_size, kv_heads, d]`` pools with
    ``page_table`` (``[n_pages]`` int32/int64, the sequence's pages in order) and ``seq_len``
    (tokens); a given ``page_size`` must match the pools'.

    ``kv`` is the cache format K and V are stored in before decoding: "f16" (the default;
    float32 input is rounded to nearest even), "f32", or "q8_0" / "q4_0": ggml's blocks of 32
    values along d, quantized on the GPU from the given values exactly as ggml's reference
    quantizers do (Quest bounds pages by the given, unquantized keys), or "int4" / "int2":
    KIVI's asymmetric formats (K per channel over each page's tokens, V per token over 32
    channels, f16 scale and zero; the tokens of a last page that is not full stay in f16).

    ``scale`` defaults to 1/sqrt(d). ``select="none"`` attends to every token, or only to the
    first ``sink`` and last ``window`` tokens when either is set. A sparse ``select`` keeps
    ``budget`` tokens (sinks and window included): "quest" whole pages by Quest's bound,
    "token" tokens by the KV group's summed logits (TidalDecode), "tokenselect" by soft
    voting (TokenSelect).

    Returns ``(o, selected)``: ``o`` float32 ``[q_heads, d]``; for sparse steps ``selected``
    int32 ``[kv_heads, k]`` (kept page or token indices, ascending, -1 padding last), else
    None.
    """

class Generation(TypedDict, total=False):
    prompt_ids: list[int]
    ids: list[int]
    text: Optional[str]
    prefill_tokens_per_s: float
    decode_tokens_per_s: float
    adapter: str
    logits: npt.NDArray[np.float32]

def generate(
    model: Union[str, PathLike[str]],
    prompt: Union[str, list[int]],
    *,
    n: int = 16,
    attention: Literal["dense", "sink-window", "quest", "tidal", "tokenselect"] = "dense",
    budget: Optional[int] = None,
    sink: int = 0,
    window: Optional[int] = None,
    kv: Literal["f32", "f16", "q8_0", "q4_0", "int4", "int2"] = "f32",
    temperature: Optional[float] = None,
    top_k: int = 40,
    top_p: float = 1.0,
    seed: int = 0,
    logits: bool = False,
    device: Optional[Device] = None,
) -> Generation:
    """Generates up to ``n`` tokens after ``prompt`` (text for the model's tokenizer, or token
    ids) with a LLaMA-family ``model``, as ``squeeze generate`` does: a GGUF file of
    architecture ``llama`` (weight matrices in a GGUF block format), or a Hugging Face folder
    with BF16 safetensors and ``tokenizer.json``, or such a folder compressed by ``squeeze
    dfloat11 compress`` (DF11 or native; the same logits as the BF16 folder, bit for bit).

    ``attention``: every token ("dense"), the first ``sink`` and last ``window`` tokens
    ("sink-window"; window defaults to ``budget - sink``), or a selection of ``budget`` tokens
    by Quest, TidalDecode or TokenSelect (the first two layers stay dense; sinks and window are
    always kept). ``kv``: the KV cache's format. Greedy unless ``temperature`` is given: then
    drawn from the ``top_k`` best candidates within nucleus ``top_p``, seeded.

    Returns the prompt's and the generated ids (the end-of-sequence token included when it
    stopped the run), their ``text`` (None without a vocabulary squeeze reads), prefill and
    decode tokens/s, the adapter and, with ``logits=True``, float32 ``[generated, vocab]``
    (row i: the logits ``ids[i]`` was drawn from). The model is loaded for each call. Bad
    input raises ``ValueError``."""

class _DFloat11:
    """``squeeze.dfloat11``: DFloat11 (Huffman-coded bfloat16 exponents) units."""

    @staticmethod
    def decode(
        unit: Mapping[str, ArrayLike],
        *,
        threads_per_block: int = 512,
        bytes_per_thread: int = 8,
        device: Optional[Device] = None,
    ) -> np.ndarray:
        """The weights of one DF11 unit, decoded on the GPU, bit-exact: ``[n]`` of dtype
        ``ml_dtypes.bfloat16`` when ml_dtypes is installed, else uint16 bit patterns.

        ``unit`` holds the unit's tensors by their DF11 names without the ``G.`` prefix:
        ``luts``, ``encoded_exponent``, ``sign_mantissa``, ``output_positions``, ``gaps``
        (uint8) and optional ``split_positions`` (int64; checked, not applied).
        ``threads_per_block`` and ``bytes_per_thread`` are the checkpoint's
        ``dfloat11_config`` values. A malformed unit is a ``ValueError`` naming what is wrong.
        """
    @staticmethod
    def encode(
        w: ArrayLike, *, threads_per_block: int = 512, threads: Optional[int] = None
    ) -> dict[str, np.ndarray]:
        """bfloat16 weights (``ml_dtypes.bfloat16`` or uint16 bits, any shape, read in C
        order) as one DF11 unit, the dict ``decode`` takes, encoded on ``threads`` CPU threads
        (default: all cores)."""

    @staticmethod
    def compress(
        src: Path,
        out: Path,
        format: Literal["df11", "native"] = "df11",
        *,
        force: bool = False,
        threads: Optional[int] = None,
    ) -> dict[str, Any]:
        """A BF16 safetensors file, or a model folder of shards, compressed losslessly into the
        folder ``out``, as ``squeeze dfloat11 compress``: ``"df11"`` a DF11 checkpoint the
        reference ``dfloat11`` loader reads (each 2-D ``X.weight`` its own unit), ``"native"``
        squeeze's native files. ``src`` may also be a DF11 folder or native files (decoded by
        the CPU reference first). A model folder's config and tokenizer files are copied.
        ``out`` must be new or an empty folder, unless ``force`` (never one with subfolders);
        it appears only on success. Returns ``units``, ``weights``, ``input_bytes``,
        ``stored_bytes``, ``passthrough_bytes``, ``copied``, ``not_copied`` and ``notes``."""
    @staticmethod
    def decompress(
        src: Path,
        out: Path,
        *,
        force: bool = False,
        cpu: bool = False,
        shapes: Optional[Path] = None,
        device: Optional[Device] = None,
    ) -> dict[str, Any]:
        """A DF11 checkpoint folder, or a native file or folder of them (detected), to one
        BF16 safetensors file ``out`` with the original names, decoded on the GPU (or the CPU
        reference with ``cpu``), as ``squeeze dfloat11 decompress``. DF11 shapes come from
        ``shapes`` (the original safetensors file or its index JSON), squeeze's own metadata,
        or config.json for LLaMA-style models; weights without one are written 1-D and listed
        under ``flat``. Returns ``format``, ``on`` (where it decoded), ``weights`` and byte
        counts."""

dfloat11: _DFloat11

class GgufSummary(TypedDict):
    tensors: int
    """Tensors written."""
    dequantized: int
    """Of those, block-quantized ones dequantized on the GPU."""
    skipped: list[str]
    """Tensors left out by ``skip_unsupported``."""

class _Gguf:
    """``squeeze.gguf``: GGUF files."""

    @staticmethod
    def dequantize(
        path: Path,
        out: Path,
        *,
        force: bool = False,
        skip_unsupported: bool = False,
        device: Optional[Device] = None,
    ) -> GgufSummary:
        """Every tensor of the GGUF v2/v3 file ``path`` to float32 in the safetensors file
        ``out``, with the same names and shapes (outermost first), as ``squeeze gguf
        dequantize``: block-quantized tensors dequantized on the GPU (bit-exact), f32/f16/bf16
        converted exactly on the host. A tensor of a type squeeze cannot convert yet is a
        ``ValueError`` naming it, unless ``skip_unsupported`` leaves it out.

        Paths follow the command's policy, checked before any work: ``path`` must be a GGUF
        file; ``out``'s folder must exist; an existing ``out`` is refused unless ``force``;
        the file is written to a hidden temporary beside ``out`` and renamed on success, so a
        failure leaves nothing behind. A corrupt file is a ``ValueError``, a failed read or
        write an ``OSError``."""

gguf: _Gguf
