//! The `ggml_type` ids a GGUF tensor info may name, with the block geometry of each (weights per
//! block, bytes per block) as ggml defines it, so the reader can size and bounds-check tensors of
//! every type — including the ones squeeze cannot dequantize yet.

use std::fmt;

use crate::format::Format;

/// A tensor element type as GGUF stores it (`ggml_type`). Ids that ggml retired (4, 5, 31–33,
/// 36–38) and ids past the last one are unknown and rejected by the reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GgmlType {
    F32,
    F16,
    Q4_0,
    Q4_1,
    Q5_0,
    Q5_1,
    Q8_0,
    Q8_1,
    Q2K,
    Q3K,
    Q4K,
    Q5K,
    Q6K,
    Q8K,
    Iq2Xxs,
    Iq2Xs,
    Iq3Xxs,
    Iq1S,
    Iq4Nl,
    Iq3S,
    Iq2S,
    Iq4Xs,
    I8,
    I16,
    I32,
    I64,
    F64,
    Iq1M,
    Bf16,
    Tq1_0,
    Tq2_0,
    Mxfp4,
}

/// How squeeze turns a tensor of some [`GgmlType`] into f32.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToF32 {
    /// Plain floats, converted exactly on the host.
    F32,
    F16,
    Bf16,
    /// A block format squeeze dequantizes on the GPU.
    Dequantize(Format),
}

impl GgmlType {
    /// Every type, in id order.
    pub const ALL: [GgmlType; 32] = [
        GgmlType::F32,
        GgmlType::F16,
        GgmlType::Q4_0,
        GgmlType::Q4_1,
        GgmlType::Q5_0,
        GgmlType::Q5_1,
        GgmlType::Q8_0,
        GgmlType::Q8_1,
        GgmlType::Q2K,
        GgmlType::Q3K,
        GgmlType::Q4K,
        GgmlType::Q5K,
        GgmlType::Q6K,
        GgmlType::Q8K,
        GgmlType::Iq2Xxs,
        GgmlType::Iq2Xs,
        GgmlType::Iq3Xxs,
        GgmlType::Iq1S,
        GgmlType::Iq4Nl,
        GgmlType::Iq3S,
        GgmlType::Iq2S,
        GgmlType::Iq4Xs,
        GgmlType::I8,
        GgmlType::I16,
        GgmlType::I32,
        GgmlType::I64,
        GgmlType::F64,
        GgmlType::Iq1M,
        GgmlType::Bf16,
        GgmlType::Tq1_0,
        GgmlType::Tq2_0,
        GgmlType::Mxfp4,
    ];

    /// `(id, name, weights per block, bytes per block)` as in ggml's type traits.
    const fn facts(self) -> (u32, &'static str, u64, u64) {
        match self {
            GgmlType::F32 => (0, "f32", 1, 4),
            GgmlType::F16 => (1, "f16", 1, 2),
            GgmlType::Q4_0 => (2, "q4_0", 32, 18),
            GgmlType::Q4_1 => (3, "q4_1", 32, 20),
            GgmlType::Q5_0 => (6, "q5_0", 32, 22),
            GgmlType::Q5_1 => (7, "q5_1", 32, 24),
            GgmlType::Q8_0 => (8, "q8_0", 32, 34),
            GgmlType::Q8_1 => (9, "q8_1", 32, 36),
            GgmlType::Q2K => (10, "q2_k", 256, 84),
            GgmlType::Q3K => (11, "q3_k", 256, 110),
            GgmlType::Q4K => (12, "q4_k", 256, 144),
            GgmlType::Q5K => (13, "q5_k", 256, 176),
            GgmlType::Q6K => (14, "q6_k", 256, 210),
            GgmlType::Q8K => (15, "q8_k", 256, 292),
            GgmlType::Iq2Xxs => (16, "iq2_xxs", 256, 66),
            GgmlType::Iq2Xs => (17, "iq2_xs", 256, 74),
            GgmlType::Iq3Xxs => (18, "iq3_xxs", 256, 98),
            GgmlType::Iq1S => (19, "iq1_s", 256, 50),
            GgmlType::Iq4Nl => (20, "iq4_nl", 32, 18),
            GgmlType::Iq3S => (21, "iq3_s", 256, 110),
            GgmlType::Iq2S => (22, "iq2_s", 256, 82),
            GgmlType::Iq4Xs => (23, "iq4_xs", 256, 136),
            GgmlType::I8 => (24, "i8", 1, 1),
            GgmlType::I16 => (25, "i16", 1, 2),
            GgmlType::I32 => (26, "i32", 1, 4),
            GgmlType::I64 => (27, "i64", 1, 8),
            GgmlType::F64 => (28, "f64", 1, 8),
            GgmlType::Iq1M => (29, "iq1_m", 256, 56),
            GgmlType::Bf16 => (30, "bf16", 1, 2),
            GgmlType::Tq1_0 => (34, "tq1_0", 256, 54),
            GgmlType::Tq2_0 => (35, "tq2_0", 256, 66),
            GgmlType::Mxfp4 => (39, "mxfp4", 32, 17),
        }
    }

    /// The id GGUF stores.
    pub const fn id(self) -> u32 {
        self.facts().0
    }

    /// ggml's lower-case name (`q4_k`, `bf16`, …).
    pub const fn name(self) -> &'static str {
        self.facts().1
    }

    /// Weights per block (1 for plain types).
    pub const fn block_weights(self) -> u64 {
        self.facts().2
    }

    /// Bytes per block.
    pub const fn block_bytes(self) -> u64 {
        self.facts().3
    }

    /// The type with this id, if ggml defines one.
    pub fn from_id(id: u32) -> Option<GgmlType> {
        GgmlType::ALL.into_iter().find(|t| t.id() == id)
    }

    /// The squeeze block format with this type's id, if squeeze has one. Looked up through
    /// [`Format::ggml_type`], so every format added to [`Format`] is found here unchanged.
    pub fn format(self) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.ggml_type() == self.id())
    }

    /// How squeeze converts this type to f32, or `None` where it cannot yet.
    pub fn to_f32(self) -> Option<ToF32> {
        match self {
            GgmlType::F32 => Some(ToF32::F32),
            GgmlType::F16 => Some(ToF32::F16),
            GgmlType::Bf16 => Some(ToF32::Bf16),
            t => t.format().map(ToF32::Dequantize),
        }
    }
}

impl fmt::Display for GgmlType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (ggml type {})", self.name(), self.id())
    }
}
