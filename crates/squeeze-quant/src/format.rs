//! GGUF block formats: byte layouts as ggml defines them (`ggml-common.h`), little-endian.
//!
//! ```text
//! Q8_0  34 bytes / 32 weights   [d: f16][q0 .. q31: i8]                  w = d·q
//! Q4_0  18 bytes / 32 weights   [d: f16][b0 .. b15: u8]                  w = d·(q − 8)
//! Q4_1  20 bytes / 32 weights   [d: f16][m: f16][b0 .. b15: u8]          w = d·q + m
//!       4-bit q: weight j < 16 is the low nibble of b_j, weight j + 16 its high nibble.
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
}

impl Format {
    pub const ALL: [Format; 3] = [Format::Q8_0, Format::Q4_0, Format::Q4_1];

    /// Weights per block.
    pub const fn block_weights(self) -> usize {
        32
    }

    /// Bytes per block.
    pub const fn block_bytes(self) -> usize {
        match self {
            Format::Q8_0 => 34,
            Format::Q4_0 => 18,
            Format::Q4_1 => 20,
        }
    }

    /// The `ggml_type` number GGUF files store.
    pub const fn ggml_type(self) -> u32 {
        match self {
            Format::Q4_0 => 2,
            Format::Q4_1 => 3,
            Format::Q8_0 => 8,
        }
    }

    pub const fn name(self) -> &'static str {
        match self {
            Format::Q8_0 => "q8_0",
            Format::Q4_0 => "q4_0",
            Format::Q4_1 => "q4_1",
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
            .ok_or_else(|| Error::invalid("format", "name", "one of q8_0, q4_0, q4_1", s))
    }
}
