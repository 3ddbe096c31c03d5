//! The GGUF reader and writer: round trips of every value type and odd tensor shapes, every
//! corruption the reader checks mapped to its typed error, property tests (random valid files
//! round-trip; truncated or byte-flipped files never panic), conversion to f32 on the GPU
//! (bit-exact against the CPU reference, split across dispatches when rows exceed the limit),
//! and matmul with a weight tensor (within the GEMV tolerance of the f64 reference).

use half::{bf16, f16};
use proptest::prelude::*;
use squeeze::quant::gguf::{
    F32Converter, GgmlType, GgufError, GgufFile, GgufWriter, MAX_NESTING, TensorMatmul, ToF32,
    Value, ValueType,
};
use squeeze::quant::{Activations, Format, reference};
use squeeze::{Error, Gpu, GpuOptions};
use squeeze_conformance::adapters::NO_ADAPTER_HELP;
use squeeze_conformance::rng::SplitMix64;

fn parse(bytes: Vec<u8>) -> Result<GgufFile, GgufError> {
    GgufFile::from_bytes(bytes)
}

fn every_value_type() -> Vec<(String, Value)> {
    let strings = |xs: &[&str]| {
        Value::Array(
            ValueType::String,
            xs.iter().map(|s| Value::String(s.to_string())).collect(),
        )
    };
    vec![
        ("u8".into(), Value::U8(255)),
        ("i8".into(), Value::I8(-128)),
        ("u16".into(), Value::U16(65535)),
        ("i16".into(), Value::I16(-32768)),
        ("u32".into(), Value::U32(u32::MAX)),
        ("i32".into(), Value::I32(i32::MIN)),
        ("f32".into(), Value::F32(-0.0)),
        ("bool.true".into(), Value::Bool(true)),
        ("bool.false".into(), Value::Bool(false)),
        ("string".into(), Value::String("llama · ✓".into())),
        ("string.empty".into(), Value::String(String::new())),
        ("u64".into(), Value::U64(u64::MAX)),
        ("i64".into(), Value::I64(i64::MIN)),
        ("f64".into(), Value::F64(f64::INFINITY)),
        ("array.empty".into(), Value::Array(ValueType::F32, vec![])),
        (
            "array.i32".into(),
            Value::Array(ValueType::I32, vec![Value::I32(-1), Value::I32(7)]),
        ),
        ("array.strings".into(), strings(&["a", "", "bc"])),
        (
            "array.nested".into(),
            Value::Array(
                ValueType::Array,
                vec![
                    strings(&["x"]),
                    Value::Array(ValueType::Bool, vec![Value::Bool(true)]),
                    Value::Array(ValueType::Array, vec![]),
                ],
            ),
        ),
    ]
}

fn random_bytes(rng: &mut SplitMix64, n: usize) -> Vec<u8> {
    (0..n).map(|_| rng.next_u32() as u8).collect()
}

/// Blocks of `format`: quantized from random weights where squeeze has the quantizer, else
/// random bytes (compare those with [`canonical`]: random scales may be NaN).
fn quantized(rng: &mut SplitMix64, format: Format, dims: &[u64]) -> Vec<u8> {
    let n = dims.iter().product::<u64>() as usize;
    let weights: Vec<f32> = (0..n)
        .map(|_| (rng.next_u32() as f32 / u32::MAX as f32 - 0.5) * 8.0)
        .collect();
    reference::quantize(format, &weights)
        .unwrap_or_else(|_| random_bytes(rng, n / format.block_weights() * format.block_bytes()))
}

/// f32 bits with every NaN made one NaN.
fn canonical(v: &[f32]) -> Vec<u32> {
    v.iter()
        .map(|x| if x.is_nan() { 0x7fc0_0000 } else { x.to_bits() })
        .collect()
}

/// Tensors of several types with odd shapes: one block, odd row counts, 1-D to 4-D.
fn odd_tensors(rng: &mut SplitMix64) -> Vec<(String, GgmlType, Vec<u64>, Vec<u8>)> {
    let mut out = vec![
        (
            "scalar.f32".into(),
            GgmlType::F32,
            vec![1],
            random_bytes(rng, 4),
        ),
        (
            "vec.f16".into(),
            GgmlType::F16,
            vec![7],
            random_bytes(rng, 14),
        ),
        (
            "mat.bf16".into(),
            GgmlType::Bf16,
            vec![3, 5],
            random_bytes(rng, 30),
        ),
        (
            "i8.4d".into(),
            GgmlType::I8,
            vec![1, 2, 3, 5],
            random_bytes(rng, 30),
        ),
        (
            "q4_k.unsupported".into(),
            GgmlType::Q4K,
            vec![256, 1],
            random_bytes(rng, 144),
        ),
    ];
    for (name, format, dims) in [
        ("q8_0.one_block", Format::Q8_0, vec![32]),
        ("q4_0.odd_rows", Format::Q4_0, vec![64, 3]),
        ("q4_1.3d", Format::Q4_1, vec![32, 1, 5]),
    ] {
        let ty = GgmlType::from_id(format.ggml_type()).unwrap();
        out.push((name.into(), ty, dims.clone(), quantized(rng, format, &dims)));
    }
    out
}

fn writer_with(
    metadata: &[(String, Value)],
    tensors: &[(String, GgmlType, Vec<u64>, Vec<u8>)],
) -> GgufWriter {
    let mut w = GgufWriter::new();
    for (k, v) in metadata {
        w = w.metadata(k.clone(), v.clone());
    }
    for (name, ty, dims, data) in tensors {
        w = w.tensor(name.clone(), *ty, dims, data.clone());
    }
    w
}

#[test]
fn every_value_type_and_odd_shapes_round_trip_in_v2_and_v3() {
    let mut rng = SplitMix64::new(1);
    let tensors = odd_tensors(&mut rng);
    for version in [2, 3] {
        for alignment in [None, Some(1u32), Some(8), Some(64)] {
            let mut metadata = every_value_type();
            if let Some(a) = alignment {
                metadata.push(("general.alignment".into(), Value::U32(a)));
            }
            let bytes = writer_with(&metadata, &tensors)
                .version(version)
                .to_bytes()
                .unwrap();
            let file = parse(bytes).unwrap();
            assert_eq!(file.version(), version);
            assert_eq!(file.metadata(), &metadata[..]);
            let align = u64::from(alignment.unwrap_or(32));
            assert_eq!(file.layout().alignment, align);
            assert_eq!(file.layout().data_start % align, 0);
            assert_eq!(file.tensors().len(), tensors.len());
            for (t, (name, ty, dims, data)) in file.tensors().zip(&tensors) {
                assert_eq!(
                    (t.name, t.ggml_type, t.dims, t.data),
                    (&name[..], *ty, &dims[..], &data[..])
                );
            }
            for info in &file.layout().tensors {
                assert_eq!(info.offset % align, 0, "{}", info.name);
            }
            let t = file.tensor("q4_0.odd_rows").unwrap();
            assert_eq!((t.row_len(), t.rows(), t.shape()), (64, 3, vec![3, 64]));
            assert_eq!(file.get("u16"), Some(&Value::U16(65535)));
            assert!(matches!(
                file.tensor("missing"),
                Err(GgufError::NoSuchTensor { tensor, .. }) if tensor == "missing"
            ));
        }
    }
}

#[test]
fn files_open_memory_mapped() {
    // Removed when dropped, whether the test passes or panics.
    let scratch = tempfile::Builder::new()
        .prefix("squeeze-test-")
        .tempdir()
        .unwrap();
    let dir = scratch.path();
    let path = dir.join("odd.gguf");
    let tensors = odd_tensors(&mut SplitMix64::new(2));
    writer_with(&every_value_type(), &tensors)
        .write(&path)
        .unwrap();
    let file = GgufFile::open(&path).unwrap();
    for (t, (name, _, _, data)) in file.tensors().zip(&tensors) {
        assert_eq!((t.name, t.data), (&name[..], &data[..]));
    }
    let empty = dir.join("empty.gguf");
    std::fs::write(&empty, b"").unwrap();
    assert!(matches!(
        GgufFile::open(&empty),
        Err(GgufError::Truncated { what, needed: 4, available: 0, .. }) if what == "magic"
    ));
    let missing = GgufFile::open(&dir.join("missing.gguf")).err().unwrap();
    assert!(matches!(missing, GgufError::Io { .. }), "{missing}");
}

#[test]
fn a_file_without_tensors_or_metadata_is_valid() {
    let bytes = GgufWriter::new().to_bytes().unwrap();
    assert_eq!(bytes.len(), 32, "24-byte header padded to the alignment");
    let file = parse(bytes[..24].to_vec()).unwrap();
    assert_eq!((file.tensors().len(), file.metadata().len()), (0, 0));
}

/// A GGUF file assembled field by field, so tests can write what the writer refuses.
struct Raw {
    version: u32,
    tensor_count: Option<u64>,
    kv_count: Option<u64>,
    kvs: Vec<Vec<u8>>,
    infos: Vec<Vec<u8>>,
    data: Vec<u8>,
}

fn le_string(s: &str) -> Vec<u8> {
    let mut v = (s.len() as u64).to_le_bytes().to_vec();
    v.extend_from_slice(s.as_bytes());
    v
}

impl Raw {
    fn new() -> Self {
        Raw {
            version: 3,
            tensor_count: None,
            kv_count: None,
            kvs: vec![],
            infos: vec![],
            data: vec![],
        }
    }

    fn kv(mut self, key: &str, type_id: u32, value: &[u8]) -> Self {
        let mut v = le_string(key);
        v.extend_from_slice(&type_id.to_le_bytes());
        v.extend_from_slice(value);
        self.kvs.push(v);
        self
    }

    fn info(mut self, name: &str, dims: &[u64], type_id: u32, offset: u64) -> Self {
        let mut v = le_string(name);
        v.extend_from_slice(&(dims.len() as u32).to_le_bytes());
        for d in dims {
            v.extend_from_slice(&d.to_le_bytes());
        }
        v.extend_from_slice(&type_id.to_le_bytes());
        v.extend_from_slice(&offset.to_le_bytes());
        self.infos.push(v);
        self
    }

    /// Tensor data, written after padding the infos to 32 bytes.
    fn data(mut self, bytes: usize) -> Self {
        self.data = vec![0x3c; bytes];
        self
    }

    fn bytes(&self) -> Vec<u8> {
        let mut out = b"GGUF".to_vec();
        out.extend_from_slice(&self.version.to_le_bytes());
        let tc = self.tensor_count.unwrap_or(self.infos.len() as u64);
        out.extend_from_slice(&tc.to_le_bytes());
        let kc = self.kv_count.unwrap_or(self.kvs.len() as u64);
        out.extend_from_slice(&kc.to_le_bytes());
        self.kvs.iter().for_each(|k| out.extend_from_slice(k));
        self.infos.iter().for_each(|i| out.extend_from_slice(i));
        out.resize(out.len().next_multiple_of(32), 0);
        out.extend_from_slice(&self.data);
        out
    }

    fn parse(&self) -> GgufError {
        match parse(self.bytes()) {
            Ok(_) => panic!("a corrupt file parsed"),
            Err(e) => {
                assert!(!e.to_string().is_empty());
                e
            }
        }
    }
}

const F32: u32 = 0;
const Q8_0: u32 = 8;
const T_U32: u32 = 4;
const T_BOOL: u32 = 7;
const T_STRING: u32 = 8;
const T_ARRAY: u32 = 9;
const T_U64: u32 = 10;

#[test]
fn header_errors() {
    let mut bytes = Raw::new().bytes();
    bytes[0] = b'g';
    assert!(matches!(parse(bytes), Err(GgufError::BadMagic { actual }) if actual == b"gGUF"));

    let mut bytes = Raw::new().bytes();
    bytes[4..8].copy_from_slice(&3u32.to_be_bytes());
    assert!(matches!(
        parse(bytes),
        Err(GgufError::BigEndian { version: 3 })
    ));
    for version in [0, 1, 4, 0x0102_0304] {
        let e = Raw {
            version,
            ..Raw::new()
        }
        .parse();
        assert!(
            matches!(e, GgufError::BadVersion { actual } if actual == version),
            "{e}"
        );
    }
    for len in [0, 3, 7, 15, 23] {
        let e = parse(Raw::new().bytes()[..len].to_vec()).err().unwrap();
        assert!(
            matches!(e, GgufError::Truncated { offset, .. } if offset <= len as u64),
            "{e}"
        );
    }
    let e = Raw {
        kv_count: Some(u64::MAX),
        ..Raw::new()
    }
    .parse();
    assert!(
        matches!(e, GgufError::CountTooLarge { ref what, count: u64::MAX, .. } if what == "metadata_kv_count"),
        "{e}"
    );
    let e = Raw {
        tensor_count: Some(1 << 40),
        ..Raw::new()
    }
    .parse();
    assert!(
        matches!(e, GgufError::CountTooLarge { ref what, .. } if what == "tensor_count"),
        "{e}"
    );
}

#[test]
fn metadata_errors() {
    let u32_kv = |key| Raw::new().kv(key, T_U32, &7u32.to_le_bytes());
    let e = Raw::new().kv("k", 13, &[0; 8]).parse();
    assert!(
        matches!(e, GgufError::UnknownValueType { actual: 13, ref what } if what == "metadata `k`"),
        "{e}"
    );
    let e = Raw::new().kv("flag", T_BOOL, &[2]).parse();
    assert!(matches!(e, GgufError::BadBool { actual: 2, .. }), "{e}");
    let e = u32_kv("same").kv("same", T_BOOL, &[1]).parse();
    assert!(
        matches!(e, GgufError::DuplicateKey { ref key } if key == "same"),
        "{e}"
    );

    // A string whose length runs past the end of the file, and a key that does.
    let e = Raw::new()
        .kv("name", T_STRING, &u64::MAX.to_le_bytes())
        .parse();
    assert!(
        matches!(e, GgufError::Truncated { needed: u64::MAX, ref what, .. } if what == "metadata `name`"),
        "{e}"
    );
    let mut bytes = u32_kv("key").bytes();
    bytes[24..32].copy_from_slice(&1000u64.to_le_bytes());
    assert!(matches!(
        parse(bytes),
        Err(GgufError::Truncated { needed: 1000, .. })
    ));
    let mut bytes = Raw::new().kv("bad", T_U32, &[0; 4]).bytes();
    bytes[32] = 0xff;
    assert!(matches!(parse(bytes), Err(GgufError::BadUtf8 { .. })));

    // Truncated inside a value: header 24, key 8 + 3, type 4, then 2 of the value's 4 bytes.
    let bytes = u32_kv("key").bytes();
    let e = parse(bytes[..24 + 8 + 3 + 4 + 2].to_vec()).err().unwrap();
    assert!(
        matches!(e, GgufError::Truncated { ref what, needed: 4, available: 2, .. } if what == "metadata `key`"),
        "{e}"
    );

    // Arrays: a length past the file, and nesting past the limit.
    let mut array = T_U64.to_le_bytes().to_vec();
    array.extend_from_slice(&(1u64 << 60).to_le_bytes());
    let e = Raw::new().kv("arr", T_ARRAY, &array).parse();
    assert!(
        matches!(e, GgufError::CountTooLarge { count, min_bytes: 8, .. } if count == 1 << 60),
        "{e}"
    );
    let mut nested = Vec::new();
    for _ in 0..=MAX_NESTING {
        nested.extend_from_slice(&T_ARRAY.to_le_bytes());
        nested.extend_from_slice(&1u64.to_le_bytes());
    }
    nested.extend_from_slice(&[0; 64]);
    let e = Raw::new().kv("deep", T_ARRAY, &nested).parse();
    assert!(matches!(e, GgufError::NestingTooDeep { .. }), "{e}");

    // general.alignment: zero, not a power of two, not a u32.
    for a in [0u32, 3, 48] {
        let e = Raw::new()
            .kv("general.alignment", T_U32, &a.to_le_bytes())
            .parse();
        assert!(
            matches!(e, GgufError::BadAlignment { ref actual, .. } if *actual == a.to_string()),
            "{e}"
        );
    }
    let e = Raw::new()
        .kv("general.alignment", T_U64, &32u64.to_le_bytes())
        .parse();
    assert!(
        matches!(
            e,
            GgufError::BadAlignment {
                expected: "a u32",
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn tensor_info_errors() {
    let one = |dims: &[u64], ty: u32| Raw::new().info("t", dims, ty, 0).data(4096);
    for ty in [4, 5, 31, 36, 40, u32::MAX] {
        let e = one(&[32], ty).parse();
        assert!(
            matches!(e, GgufError::UnknownGgmlType { ref tensor, actual } if tensor == "t" && actual == ty),
            "{e}"
        );
    }
    for dims in [&[][..], &[1, 1, 1, 1, 1]] {
        let e = one(dims, F32).parse();
        assert!(
            matches!(e, GgufError::BadDimCount { actual, .. } if actual as usize == dims.len()),
            "{e}"
        );
    }
    let e = one(&[4, 0, 2], F32).parse();
    assert!(matches!(e, GgufError::ZeroDim { axis: 1, .. }), "{e}");
    let e = one(&[u64::MAX / 2, 3], F32).parse();
    assert!(
        matches!(
            e,
            GgufError::DimOverflow {
                what: "element count",
                ..
            }
        ),
        "{e}"
    );
    let e = one(&[1 << 62], F32).parse();
    assert!(
        matches!(
            e,
            GgufError::DimOverflow {
                what: "byte size",
                ..
            }
        ),
        "{e}"
    );
    // 31 · 2^59 weights fit u64, but 31 · 2^54 blocks of 34 bytes do not.
    let e = one(&[1 << 59, 31], Q8_0).parse();
    assert!(
        matches!(
            e,
            GgufError::DimOverflow {
                what: "byte size",
                ..
            }
        ),
        "{e}"
    );
    let e = one(&[33, 2], Q8_0).parse();
    assert!(
        matches!(
            e,
            GgufError::PartialBlock {
                block: 32,
                row: 33,
                ..
            }
        ),
        "{e}"
    );

    let e = Raw::new()
        .info("t", &[4], F32, 0)
        .info("t", &[4], F32, 32)
        .data(64)
        .parse();
    assert!(
        matches!(e, GgufError::DuplicateTensor { ref tensor } if tensor == "t"),
        "{e}"
    );
    let e = Raw::new().info("t", &[4], F32, 16).data(64).parse();
    assert!(
        matches!(
            e,
            GgufError::MisalignedOffset {
                offset: 16,
                alignment: 32,
                ..
            }
        ),
        "{e}"
    );
    let e = Raw::new()
        .info("a", &[16], F32, 0)
        .info("b", &[4], F32, 32)
        .data(128)
        .parse();
    assert!(
        matches!(e, GgufError::Overlap { ref first, ref second, .. } if first == "a" && second == "b"),
        "{e}"
    );

    // Data past the end: by a byte, by a huge offset, and by an offset that overflows.
    let e = Raw::new().info("t", &[8], F32, 0).data(31).parse();
    assert!(
        matches!(e, GgufError::DataPastEnd { ref tensor, .. } if tensor == "t"),
        "{e}"
    );
    let e = Raw::new().info("t", &[8], F32, 1 << 40).data(64).parse();
    assert!(matches!(e, GgufError::DataPastEnd { .. }), "{e}");
    let e = Raw::new()
        .info("t", &[8], F32, u64::MAX - 31)
        .data(64)
        .parse();
    assert!(matches!(e, GgufError::DataPastEnd { .. }), "{e}");
    parse(Raw::new().info("t", &[8], F32, 0).data(32).bytes()).unwrap();

    // Truncated inside a tensor info.
    // (The first info is long enough that the count check passes: 55 + 26 bytes ≥ 2 × 32.)
    let first = "a_tensor_with_long_name";
    let bytes = Raw::new()
        .info(first, &[8], F32, 0)
        .info("tensor", &[8, 8], F32, 32)
        .bytes();
    let e = parse(bytes[..24 + 55 + 8 + 6 + 4 + 8].to_vec())
        .err()
        .unwrap();
    assert!(
        matches!(e, GgufError::Truncated { ref what, .. } if what == "tensor info `tensor` dims[1]"),
        "{e}"
    );
}

#[test]
fn the_writer_refuses_what_the_reader_would() {
    let e = GgufWriter::new().version(1).to_bytes().unwrap_err();
    assert!(matches!(e, GgufError::BadVersion { actual: 1 }), "{e}");
    let e = GgufWriter::new()
        .tensor("w", GgmlType::Q4_0, &[32, 2], vec![0; 35])
        .to_bytes()
        .unwrap_err();
    assert!(
        matches!(
            e,
            GgufError::DataSize {
                expected: 36,
                actual: 35,
                ..
            }
        ),
        "{e}"
    );
    let e = GgufWriter::new()
        .tensor("w", GgmlType::F32, &[1], vec![0; 4])
        .tensor("w", GgmlType::F32, &[1], vec![0; 4])
        .to_bytes()
        .unwrap_err();
    assert!(matches!(e, GgufError::DuplicateTensor { .. }), "{e}");
    let e = GgufWriter::new()
        .metadata(
            "a",
            Value::Array(ValueType::U8, vec![Value::U8(1), Value::I8(1)]),
        )
        .to_bytes()
        .unwrap_err();
    assert!(matches!(e, GgufError::MixedArray { index: 1, .. }), "{e}");
    let e = GgufWriter::new()
        .metadata("a", Value::U8(1))
        .metadata("a", Value::U8(2))
        .to_bytes()
        .unwrap_err();
    assert!(matches!(e, GgufError::DuplicateKey { .. }), "{e}");
    let e = GgufWriter::new()
        .metadata("general.alignment", Value::U32(6))
        .to_bytes()
        .unwrap_err();
    assert!(matches!(e, GgufError::BadAlignment { .. }), "{e}");
}

fn value_strategy() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        any::<u8>().prop_map(Value::U8),
        any::<i8>().prop_map(Value::I8),
        any::<u16>().prop_map(Value::U16),
        any::<i16>().prop_map(Value::I16),
        any::<u32>().prop_map(Value::U32),
        any::<i32>().prop_map(Value::I32),
        any::<u32>().prop_map(|b| Value::F32(f32::from_bits(b))),
        any::<bool>().prop_map(Value::Bool),
        ".{0,12}".prop_map(Value::String),
        any::<u64>().prop_map(Value::U64),
        any::<i64>().prop_map(Value::I64),
        any::<u64>().prop_map(|b| Value::F64(f64::from_bits(b))),
    ];
    // Arrays keep the elements of the first one's type (an empty array is of u8).
    leaf.prop_recursive(2, 16, 4, |inner| {
        prop::collection::vec(inner, 0..5).prop_map(|values| {
            let ty = values.first().map_or(ValueType::U8, Value::value_type);
            Value::Array(
                ty,
                values
                    .into_iter()
                    .filter(|v| v.value_type() == ty)
                    .collect(),
            )
        })
    })
}

fn tensor_strategy() -> impl Strategy<Value = (GgmlType, Vec<u64>, u64)> {
    (
        prop::sample::select(vec![
            GgmlType::F32,
            GgmlType::F16,
            GgmlType::Bf16,
            GgmlType::Q8_0,
            GgmlType::Q4_0,
            GgmlType::Q4_1,
            GgmlType::Q6K,
            GgmlType::Mxfp4,
        ]),
        prop::collection::vec(1..4u64, 0..4),
        1..3u64,
        any::<u64>(),
    )
        .prop_map(|(ty, outer, blocks, seed)| {
            let mut dims = vec![blocks * ty.block_weights()];
            dims.extend(outer);
            (ty, dims, seed)
        })
}

/// The bytes of a random valid file.
fn file_strategy() -> impl Strategy<Value = Vec<u8>> {
    (
        prop::sample::select(vec![2u32, 3]),
        prop::option::of(prop::sample::select(vec![1u32, 4, 16, 32, 64])),
        prop::collection::vec(value_strategy(), 0..6),
        prop::collection::vec(tensor_strategy(), 0..5),
    )
        .prop_map(|(version, alignment, values, tensors)| {
            let mut w = GgufWriter::new().version(version);
            if let Some(a) = alignment {
                w = w.metadata("general.alignment", Value::U32(a));
            }
            for (i, v) in values.into_iter().enumerate() {
                w = w.metadata(format!("key.{i}"), v);
            }
            for (i, (ty, dims, seed)) in tensors.into_iter().enumerate() {
                let bytes = squeeze::quant::gguf::tensor_bytes("t", ty, &dims).unwrap();
                let data = random_bytes(&mut SplitMix64::new(seed), bytes as usize);
                w = w.tensor(format!("tensor.{i}"), ty, &dims, data);
            }
            w.to_bytes().unwrap()
        })
}

/// Writes `file` back out through the writer.
fn rewrite(file: &GgufFile) -> Vec<u8> {
    let mut w = GgufWriter::new().version(file.version());
    for (k, v) in file.metadata() {
        w = w.metadata(k.clone(), v.clone());
    }
    for t in file.tensors() {
        w = w.tensor(t.name, t.ggml_type, t.dims, t.data);
    }
    w.to_bytes().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_valid_files_round_trip(bytes in file_strategy()) {
        let file = parse(bytes.clone()).unwrap();
        // Everything read (metadata bits, names, types, dims, data) writes back identically.
        prop_assert_eq!(rewrite(&file), bytes);
    }

    #[test]
    fn truncated_files_fail_cleanly(bytes in file_strategy(), cut in any::<prop::sample::Index>()) {
        let cut = cut.index(bytes.len());
        // A cut inside the header, metadata or infos is an error; a cut in trailing padding
        // after the last tensor may still be a valid file.
        if let Ok(file) = parse(bytes[..cut].to_vec()) {
            prop_assert_eq!(file.tensors().len(), parse(bytes.clone()).unwrap().tensors().len());
        }
    }

    #[test]
    fn flipped_bytes_never_panic(
        bytes in file_strategy(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), 1..=255u8), 1..4),
    ) {
        let mut bytes = bytes;
        for (at, x) in flips {
            let i = at.index(bytes.len());
            bytes[i] ^= x;
        }
        if let Ok(file) = parse(bytes) {
            for t in file.tensors() {
                prop_assert!(t.data.len() as u64 >= 1);
            }
        }
    }
}

fn gpu() -> Gpu {
    Gpu::new(GpuOptions::default()).unwrap_or_else(|e| panic!("{NO_ADAPTER_HELP}\n({e})"))
}

#[test]
fn quantized_tensors_dequantize_on_the_gpu_exactly_split_or_not() {
    let gpu = gpu();
    let mut rng = SplitMix64::new(3);
    for format in Format::ALL {
        let ty = GgmlType::from_id(format.ggml_type()).unwrap();
        assert_eq!(ty.format(), Some(format));
        let bw = format.block_weights() as u64;
        for dims in [vec![bw], vec![3 * bw, 7], vec![2 * bw, 3, 2]] {
            let data = quantized(&mut rng, format, &dims);
            let bytes = GgufWriter::new()
                .tensor("w", ty, &dims, data.clone())
                .to_bytes()
                .unwrap();
            let file = parse(bytes).unwrap();
            let t = file.tensor("w").unwrap();
            let want = reference::dequantize(format, &data, dims[0] as usize).unwrap();
            let whole = F32Converter::new(&gpu);
            assert_eq!(whole.rows_per_dispatch(&t).unwrap(), t.rows());
            let got = whole.to_vec(&t).unwrap();
            assert_eq!(canonical(&got), canonical(&want), "{format} {dims:?}");
            // Two rows' worth of output per dispatch: 7 rows take 4 dispatches.
            let split = F32Converter::new(&gpu).with_max_chunk_bytes(dims[0] * 4 * 2);
            assert_eq!(split.rows_per_dispatch(&t).unwrap(), t.rows().min(2));
            let mut chunks = 0;
            let mut got = Vec::new();
            split
                .convert(&t, |c| {
                    chunks += 1;
                    got.extend_from_slice(c);
                    Ok(())
                })
                .unwrap();
            assert_eq!(chunks, t.rows().div_ceil(2));
            assert_eq!(canonical(&got), canonical(&want), "{format} {dims:?} split");
        }
    }
}

#[test]
fn a_row_over_the_chunk_limit_is_a_typed_error() {
    let gpu = gpu();
    let data = quantized(&mut SplitMix64::new(4), Format::Q8_0, &[64, 2]);
    let file = parse(
        GgufWriter::new()
            .tensor("w", GgmlType::Q8_0, &[64, 2], data)
            .to_bytes()
            .unwrap(),
    )
    .unwrap();
    let t = file.tensor("w").unwrap();
    let e = F32Converter::new(&gpu)
        .with_max_chunk_bytes(255)
        .to_vec(&t)
        .unwrap_err();
    assert!(
        matches!(e, GgufError::Kernel { ref tensor, source: Error::OverLimit { bytes: 256, max: 255, .. } } if tensor == "w"),
        "{e}"
    );
}

#[test]
fn plain_tensors_convert_bit_exactly_and_unsupported_types_are_named() {
    let gpu = gpu();
    let specials = [
        0.0f32,
        -0.0,
        1.0,
        -2.5,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        1e-40,
        65504.0,
    ];
    let f32s: Vec<u8> = specials.iter().flat_map(|v| v.to_le_bytes()).collect();
    let f16s: Vec<u8> = specials
        .iter()
        .flat_map(|v| f16::from_f32(*v).to_le_bytes())
        .collect();
    let bf16s: Vec<u8> = specials
        .iter()
        .flat_map(|v| bf16::from_f32(*v).to_le_bytes())
        .collect();
    let nan_payload = f32::from_bits(0x7fc0_1234).to_le_bytes();
    let file = parse(
        GgufWriter::new()
            .tensor("f32", GgmlType::F32, &[9], f32s)
            .tensor("f16", GgmlType::F16, &[3, 3], f16s)
            .tensor("bf16", GgmlType::Bf16, &[9, 1], bf16s)
            .tensor("nan", GgmlType::F32, &[1], nan_payload)
            .tensor("i32", GgmlType::I32, &[4], vec![0; 16])
            .to_bytes()
            .unwrap(),
    )
    .unwrap();
    let conv = F32Converter::new(&gpu);
    let get = |name| conv.to_vec(&file.tensor(name).unwrap()).unwrap();
    let f16_want: Vec<f32> = specials
        .iter()
        .map(|v| f16::from_f32(*v).to_f32())
        .collect();
    let bf16_want: Vec<f32> = specials
        .iter()
        .map(|v| bf16::from_f32(*v).to_f32())
        .collect();
    assert_eq!(bits(&get("f32")), bits(&specials));
    assert_eq!(bits(&get("f16")), bits(&f16_want));
    assert_eq!(bits(&get("bf16")), bits(&bf16_want));
    assert_eq!(bits(&get("nan")), vec![0x7fc0_1234]);
    let e = conv.to_vec(&file.tensor("i32").unwrap()).unwrap_err();
    assert!(
        matches!(e, GgufError::Unsupported { ref tensor, .. } if tensor == "i32"),
        "{e}"
    );
    assert!(e.to_string().contains("i32 (ggml type 26)"), "{e}");
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn ggml_type_ids_are_unique_and_agree_with_every_squeeze_format() {
    for t in GgmlType::ALL {
        assert_eq!(GgmlType::from_id(t.id()), Some(t), "{t}");
    }
    for id in [4, 5, 31, 32, 33, 36, 37, 38, 40, 1000] {
        assert_eq!(GgmlType::from_id(id), None, "{id}");
    }
    for format in Format::ALL {
        let t = GgmlType::from_id(format.ggml_type()).expect("ggml knows every squeeze format");
        assert_eq!(t.name(), format.name());
        assert_eq!(t.block_weights(), format.block_weights() as u64, "{format}");
        assert_eq!(t.block_bytes(), format.block_bytes() as u64, "{format}");
        assert_eq!(t.to_f32(), Some(ToF32::Dequantize(format)));
    }
    assert_eq!(GgmlType::F16.to_f32(), Some(ToF32::F16));
    assert_eq!(GgmlType::I32.to_f32(), None);
}

/// Blocks of `format` whose weights are finite and moderate, so f32 sums stay finite: quantized
/// where squeeze has the quantizer, else the first random bytes (by seed) that qualify.
fn finite_blocks(format: Format, dims: &[u64]) -> Vec<u8> {
    (0..)
        .map(|seed| quantized(&mut SplitMix64::new(seed), format, dims))
        .find(|b| {
            let w = reference::dequantize(format, b, dims[0] as usize).unwrap();
            w.iter().all(|v| v.abs() < 1e20)
        })
        .unwrap()
}

/// |gpu − f64| ≤ 1e-5 · Σ|w·x| (+ 1e-30 for subnormal products a GPU may flush), as the GEMV
/// conformance cases state it.
fn expect_close(what: &str, got: &[f32], want: &[f64], magnitude: &[f64]) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (i, ((&g, &w), &m)) in got.iter().zip(want).zip(magnitude).enumerate() {
        let ok = (f64::from(g) - w).abs() <= 1e-5 * m + 1e-30;
        assert!(ok, "{what}: y[{i}] = {g}, expected {w} (Σ|w·x| = {m})");
    }
}

#[test]
fn matmul_with_a_gguf_tensor_matches_the_f64_reference_split_or_not() {
    let gpu = gpu();
    for format in Format::ALL {
        let ty = GgmlType::from_id(format.ggml_type()).unwrap();
        let cols = 2 * format.block_weights();
        let dims = [cols as u64, 7];
        let data = finite_blocks(format, &dims);
        let file = parse(
            GgufWriter::new()
                .tensor("w", ty, &dims, data.clone())
                .to_bytes()
                .unwrap(),
        )
        .unwrap();
        let t = file.tensor("w").unwrap();
        let w = reference::dequantize(format, &data, cols).unwrap();
        for batch in [1, 3, 8, 9, 17] {
            let mut rng = SplitMix64::new(batch as u64);
            let x16: Vec<f16> = (0..batch * cols)
                .map(|_| f16::from_f32(rng.next_u32() as f32 / u32::MAX as f32 - 0.5))
                .collect();
            let x32: Vec<f32> = x16.iter().map(|v| v.to_f32()).collect();
            let (want, magnitude) = reference::matmul(&w, cols, &x32);
            let whole = TensorMatmul::new(&gpu);
            assert_eq!(whole.rows_per_dispatch(&t, batch as u64).unwrap(), 7);
            // Two weight rows per dispatch: 7 rows take 4 chunks.
            let row_bytes = data.len() as u64 / 7;
            let split =
                TensorMatmul::new(&gpu).with_max_chunk_bytes(2 * row_bytes.max(batch as u64 * 4));
            assert_eq!(split.rows_per_dispatch(&t, batch as u64).unwrap(), 2);
            for (dtype, x) in [
                ("f32", Activations::F32(&x32)),
                ("f16", Activations::F16(&x16)),
            ] {
                let what = format!("{format} batch {batch} {dtype} x");
                let got = whole.run(&t, x).unwrap();
                expect_close(&what, &got, &want, &magnitude);
                // The cap splits x into single rows too, so every group runs the GEMV: within
                // the tolerance always, and bit-equal where the whole batch ran the GEMV at
                // batch 1 too. A batch of several rows need not be: the subgroup path has one
                // pipeline per batch-size class (BATCH_COLUMNS, #16), and the batch-1 one adds in
                // another order than the others.
                let parts = split.run(&t, x).unwrap();
                expect_close(&format!("{what} split"), &parts, &want, &magnitude);
                if batch == 1 {
                    assert_eq!(bits(&parts), bits(&got), "{what} split");
                }
            }
        }
    }
}

#[test]
fn gemm_batches_split_w_by_rows_and_keep_every_bit() {
    let gpu = gpu();
    let (cols, rows, batch) = (32usize, 100u64, 17usize);
    let data = finite_blocks(Format::Q8_0, &[cols as u64, rows]);
    let file = parse(
        GgufWriter::new()
            .tensor("w", GgmlType::Q8_0, &[cols as u64, rows], data.clone())
            .to_bytes()
            .unwrap(),
    )
    .unwrap();
    let t = file.tensor("w").unwrap();
    let mut rng = SplitMix64::new(11);
    let x: Vec<f32> = (0..batch * cols)
        .map(|_| rng.next_u32() as f32 / u32::MAX as f32 - 0.5)
        .collect();
    let w = reference::dequantize(Format::Q8_0, &data, cols).unwrap();
    let (want, magnitude) = reference::matmul(&w, cols, &x);
    // x (17 × 32 f32) fits the cap exactly, so only W splits: 2176 / (17 × 4) = 32 rows per
    // dispatch, 4 dispatches for 100 rows, each a GEMM over the whole batch.
    let split = TensorMatmul::new(&gpu).with_max_chunk_bytes((batch * cols * 4) as u64);
    assert_eq!(split.rows_per_dispatch(&t, batch as u64).unwrap(), 32);
    let got = split.run(&t, Activations::F32(&x)).unwrap();
    expect_close("split GEMM", &got, &want, &magnitude);
    let whole = TensorMatmul::new(&gpu)
        .run(&t, Activations::F32(&x))
        .unwrap();
    assert_eq!(bits(&got), bits(&whole));
}

#[test]
fn matmul_refuses_plain_tensors_non_matrices_and_bad_activations() {
    let gpu = gpu();
    let q = quantized(&mut SplitMix64::new(5), Format::Q8_0, &[32, 2, 2]);
    let file = parse(
        GgufWriter::new()
            .tensor("plain", GgmlType::F32, &[32, 2], vec![0; 256])
            .tensor("cube", GgmlType::Q8_0, &[32, 2, 2], q.clone())
            .tensor("w", GgmlType::Q8_0, &[32, 4], q)
            .to_bytes()
            .unwrap(),
    )
    .unwrap();
    let mm = TensorMatmul::new(&gpu);
    let x = vec![1.0f32; 32];
    let e = mm
        .run(&file.tensor("plain").unwrap(), Activations::F32(&x))
        .unwrap_err();
    assert!(
        matches!(e, GgufError::Unsupported { ref tensor, .. } if tensor == "plain"),
        "{e}"
    );
    let e = mm
        .run(&file.tensor("cube").unwrap(), Activations::F32(&x))
        .unwrap_err();
    assert!(
        matches!(e, GgufError::NotAMatrix { ref dims, .. } if *dims == [32, 2, 2]),
        "{e}"
    );
    let w = file.tensor("w").unwrap();
    for len in [0, 31, 33] {
        let e = mm.run(&w, Activations::F32(&vec![1.0; len])).unwrap_err();
        assert!(
            matches!(
                e,
                GgufError::Kernel {
                    source: Error::InvalidArgument { arg: "x", .. },
                    ..
                }
            ),
            "{e}"
        );
    }
    let e = TensorMatmul::new(&gpu)
        .with_max_chunk_bytes(33)
        .run(&w, Activations::F32(&x))
        .unwrap_err();
    assert!(
        matches!(
            e,
            GgufError::Kernel {
                source: Error::OverLimit { bytes: 34, .. },
                ..
            }
        ),
        "{e}"
    );
}
