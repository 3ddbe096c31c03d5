//! The native entropy format (version 1): BF16 weights stored losslessly like DF11 — exponents
//! Huffman-coded, sign and mantissa bytes raw — but laid out so that a GPU decodes it in one
//! pass with one table lookup per weight, inside a GEMV's tiles.
//!
//! # Decisions
//!
//! - **Code**: canonical Huffman over the 256 exponent values, length-limited to
//!   [`huffman::MAX_CODE_BITS`] = 12 bits by package-merge (optimal under the cap). One lookup
//!   in a 4096-entry table (8 KiB, in workgroup memory) decodes a symbol; DF11 needs a chain of
//!   up to four. The file stores only the 256 code lengths; every decoder derives the table,
//!   after the host has checked that the lengths form a complete prefix code.
//!   The cap costs well under 0.5 % of the exponent stream on LLM-like weights.
//! - **Chunks**: each row of the matrix is cut into chunks of [`CHUNK_SYMBOLS`] = 128
//!   consecutive weights (the row's last chunk may be shorter; rows never share a chunk). One
//!   invocation decodes one chunk: a fixed count, so no invocation has to find where its codes
//!   start (DF11's gaps) or count what it decoded (DF11's prefix sum) — one pass.
//! - **Offsets**: chunks are packed back to back (no gaps between them); each chunk's starting
//!   bit is stored in two levels, a u32 per tile of [`TILE_CHUNKS`] = 32 chunks and a u16 per
//!   chunk relative to its tile (a tile's codes fit in 32 · 128 · 12 < 2¹⁶ bits): 0.13 bits per
//!   weight, less than DF11's gaps (~0.2).
//! - **Layout for the GEMV**: a workgroup takes whole rows (a 4096-column row is 32 chunks = one
//!   tile), its invocations read neighbouring chunks, i.e. one contiguous span of the stream.
//! - **Words**: the stream is u32 words, MSB first *within each word* (not each byte), so a
//!   kernel reads words with no byte swap.
//!
//! # Measured
//!
//! Exponent stream, 12-bit cap against DF11's unlimited code on the same weights: +0.08 % (2048²
//! Gaussian mixture), +0.12 % (2 × 4096² sums of uniforms); whole files 67.82 % vs 68.33 % and
//! 67.04 % vs 67.48 % of BF16 (native smaller: its offsets cost less than DF11's gaps). On
//! lavapipe (a CPU), 4096² decode ran in ~0.4× the DF11 decoder's time, and the fused GEMV beat
//! the BF16 GEMV at batch 1 (~0.7× its time) and about tied at batch 8; `squeeze bench native`.
//!
//! # Values (as DF11)
//!
//! ```text
//! BF16 w (u16):  s eeeeeeee mmmmmmm
//! exponent      = (w >> 7) & 0xff                     → coded into `exponents`
//! sign_mantissa = ((w >> 8) & 0x80) | (w & 0x7f)      → one raw byte per weight
//! ```
//!
//! # One unit (a matrix W [rows, cols]), tensors `NAME.<tensor>` in a safetensors file
//!
//! | tensor | dtype, shape | contents |
//! | --- | --- | --- |
//! | `lengths` | U8 `[256]` | code length of each exponent (0: absent), at most 12 |
//! | `exponents` | U32 `[words]` | the codes of all chunks, back to back; `words = ⌈bits / 32⌉` |
//! | `sign_mantissa` | U8 `[rows · cols]` | sign/mantissa byte of each weight, row-major |
//! | `tile_offsets` | U32 `[tiles + 1]` | first bit of each tile, then the stream's bits |
//! | `chunk_offsets` | U16 `[chunks]` | first bit of each chunk minus its tile's (0 for a tile's first) |
//!
//! `chunks = rows · ⌈cols / 128⌉`, `tiles = ⌈chunks / 32⌉`; chunk `g` holds weights
//! `row · cols + 128 k ..` of row `g / ⌈cols/128⌉`, `k = g mod ⌈cols/128⌉`. The file's
//! `__metadata__` holds `squeeze_native`: `{"version": 1, "chunk_symbols": 128, "tile_chunks":
//! 32, "max_code_bits": 12, "weights": {NAME: [shape…], …}}`; every other tensor passes
//! through. See [`file`].
//!
//! ```text
//! exponents (u32 words, bit 31 first):
//!  word 0                           word 1                           word 2
//!  |c0   |c1 |c2      |c3 |...      |...  |c127|c0' |c1'|...         ...
//!  ^ chunk 0 starts at bit 0             ^ chunk 1 = tile_offsets[0] + chunk_offsets[1]
//!
//! start(g)  = tile_offsets[g / 32] + chunk_offsets[g]
//! start(g+1) − start(g) = Σ code lengths of chunk g       (checked: decoding ends there)
//!
//! decoding one code at bit p:
//!   window = the 12 bits at p (spanning words p/32 and p/32+1; zeros past the end)
//!   entry  = table[window]  (u16: length in bits 11..8, exponent in bits 7..0)
//!   p += length
//! ```

pub mod decode;
pub mod device;
pub mod encode;
pub mod file;
pub mod format;
pub mod gemv;
pub mod huffman;
pub mod reference;

pub use encode::{NativeEncoded, encode, from_df11, to_df11};
pub use format::{CheckedNative, NativeUnit};

/// The format version this crate reads and writes.
pub const VERSION: u32 = 1;
/// Weights per chunk (one invocation's work).
pub const CHUNK_SYMBOLS: usize = 128;
/// Chunks per tile (sharing one u32 offset).
pub const TILE_CHUNKS: usize = 32;
/// Bits a tile's codes can take at most: relative offsets stay below this (< 2¹⁶).
pub const MAX_TILE_BITS: u32 = (TILE_CHUNKS * CHUNK_SYMBOLS) as u32 * huffman::MAX_CODE_BITS;
