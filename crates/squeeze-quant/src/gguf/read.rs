//! The GGUF parser: header, metadata, tensor infos and the data section of a file held in memory
//! (a memory map or a byte vector), every count, length, dimension and offset checked against
//! the bytes actually there before it is used.

use std::collections::HashSet;

use crate::gguf::error::GgufError;
use crate::gguf::ggml_type::GgmlType;
use crate::gguf::value::{Value, ValueType};

/// The first four bytes of every GGUF file.
pub const MAGIC: [u8; 4] = *b"GGUF";
/// Data alignment when `general.alignment` is absent.
pub const DEFAULT_ALIGNMENT: u64 = 32;
/// The metadata key that sets the alignment (a u32, a nonzero power of two).
pub const ALIGNMENT_KEY: &str = "general.alignment";
/// Most dimensions a tensor may have (`GGML_MAX_DIMS`).
pub const MAX_DIMS: u32 = 4;
/// Deepest nesting of arrays accepted, so a crafted file cannot exhaust the stack.
pub const MAX_NESTING: usize = 8;

/// Fewest bytes one metadata key/value takes: key length, value type, a one-byte value.
const MIN_KV_BYTES: u64 = 8 + 4 + 1;
/// Fewest bytes one tensor info takes: name length, n_dims, one dim, type, offset.
const MIN_TENSOR_INFO_BYTES: u64 = 8 + 4 + 8 + 4 + 8;

/// One tensor's description, with its data located in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorInfo {
    pub name: String,
    pub ggml_type: GgmlType,
    /// Dimensions innermost first, as GGUF stores them: `dims[0]` is the row length.
    pub dims: Vec<u64>,
    /// Offset of the data from the start of the data section, as stored.
    pub offset: u64,
    /// Absolute byte position of the data in the file.
    pub start: u64,
    /// Length of the data in bytes.
    pub bytes: u64,
}

/// Everything before the tensor data, parsed and checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    pub version: u32,
    /// Key/value pairs in file order; keys are unique.
    pub metadata: Vec<(String, Value)>,
    pub tensors: Vec<TensorInfo>,
    pub alignment: u64,
    /// Absolute byte position of the data section.
    pub data_start: u64,
}

/// Parses and checks a whole GGUF file.
pub fn parse(bytes: &[u8]) -> Result<Layout, GgufError> {
    let mut c = Cursor { bytes, pos: 0 };
    let magic = c.take(4, &|| "magic".into())?;
    if magic != MAGIC {
        return Err(GgufError::BadMagic {
            actual: magic.to_vec(),
        });
    }
    let version = c.u32(&|| "version".into())?;
    if !(2..=3).contains(&version) {
        let swapped = version.swap_bytes();
        return Err(if (1..=3).contains(&swapped) {
            GgufError::BigEndian { version: swapped }
        } else {
            GgufError::BadVersion { actual: version }
        });
    }
    let tensor_count = c.u64(&|| "tensor_count".into())?;
    let kv_count = c.u64(&|| "metadata_kv_count".into())?;
    c.check_count(kv_count, MIN_KV_BYTES, &|| "metadata_kv_count".into())?;

    let mut metadata = Vec::with_capacity(kv_count as usize);
    let mut keys = HashSet::new();
    for i in 0..kv_count {
        let key = c.string(&|| format!("metadata key #{i}"))?;
        let what = || format!("metadata `{key}`");
        let value_type = c.value_type(&what)?;
        let value = c.value(value_type, 0, &what)?;
        if !keys.insert(key.clone()) {
            return Err(GgufError::DuplicateKey { key });
        }
        metadata.push((key, value));
    }
    let alignment = alignment_of(&metadata)?;

    c.check_count(tensor_count, MIN_TENSOR_INFO_BYTES, &|| {
        "tensor_count".into()
    })?;
    let mut infos = Vec::with_capacity(tensor_count as usize);
    let mut names = HashSet::new();
    for i in 0..tensor_count {
        let name = c.string(&|| format!("name of tensor info #{i}"))?;
        let what = || format!("tensor info `{name}`");
        let n_dims = c.u32(&|| format!("{} n_dims", what()))?;
        if !(1..=MAX_DIMS).contains(&n_dims) {
            return Err(GgufError::BadDimCount {
                tensor: name,
                max: MAX_DIMS,
                actual: n_dims,
            });
        }
        let dims = (0..n_dims)
            .map(|d| c.u64(&|| format!("{} dims[{d}]", what())))
            .collect::<Result<Vec<_>, _>>()?;
        let type_id = c.u32(&|| format!("{} type", what()))?;
        let offset = c.u64(&|| format!("{} offset", what()))?;
        let ggml_type = GgmlType::from_id(type_id).ok_or_else(|| GgufError::UnknownGgmlType {
            tensor: name.clone(),
            actual: type_id,
        })?;
        let bytes = tensor_bytes(&name, ggml_type, &dims)?;
        if !names.insert(name.clone()) {
            return Err(GgufError::DuplicateTensor { tensor: name });
        }
        infos.push(TensorInfo {
            name,
            ggml_type,
            dims,
            offset,
            start: 0,
            bytes,
        });
    }

    let file_len = bytes.len() as u64;
    let data_start = align_up(c.pos as u64, alignment);
    for t in &mut infos {
        if !t.offset.is_multiple_of(alignment) {
            return Err(GgufError::MisalignedOffset {
                tensor: t.name.clone(),
                alignment,
                offset: t.offset,
            });
        }
        let start = data_start.checked_add(t.offset);
        let end = start.and_then(|s| s.checked_add(t.bytes));
        match (start, end) {
            (Some(start), Some(end)) if end <= file_len => t.start = start,
            _ => {
                return Err(GgufError::DataPastEnd {
                    tensor: t.name.clone(),
                    start: data_start.saturating_add(t.offset),
                    end: data_start.saturating_add(t.offset).saturating_add(t.bytes),
                    file_len,
                });
            }
        }
    }
    check_no_overlap(&infos)?;
    Ok(Layout {
        version,
        metadata,
        tensors: infos,
        alignment,
        data_start,
    })
}

/// Bytes of a tensor of `ggml_type` with `dims` (innermost first), after checking the dims:
/// 1..=4 of them, none zero, rows a whole number of blocks, no u64 overflow.
pub fn tensor_bytes(tensor: &str, ggml_type: GgmlType, dims: &[u64]) -> Result<u64, GgufError> {
    let n_dims = u32::try_from(dims.len()).unwrap_or(u32::MAX);
    if !(1..=MAX_DIMS).contains(&n_dims) {
        return Err(GgufError::BadDimCount {
            tensor: tensor.into(),
            max: MAX_DIMS,
            actual: n_dims,
        });
    }
    if let Some(axis) = dims.iter().position(|&d| d == 0) {
        return Err(GgufError::ZeroDim {
            tensor: tensor.into(),
            axis,
            dims: dims.to_vec(),
        });
    }
    let overflow = |what| GgufError::DimOverflow {
        tensor: tensor.into(),
        what,
        dims: dims.to_vec(),
    };
    let elements = dims
        .iter()
        .try_fold(1u64, |n, &d| n.checked_mul(d))
        .ok_or_else(|| overflow("element count"))?;
    let block = ggml_type.block_weights();
    if !dims[0].is_multiple_of(block) {
        return Err(GgufError::PartialBlock {
            tensor: tensor.into(),
            ggml_type: ggml_type.to_string(),
            block,
            row: dims[0],
        });
    }
    (elements / block)
        .checked_mul(ggml_type.block_bytes())
        .ok_or_else(|| overflow("byte size"))
}

/// `general.alignment` if present (a u32, nonzero power of two), else the default.
pub fn alignment_of(metadata: &[(String, Value)]) -> Result<u64, GgufError> {
    match metadata.iter().find(|(k, _)| k == ALIGNMENT_KEY) {
        None => Ok(DEFAULT_ALIGNMENT),
        Some((_, Value::U32(a))) if a.is_power_of_two() => Ok(u64::from(*a)),
        Some((_, Value::U32(a))) => Err(GgufError::BadAlignment {
            expected: "a nonzero power of two",
            actual: a.to_string(),
        }),
        Some((_, v)) => Err(GgufError::BadAlignment {
            expected: "a u32",
            actual: format!("a value of type {}", v.value_type()),
        }),
    }
}

/// Rounds `pos` up to a multiple of `alignment` (a power of two at most 2^31, so this cannot
/// overflow for positions inside a file).
pub fn align_up(pos: u64, alignment: u64) -> u64 {
    pos.div_ceil(alignment) * alignment
}

fn check_no_overlap(infos: &[TensorInfo]) -> Result<(), GgufError> {
    let mut order: Vec<&TensorInfo> = infos.iter().collect();
    order.sort_by_key(|t| t.start);
    for pair in order.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        if b.start < a.start + a.bytes {
            return Err(GgufError::Overlap {
                first: a.name.clone(),
                second: b.name.clone(),
                start: b.start,
                end: a.start + a.bytes,
            });
        }
    }
    Ok(())
}

/// A bounds-checked little-endian reader. `what` closures name the field for errors and run
/// only when one occurs.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

type What<'w> = &'w dyn Fn() -> String;

impl<'a> Cursor<'a> {
    fn remaining(&self) -> u64 {
        (self.bytes.len() - self.pos) as u64
    }

    fn take(&mut self, n: u64, what: What<'_>) -> Result<&'a [u8], GgufError> {
        if n > self.remaining() {
            return Err(GgufError::Truncated {
                what: what(),
                offset: self.pos as u64,
                needed: n,
                available: self.remaining(),
            });
        }
        let s = &self.bytes[self.pos..self.pos + n as usize];
        self.pos += n as usize;
        Ok(s)
    }

    fn array<const N: usize>(&mut self, what: What<'_>) -> Result<[u8; N], GgufError> {
        let s = self.take(N as u64, what)?;
        let mut a = [0; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    fn u32(&mut self, what: What<'_>) -> Result<u32, GgufError> {
        self.array(what).map(u32::from_le_bytes)
    }

    fn u64(&mut self, what: What<'_>) -> Result<u64, GgufError> {
        self.array(what).map(u64::from_le_bytes)
    }

    /// Fails unless `count` items of at least `min_bytes` each fit in what is left, so a
    /// corrupt count cannot make the reader allocate or loop beyond the file.
    fn check_count(&self, count: u64, min_bytes: u64, what: What<'_>) -> Result<(), GgufError> {
        let max = self.remaining() / min_bytes;
        if count > max {
            return Err(GgufError::CountTooLarge {
                what: what(),
                count,
                available: self.remaining(),
                max,
                min_bytes,
            });
        }
        Ok(())
    }

    fn string(&mut self, what: What<'_>) -> Result<String, GgufError> {
        let len = self.u64(&|| format!("{} length", what()))?;
        let bytes = self.take(len, what)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| GgufError::BadUtf8 { what: what() })
    }

    fn value_type(&mut self, what: What<'_>) -> Result<ValueType, GgufError> {
        let id = self.u32(&|| format!("{} value type", what()))?;
        ValueType::from_id(id).ok_or_else(|| GgufError::UnknownValueType {
            what: what(),
            actual: id,
        })
    }

    fn value(&mut self, ty: ValueType, depth: usize, what: What<'_>) -> Result<Value, GgufError> {
        Ok(match ty {
            ValueType::U8 => Value::U8(u8::from_le_bytes(self.array(what)?)),
            ValueType::I8 => Value::I8(i8::from_le_bytes(self.array(what)?)),
            ValueType::U16 => Value::U16(u16::from_le_bytes(self.array(what)?)),
            ValueType::I16 => Value::I16(i16::from_le_bytes(self.array(what)?)),
            ValueType::U32 => Value::U32(u32::from_le_bytes(self.array(what)?)),
            ValueType::I32 => Value::I32(i32::from_le_bytes(self.array(what)?)),
            ValueType::F32 => Value::F32(f32::from_le_bytes(self.array(what)?)),
            ValueType::U64 => Value::U64(u64::from_le_bytes(self.array(what)?)),
            ValueType::I64 => Value::I64(i64::from_le_bytes(self.array(what)?)),
            ValueType::F64 => Value::F64(f64::from_le_bytes(self.array(what)?)),
            ValueType::Bool => match self.array::<1>(what)?[0] {
                0 => Value::Bool(false),
                1 => Value::Bool(true),
                actual => {
                    return Err(GgufError::BadBool {
                        what: what(),
                        actual,
                    });
                }
            },
            ValueType::String => Value::String(self.string(what)?),
            ValueType::Array => {
                if depth >= MAX_NESTING {
                    return Err(GgufError::NestingTooDeep {
                        what: what(),
                        max: MAX_NESTING,
                    });
                }
                let elem = self.value_type(&|| format!("{} array element", what()))?;
                let len = self.u64(&|| format!("{} array length", what()))?;
                self.check_count(len, elem.min_bytes(), &|| {
                    format!("{} array length", what())
                })?;
                let values = (0..len)
                    .map(|i| self.value(elem, depth + 1, &|| format!("{}[{i}]", what())))
                    .collect::<Result<Vec<_>, _>>()?;
                Value::Array(elem, values)
            }
        })
    }
}
