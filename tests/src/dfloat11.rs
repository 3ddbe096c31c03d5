//! Conformance of the DFloat11 decoder: the GPU equals the CPU reference — and the original
//! weights — bit for bit, on realistic weights at sizes that end mid-thread and mid-block, one
//! repeated exponent, one element, every BF16 pattern (±0, subnormals, ±inf, NaNs) and every
//! registered block size, on the portable and the subgroup scan.

use squeeze::Gpu;
use squeeze::dfloat11::decode::Scan;
use squeeze::dfloat11::{Decode, Df11Error, Layout, encode, reference};

use crate::rng::SplitMix64;
use crate::{Case, Failure, Path, expect_equal};

pub fn cases() -> Vec<Case> {
    let small = Layout {
        threads_per_block: 256,
        bytes_per_thread: 8,
    };
    let large = Layout {
        threads_per_block: 1024,
        bytes_per_thread: 8,
    };
    let mut all = Vec::new();
    for path in [Path::Portable, Path::Subgroup] {
        all.extend([
            Case::new("dfloat11", path, "one element", move |g| {
                round_trip(g, path, &[0x3c23], Layout::DF11)
            }),
            Case::new("dfloat11", path, "sizes 2, 3, 5, 64, 65, 1023", move |g| {
                for n in [2, 3, 5, 64, 65, 1023] {
                    round_trip(g, path, &weights(n, n as u64), Layout::DF11)?;
                }
                Ok(())
            }),
            Case::new(
                "dfloat11",
                path,
                "several blocks, ends mid-block",
                move |g| round_trip(g, path, &weights(100_003, 1), Layout::DF11),
            ),
            Case::new(
                "dfloat11",
                path,
                "one repeated exponent (1-bit codes)",
                move |g| {
                    let mut rng = SplitMix64::new(3);
                    let values: Vec<u16> = (0..70_001)
                        .map(|_| 0x3f00 | (rng.next_u32() as u16 & 0x807f))
                        .collect();
                    round_trip(g, path, &values, Layout::DF11)
                },
            ),
            Case::new(
                "dfloat11",
                path,
                "every BF16 pattern, specials in realistic data",
                move |g| {
                    let all: Vec<u16> = (0..=u16::MAX).collect();
                    round_trip(g, path, &all, Layout::DF11)?;
                    let mut values = weights(30_011, 4);
                    for (i, s) in SPECIALS.iter().enumerate() {
                        values[i * 1601] = *s;
                    }
                    round_trip(g, path, &values, Layout::DF11)?;
                    round_trip(g, path, &SPECIALS, Layout::DF11)
                },
            ),
            Case::new(
                "dfloat11",
                path,
                "256 and 1024 threads per block",
                move |g| {
                    round_trip(g, path, &weights(40_001, 5), small)?;
                    round_trip(g, path, &weights(90_001, 6), large)
                },
            ),
        ]);
    }
    all
}

/// ±0, subnormals, ±1, the largest finite, ±inf and NaNs (quiet, signalling, negative).
pub const SPECIALS: [u16; 14] = [
    0x0000, 0x8000, 0x0001, 0x807f, 0x0040, 0x3f80, 0xbf80, 0x7f7f, 0xff7f, 0x7f80, 0xff80, 0x7fc0,
    0x7f81, 0xffff,
];

/// BF16 bits of roughly Gaussian weights of scale 0.02: about 30 distinct exponents, the
/// spread of LLM linear layers.
pub fn weights(n: usize, seed: u64) -> Vec<u16> {
    let mut rng = SplitMix64::new(seed);
    (0..n)
        .map(|_| {
            let u: f64 = (0..4)
                .map(|_| f64::from(rng.next_u32()) / f64::from(u32::MAX))
                .sum::<f64>()
                - 2.0;
            ((u * 0.02) as f32).to_bits().wrapping_shr(16) as u16
        })
        .collect()
}

/// Little-endian bytes of BF16 bits.
pub fn le_bytes(values: &[u16]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

pub(crate) fn failure(e: Df11Error) -> Failure {
    match e {
        Df11Error::Gpu(e) => Failure::Kernel(e),
        other => Failure::Mismatch(other.to_string()),
    }
}

fn round_trip(gpu: &Gpu, path: Path, values: &[u16], layout: Layout) -> Result<(), Failure> {
    let scan = match path {
        Path::Subgroup => Scan::Subgroup,
        _ => Scan::Workgroup,
    };
    let data = le_bytes(values);
    let encoded = encode(&[&data], layout, 2).map_err(failure)?;
    let checked = encoded.unit().validate("case", layout).map_err(failure)?;
    let cpu = reference::decode_checked(&checked, "case").map_err(failure)?;
    expect_equal("CPU reference vs original", &cpu, values)?;
    let got = Decode::with_scan(gpu, layout, scan)
        .and_then(|d| d.run(&checked))
        .map_err(failure)?;
    expect_equal("GPU vs CPU reference", &got, &cpu)
}
