//! DFloat11 (DF11): BF16 weights stored losslessly in about 70 % of their size — exponents
//! Huffman-coded, sign and mantissa bytes raw — read and written exactly as the reference
//! implementation (PyPI `dfloat11`, GitHub LeanModels/DFloat11) does, decoded bit-exact on the
//! GPU ([`decode::Decode`]) and on the CPU ([`reference`]), and encoded fast ([`encode`]).
//!
//! # Values
//!
//! ```text
//! BF16 w (u16):  s eeeeeeee mmmmmmm          bit 15 sign, 14..7 exponent, 6..0 mantissa
//! exponent      = (w >> 7) & 0xff           → Huffman-coded into `encoded_exponent`
//! sign_mantissa = ((w >> 8) & 0x80) | (w & 0x7f)   → one raw byte per weight
//! ```
//!
//! # One compressed unit ("group" `G`), all tensors in one safetensors file
//!
//! | tensor | dtype, shape | contents |
//! | --- | --- | --- |
//! | `G.luts` | U8 `[T + 1, 256]` | T ≤ 17 decode tables, then the code length of each exponent |
//! | `G.encoded_exponent` | U8 `[bytes]` | codes concatenated MSB first, last byte zero-padded |
//! | `G.sign_mantissa` | U8 `[n]` | sign/mantissa byte of each weight |
//! | `G.output_positions` | U8 `[4 (B + 1)]` | u32 LE: first weight of each block, then `n` |
//! | `G.gaps` | U8 | per thread, 5-bit offset of its first code, packed MSB first |
//! | `G.split_positions` | I64 `[k]` | cuts of the decoded stream into weights (may be empty) |
//!
//! ```text
//! encoded_exponent, bytes_per_thread = 8, threads_per_block = 512:
//!  byte 0        byte 8        ...          byte 4096
//!  |thread 0 (64 bits)|thread 1 |  ...   |thread 512 = block 1 ...
//!  |gap0|c0 |c1|c2 |c3|...                  a thread decodes every code that STARTS inside its
//!       ^ gaps[t] ∈ 0..32: offset of the     64 bits (it may end up to 31 bits into the next)
//!         first code starting in thread t
//!
//! gaps: t0[4..0] t1[4..0] t2[4..0] ... packed MSB first   (thread t at bit 5t)
//!
//! decoding one code at bit p: window = the 32 bits at p (zeros past the end)
//!   v = luts[0][window >> 24]
//!   while v >= 240 and level < 3:  v = luts[256 - v][next byte of window]   (tables 1..=16)
//!   exponent = v, length = luts[T][v] ∈ 1..=32, p += length
//! ```
//!
//! Block `b` writes weights `output_positions[b] ..`, thread by thread in order (each thread's
//! count comes from decoding); nothing at or past `n` is written. Blocks are
//! `len(output_positions) − 1`; the reference kernel launches `ceil(bytes / 4096)` and its
//! encoder writes positions and gaps for all of them.
//!
//! # Checkpoint folder
//!
//! `config.json` holds `dfloat11_config`: `version`, `threads_per_block` (a list, `[512]`),
//! `bytes_per_thread` (8), `pattern_dict` {regex → [sub-module path, …]}. Every `*.safetensors`
//! file in the folder is read. A unit `G` whose name fully matches a pattern with a non-empty list
//! is cut at `split_positions` into `G.<path>.weight`, one per list entry in order; any other
//! unit is the single weight `G.weight`. Other tensors pass through unchanged. See [`checkpoint`]
//! for reading, [`shapes`] for the original shapes (DF11 stores none), [`compress`] for how plain
//! safetensors files are grouped when compressing, and [`decompress`].
//!
//! # The native format
//!
//! [`native`] is squeeze's own layout of the same information, built for the GPU: a 12-bit
//! length-limited code (one table lookup per weight) and fixed-size chunks with stored offsets
//! (one pass, no gaps, no prefix sum), decoded ([`native::decode`]) or multiplied in a fused
//! GEMV ([`native::gemv`]); lossless conversions from BF16 and to and from DF11.

pub mod bf16_gemv;
pub mod checkpoint;
pub mod compress;
pub mod decode;
pub mod decompress;
pub mod device;
pub mod encode;
pub mod error;
pub mod format;
pub mod gemv;
pub mod huffman;
pub mod native;
pub mod reference;
pub mod shapes;

pub use decode::Decode;
pub use encode::{Encoded, encode};
pub use error::{Df11Error, Result};
pub use format::{Checked, Layout, Unit};
pub use gemv::Gemv;
