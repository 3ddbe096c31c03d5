//! BF16 → DF11 → BF16 on the CPU, bit for bit, on realistic and edge-case weights; and malformed
//! units refused with typed errors.

use squeeze_dfloat11::{Df11Error, Layout, encode, reference};

/// A small deterministic generator (SplitMix64).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Gaussian-ish weights of scale 0.02, as BF16 bits (exponents spread over ~30 values).
    fn weight(&mut self) -> u16 {
        let u: f64 = (0..4)
            .map(|_| (self.next() >> 11) as f64 / (1u64 << 53) as f64)
            .sum::<f64>()
            - 2.0;
        let f = (u * 0.02) as f32;
        (f.to_bits() >> 16) as u16
    }
}

fn bytes(values: &[u16]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn round_trip(values: &[u16], layout: Layout) {
    let data = bytes(values);
    let encoded = encode(&[&data], layout, 2).unwrap();
    let decoded = reference::decode(encoded.unit(), "test", layout).unwrap();
    assert_eq!(decoded.len(), values.len());
    if let Some(i) = decoded.iter().zip(values).position(|(a, b)| a != b) {
        panic!("element {i}: {:#06x} != {:#06x}", decoded[i], values[i]);
    }
}

fn random(n: usize, seed: u64) -> Vec<u16> {
    let mut rng = Rng(seed);
    (0..n).map(|_| rng.weight()).collect()
}

#[test]
fn realistic_weights_at_awkward_sizes() {
    let small = Layout {
        threads_per_block: 4,
        bytes_per_thread: 8,
    };
    for n in [1, 2, 3, 7, 8, 63, 64, 65, 1000, 4097, 12_345, 100_003] {
        round_trip(&random(n, n as u64), Layout::DF11);
        round_trip(&random(n, n as u64 + 1), small);
    }
}

#[test]
fn one_repeated_exponent_and_empty() {
    round_trip(&vec![0x3f80; 50_001], Layout::DF11);
    round_trip(&[0x3f80], Layout::DF11);
    round_trip(&[], Layout::DF11);
}

#[test]
fn special_values_survive() {
    let specials = [
        0x0000u16, 0x8000, 0x0001, 0x807f, 0x0040, 0x7f80, 0xff80, 0x7fc0, 0xffc1, 0x7f81, 0x7f7f,
        0xff7f, 0x0080, 0x3f80, 0xbf80, 0x7900, 0x7800,
    ];
    let mut values = random(20_000, 5);
    for (i, &s) in specials.iter().enumerate() {
        values[i * 997] = s;
    }
    round_trip(&values, Layout::DF11);
    round_trip(&specials, Layout::DF11);
    // Only infinities and NaNs: every exponent is 255.
    round_trip(&[0x7f80, 0xff80, 0x7fc0, 0x7fff, 0xffff], Layout::DF11);
    // Every BF16 bit pattern.
    let all: Vec<u16> = (0..=u16::MAX).collect();
    round_trip(&all, Layout::DF11);
}

#[test]
fn output_positions_and_gaps_are_checked_against_the_stream() {
    let values = random(50_000, 9);
    let data = bytes(&values);
    let encoded = encode(&[&data], Layout::DF11, 1).unwrap();

    let mut bad = encoded.clone();
    bad.output_positions[4] ^= 1;
    let err = reference::decode(bad.unit(), "g", Layout::DF11).unwrap_err();
    assert!(matches!(err, Df11Error::Stream { .. }), "{err}");

    let mut bad = encoded.clone();
    bad.gaps[10] ^= 0x10;
    let err = reference::decode(bad.unit(), "g", Layout::DF11).unwrap_err();
    assert!(matches!(err, Df11Error::Stream { .. }), "{err}");

    let mut bad = encoded.clone();
    bad.encoded_exponent
        .truncate(bad.encoded_exponent.len() / 2);
    let err = reference::decode(bad.unit(), "g", Layout::DF11).unwrap_err();
    assert!(
        matches!(
            err,
            Df11Error::Tensor {
                tensor: "encoded_exponent",
                ..
            }
        ),
        "{err}"
    );
}
