//! GGUF block formats: byte layouts as ggml defines them (`ggml-common.h`), little-endian.
//!
//! ```text
//! Q8_0   34 B / 32 w   [d: f16][q0 .. q31: i8]                       w = d·q
//! Q4_0   18 B / 32 w   [d: f16][b0 .. b15: u8]                       w = d·(q − 8)
//! Q4_1   20 B / 32 w   [d: f16][m: f16][b0 .. b15: u8]               w = d·q + m
//!        4-bit q: weight j < 16 is the low nibble of b_j, weight j + 16 its high nibble.
//! Q5_0   22 B / 32 w   [d: f16][qh: u32][b0 .. b15: u8]             w = d·(q − 16)
//! Q5_1   24 B / 32 w   [d: f16][m: f16][qh: u32][b0 .. b15: u8]     w = d·q + m
//!        5-bit q: the 4-bit code as in Q4_0, plus bit j of qh as bit 4 of weight j.
//! IQ4_NL 18 B / 32 w   [d: f16][b0 .. b15: u8]                       w = d·K[q]
//!        q as in Q4_0; K = kvalues_iq4nl = {−127 −104 −83 −65 −49 −35 −22 −10 1 13 25 38 53 69 89 113}.
//! MXFP4  17 B / 32 w   [e: u8][b0 .. b15: u8]                        w = K[q]·2^(e − 128)
//!        q as in Q4_0; K = kvalues_mxfp4 = 2 × E2M1 = {0 1 2 3 4 6 8 12, 0 −1 −2 −3 −4 −6 −8 −12}.
//! Q4_K  144 B / 256 w  [d: f16][dmin: f16][scales: 12 B][qs: 128 B]
//!        8 sub-blocks of 32 with 6-bit scale sc_s and min m_s packed in `scales`
//!        (s < 4: sc = scales[s] & 63, m = scales[s+4] & 63; s ≥ 4: sc = scales[s+4] & 15 |
//!        (scales[s−4] >> 6) << 4, m = scales[s+4] >> 4 | (scales[s] >> 6) << 4).
//!        Weights 64p .. 64p+32 are the low nibbles of qs[32p .. 32p+32], the next 32 the high
//!        nibbles; sub-block s = 2p (low) or 2p + 1 (high).       w = (d·sc)·q − dmin·m
//! Q5_K  176 B / 256 w  [d: f16][dmin: f16][scales: 12 B][qh: 32 B][qs: 128 B]
//!        Q4_K's layout; weight l (< 32) of sub-block s adds bit s of qh[l] as bit 4 of q.
//! Q3_K  110 B / 256 w  [hmask: 32 B][qs: 64 B][scales: 12 B][d: f16]
//!        Half h (128 w): weight 32j + l (j < 4, l < 32) has q = bits 2j..2j+2 of qs[32h + l],
//!        minus 4 unless bit 4h + j of hmask[l] is set, and the 6-bit scale s = 8h + 2j + l/16
//!        (low 4 bits: scales[s % 8] >> 4·(s / 8); top 2: scales[8 + s % 4] >> 2·(s / 4)),
//!        taken as sc − 32.                                        w = (d·sc)·q
//! Q2_K   84 B / 256 w  [scales: 16 B][qs: 64 B][d: f16][dmin: f16]
//!        q as in Q3_K without hmask; scales[8h + 2j + l/16] = sc | m << 4.
//!                                                                 w = (d·sc)·q − dmin·m
//! Q6_K  210 B / 256 w  [ql: 128 B][qh: 64 B][scales: 16 × i8][d: f16]
//!        Half h (128 w) uses ql[64h ..], qh[32h ..], scales[8h ..]; within it weight 32k + l
//!        (k < 4, l < 32) is q = (ql[l + 32(k & 1)] low nibble if k < 2 else high nibble)
//!        | ((qh[l] >> 2k) & 3) << 4, scale scales[l/16 + 2k].    w = (d·sc)·(q − 32)
//! ```

use std::fmt;
use std::str::FromStr;

use squeeze_core::Error;

/// A quantized block format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Q8_0,
    Q4_0,
    Q4_1,
    Q4K,
    Q6K,
    Mxfp4,
    Q5_0,
    Q5_1,
    Q5K,
    Iq4Nl,
    Q3K,
    Q2K,
}

impl Format {
    pub const ALL: [Format; 12] = [
        Format::Q8_0,
        Format::Q4_0,
        Format::Q4_1,
        Format::Q4K,
        Format::Q6K,
        Format::Mxfp4,
        Format::Q5_0,
        Format::Q5_1,
        Format::Q5K,
        Format::Iq4Nl,
        Format::Q3K,
        Format::Q2K,
    ];

    /// Weights per block.
    pub const fn block_weights(self) -> usize {
        match self {
            Format::Q2K | Format::Q3K | Format::Q4K | Format::Q5K | Format::Q6K => 256,
            _ => 32,
        }
    }

    /// Bytes per block.
    pub const fn block_bytes(self) -> usize {
        match self {
            Format::Q8_0 => 34,
            Format::Q4_0 => 18,
            Format::Q4_1 => 20,
            Format::Q4K => 144,
            Format::Q6K => 210,
            Format::Mxfp4 => 17,
            Format::Q5_0 => 22,
            Format::Q5_1 => 24,
            Format::Q5K => 176,
            Format::Iq4Nl => 18,
            Format::Q3K => 110,
            Format::Q2K => 84,
        }
    }

    /// The `ggml_type` number GGUF files store.
    pub const fn ggml_type(self) -> u32 {
        match self {
            Format::Q4_0 => 2,
            Format::Q4_1 => 3,
            Format::Q8_0 => 8,
            Format::Q4K => 12,
            Format::Q6K => 14,
            Format::Mxfp4 => 39,
            Format::Q5_0 => 6,
            Format::Q5_1 => 7,
            Format::Q5K => 13,
            Format::Iq4Nl => 20,
            Format::Q2K => 10,
            Format::Q3K => 11,
        }
    }

    pub const fn name(self) -> &'static str {
        match self {
            Format::Q8_0 => "q8_0",
            Format::Q4_0 => "q4_0",
            Format::Q4_1 => "q4_1",
            Format::Q4K => "q4_k",
            Format::Q6K => "q6_k",
            Format::Mxfp4 => "mxfp4",
            Format::Q5_0 => "q5_0",
            Format::Q5_1 => "q5_1",
            Format::Q5K => "q5_k",
            Format::Iq4Nl => "iq4_nl",
            Format::Q3K => "q3_k",
            Format::Q2K => "q2_k",
        }
    }

    /// The `FORMAT` override of `shaders/quant/gguf_blocks.wgsl`.
    pub(crate) const fn shader_constant(self) -> f64 {
        match self {
            Format::Q8_0 => 0.0,
            Format::Q4_0 => 1.0,
            Format::Q4_1 => 2.0,
            Format::Q4K => 3.0,
            Format::Q6K => 4.0,
            Format::Mxfp4 => 5.0,
            Format::Q5_0 => 6.0,
            Format::Q5_1 => 7.0,
            Format::Q5K => 8.0,
            Format::Iq4Nl => 9.0,
            Format::Q3K => 10.0,
            Format::Q2K => 11.0,
        }
    }

    /// Bytes of one row of `cols` weights; `cols` must be a whole number of blocks.
    pub fn row_bytes(self, cols: usize) -> Result<usize, Error> {
        if cols == 0 || !cols.is_multiple_of(self.block_weights()) {
            return Err(Error::invalid(
                "cols",
                "count",
                format!("a positive multiple of {} for {self}", self.block_weights()),
                cols,
            ));
        }
        Ok(cols / self.block_weights() * self.block_bytes())
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        Format::ALL
            .into_iter()
            .find(|x| x.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                let names: Vec<_> = Format::ALL.iter().map(|f| f.name()).collect();
                Error::invalid("format", "name", names.join(" | "), s)
            })
    }
}
