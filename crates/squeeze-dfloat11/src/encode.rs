//! The DF11 encoder: BF16 weights → one unit (tables, exponent stream, sign/mantissa bytes,
//! gaps, output positions, split positions), in parallel over chunks of the weights.
//!
//! Four passes, each split over `threads` chunks with `std::thread::scope`: (1) split every
//! weight into its exponent and sign/mantissa byte, (2) histogram the exponents per chunk,
//! (3) build the code once, which fixes each chunk's bit length and so its start bit, (4) encode
//! each chunk into its own bytes (the first and last byte shared with the neighbours are merged by
//! OR), recording the gaps of the threads and the positions of the blocks whose first code it
//! emits.
//!
//! Bytes match the reference's meaning, not its exact bytes: no end-of-file symbol is appended
//! (the last byte is zero-padded), and the output positions and gaps cover every block the
//! reference kernel launches for the stream's length (blocks with no code start get position `n`,
//! threads with none get gap 0).

use crate::error::{Df11Error, Result};
use crate::format::{GAP_BITS, Layout, Unit};
use crate::huffman::Code;

/// An encoded unit, owning its tensors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    pub luts: Vec<u8>,
    pub encoded_exponent: Vec<u8>,
    pub sign_mantissa: Vec<u8>,
    pub output_positions: Vec<u8>,
    pub gaps: Vec<u8>,
    pub split_positions: Vec<i64>,
}

impl Encoded {
    pub fn unit(&self) -> Unit<'_> {
        Unit {
            luts: &self.luts,
            encoded_exponent: &self.encoded_exponent,
            sign_mantissa: &self.sign_mantissa,
            output_positions: &self.output_positions,
            gaps: &self.gaps,
            split_positions: self.split_positions.clone(),
        }
    }

    /// Bytes of all tensors of the unit.
    pub fn stored_bytes(&self) -> u64 {
        (self.luts.len()
            + self.encoded_exponent.len()
            + self.sign_mantissa.len()
            + self.output_positions.len()
            + self.gaps.len()
            + self.split_positions.len() * 8) as u64
    }
}

/// Encodes the concatenation of `weights` (each BF16 little-endian bytes) as one unit with
/// `threads` worker threads.
pub fn encode(weights: &[&[u8]], layout: Layout, threads: usize) -> Result<Encoded> {
    let layout = layout.check()?;
    for (i, w) in weights.iter().enumerate() {
        if w.len() % 2 != 0 {
            return Err(Df11Error::Input {
                name: format!("weight {i}"),
                what: format!("{} bytes is not a whole number of BF16 values", w.len()),
            });
        }
    }
    let n: usize = weights.iter().map(|w| w.len() / 2).sum();
    if u32::try_from(n).is_err() {
        return Err(Df11Error::Input {
            name: "weights".into(),
            what: format!("{n} values exceed the u32 output positions of one unit"),
        });
    }
    let threads = threads.max(1);
    let mut split_positions = Vec::new();
    let mut acc = 0i64;
    for w in &weights[..weights.len().saturating_sub(1)] {
        acc += (w.len() / 2) as i64;
        split_positions.push(acc);
    }

    let (exponents, sign_mantissa) = split_fields(weights, n, threads);
    let chunk = n.div_ceil(threads).max(1);
    let histograms: Vec<[u64; 256]> = parallel_map(exponents.chunks(chunk), histogram);
    let mut total = [0u64; 256];
    for h in &histograms {
        for (t, v) in total.iter_mut().zip(h) {
            *t += v;
        }
    }
    if n == 0 {
        // An empty unit still gets valid tables: one symbol, never used.
        total[0] = 1;
    }
    let code = Code::from_histogram(&total);

    let mut starts = Vec::with_capacity(histograms.len());
    let mut bit = 0u64;
    for h in &histograms {
        starts.push(bit);
        bit += h
            .iter()
            .zip(&code.lengths)
            .map(|(&c, &l)| c * u64::from(l))
            .sum::<u64>();
    }
    let total_bits = bit;
    let table = code_table(&code);
    let jobs: Vec<(usize, &[u8])> = exponents.chunks(chunk).enumerate().collect();
    let pieces = parallel_map(jobs.into_iter(), |(c, exps)| {
        let previous = (c > 0).then(|| {
            let e = exponents[c * chunk - 1];
            starts[c] - u64::from(code.lengths[usize::from(e)])
        });
        encode_chunk(
            exps,
            (c * chunk) as u32,
            starts[c],
            previous,
            &table,
            layout,
        )
    });

    let n_bytes = total_bits.div_ceil(8) as usize;
    let blocks = layout.blocks_for_bytes(n_bytes as u64) as usize;
    let thread_count = blocks * layout.threads_per_block as usize;
    let mut stream = vec![0u8; n_bytes];
    let mut gaps = vec![0u8; thread_count];
    let mut positions = vec![n as u32; blocks + 1];
    for (piece, &start) in pieces.iter().zip(&starts) {
        let first = (start / 8) as usize;
        for (i, &b) in piece.bytes.iter().enumerate() {
            stream[first + i] |= b;
        }
        let t0 = piece.first_thread as usize;
        gaps[t0..t0 + piece.gaps.len()].copy_from_slice(&piece.gaps);
        let b0 = piece.first_block as usize;
        positions[b0..b0 + piece.positions.len()].copy_from_slice(&piece.positions);
    }
    Ok(Encoded {
        luts: code.luts(),
        encoded_exponent: stream,
        sign_mantissa,
        output_positions: positions.iter().flat_map(|p| p.to_le_bytes()).collect(),
        gaps: pack_gaps(&gaps),
        split_positions,
    })
}

/// Exponent bytes and sign/mantissa bytes of every value, split over threads.
fn split_fields(weights: &[&[u8]], n: usize, threads: usize) -> (Vec<u8>, Vec<u8>) {
    let mut exponents = vec![0u8; n];
    let mut sign_mantissa = vec![0u8; n];
    let mut jobs = Vec::new();
    let (mut e_rest, mut s_rest) = (&mut exponents[..], &mut sign_mantissa[..]);
    for w in weights {
        let len = w.len() / 2;
        let (e, er) = std::mem::take(&mut e_rest).split_at_mut(len);
        let (s, sr) = std::mem::take(&mut s_rest).split_at_mut(len);
        (e_rest, s_rest) = (er, sr);
        let part = len.div_ceil(threads).max(1);
        for ((src, e), s) in w
            .chunks(2 * part)
            .zip(e.chunks_mut(part))
            .zip(s.chunks_mut(part))
        {
            jobs.push((src, e, s));
        }
    }
    let per_thread = jobs.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let mut jobs = jobs.into_iter();
        loop {
            let batch: Vec<_> = jobs.by_ref().take(per_thread).collect();
            if batch.is_empty() {
                break;
            }
            scope.spawn(move || {
                for (src, e, s) in batch {
                    for ((pair, e), s) in src.chunks_exact(2).zip(e).zip(s) {
                        let (lo, hi) = (pair[0], pair[1]);
                        *e = (hi << 1) | (lo >> 7);
                        *s = (hi & 0x80) | (lo & 0x7f);
                    }
                }
            });
        }
    });
    (exponents, sign_mantissa)
}

fn histogram(exponents: &[u8]) -> [u64; 256] {
    // Four interleaved counters avoid stalls on runs of one exponent.
    let mut h = [[0u64; 256]; 4];
    let mut quads = exponents.chunks_exact(4);
    for q in &mut quads {
        h[0][usize::from(q[0])] += 1;
        h[1][usize::from(q[1])] += 1;
        h[2][usize::from(q[2])] += 1;
        h[3][usize::from(q[3])] += 1;
    }
    for &e in quads.remainder() {
        h[0][usize::from(e)] += 1;
    }
    let mut out = [0u64; 256];
    for (s, o) in out.iter_mut().enumerate() {
        *o = h[0][s] + h[1][s] + h[2][s] + h[3][s];
    }
    out
}

/// `(code, length)` per symbol, packed for the hot loop.
fn code_table(code: &Code) -> [(u32, u32); 256] {
    let mut t = [(0, 0); 256];
    for (s, entry) in t.iter_mut().enumerate() {
        *entry = (code.codes[s], u32::from(code.lengths[s]));
    }
    t
}

/// One chunk's share of the unit. `bytes[0]` is the stream byte holding the chunk's first bit
/// (bits before it are zero), and the last byte may be partial; the caller ORs them in place.
struct Piece {
    bytes: Vec<u8>,
    first_thread: u64,
    gaps: Vec<u8>,
    first_block: u64,
    positions: Vec<u32>,
}

fn encode_chunk(
    exponents: &[u8],
    first_index: u32,
    start_bit: u64,
    previous_code: Option<u64>,
    table: &[(u32, u32); 256],
    layout: Layout,
) -> Piece {
    let thread_bits = layout.thread_bits();
    let block_bits = layout.block_bytes() * 8;
    // The next thread / block start at or after which a code is the first of its thread / block.
    let (mut next_thread, mut next_block) = match previous_code {
        None => (0, 0),
        Some(p) => (
            (p / thread_bits + 1) * thread_bits,
            (p / block_bits + 1) * block_bits,
        ),
    };
    let mut piece = Piece {
        bytes: Vec::with_capacity(exponents.len() / 2 + 8),
        first_thread: next_thread / thread_bits,
        gaps: Vec::new(),
        first_block: next_block / block_bits,
        positions: Vec::new(),
    };
    let mut acc: u64 = 0;
    let mut pending = (start_bit % 8) as u32;
    let mut bit = start_bit;
    for (i, &e) in exponents.iter().enumerate() {
        let (code, len) = table[usize::from(e)];
        if bit >= next_thread {
            piece.gaps.push((bit - next_thread) as u8);
            next_thread += thread_bits;
            if bit >= next_block {
                piece.positions.push(first_index + i as u32);
                next_block += block_bits;
            }
        }
        acc = (acc << len) | u64::from(code);
        pending += len;
        bit += u64::from(len);
        if pending >= 32 {
            let out = (acc >> (pending - 32)) as u32;
            piece.bytes.extend_from_slice(&out.to_be_bytes());
            pending -= 32;
        }
    }
    while pending >= 8 {
        piece.bytes.push((acc >> (pending - 8)) as u8);
        pending -= 8;
    }
    if pending > 0 {
        piece.bytes.push((acc << (8 - pending)) as u8);
    }
    piece
}

/// Gaps packed 5 bits each, MSB first, the last byte zero-padded.
fn pack_gaps(gaps: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; (gaps.len() * GAP_BITS).div_ceil(8)];
    for (t, &g) in gaps.iter().enumerate() {
        let bit = t * GAP_BITS;
        let word = u16::from(g & 0x1f) << (11 - bit % 8);
        out[bit / 8] |= (word >> 8) as u8;
        if bit / 8 + 1 < out.len() {
            out[bit / 8 + 1] |= word as u8;
        }
    }
    out
}

/// Runs `f` on every item, `items` spread over scoped threads (one per item), results in order.
fn parallel_map<I, T, R, F>(items: I, f: F) -> Vec<R>
where
    I: Iterator<Item = T>,
    T: Send,
    R: Send,
    F: Fn(T) -> R + Sync,
{
    let items: Vec<T> = items.collect();
    if items.len() <= 1 {
        return items.into_iter().map(&f).collect();
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .into_iter()
            .map(|item| scope.spawn(|| f(item)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("encoder worker panicked"))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::gap;

    #[test]
    fn gaps_pack_and_unpack() {
        let gaps: Vec<u8> = (0..37).map(|i| (i * 7 % 32) as u8).collect();
        let packed = pack_gaps(&gaps);
        assert_eq!(packed.len(), (37 * 5usize).div_ceil(8));
        for (t, &g) in gaps.iter().enumerate() {
            assert_eq!(gap(&packed, t as u64), u32::from(g));
        }
    }

    #[test]
    fn chunking_does_not_change_the_bytes() {
        let mut bytes = Vec::new();
        let mut x = 12345u64;
        for _ in 0..20_011 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let e = 120 + ((x >> 33) % 9) as u16;
            let v = (e << 7) | ((x >> 20) as u16 & 0x807f);
            bytes.extend(v.to_le_bytes());
        }
        let one = encode(&[&bytes], Layout::DF11, 1).unwrap();
        for threads in [2, 3, 7] {
            assert_eq!(encode(&[&bytes], Layout::DF11, threads).unwrap(), one);
        }
        let (a, b) = bytes.split_at(2 * 7001);
        let split = encode(&[a, b], Layout::DF11, 3).unwrap();
        assert_eq!(split.encoded_exponent, one.encoded_exponent);
        assert_eq!(split.split_positions, vec![7001]);
    }

    #[test]
    fn odd_byte_counts_are_refused() {
        let err = encode(&[&[1, 2, 3]], Layout::DF11, 1).unwrap_err();
        assert!(matches!(err, Df11Error::Input { .. }), "{err}");
    }
}
