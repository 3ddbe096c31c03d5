//! The model's vocabulary from GGUF metadata, for turning generated ids back into text. Both
//! tokenizer models llama.cpp writes for LLaMA-family files are decoded: `gpt2` (byte-level
//! BPE: each byte is one printable character of GPT-2's byte map) and `llama` (SentencePiece:
//! `▁` for a space, `<0xNN>` for raw bytes). Encoding text into ids (`--prompt`) needs the BPE
//! merges and the pre-tokenizer `tokenizer.ggml.pre` names, and is later work (issue #14).

use squeeze::quant::gguf::{GgufFile, Value};

/// How pieces map to bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Model {
    Gpt2,
    SentencePiece,
}

/// Token pieces by id.
#[derive(Debug, Clone)]
pub struct Vocab {
    model: Model,
    pieces: Vec<String>,
}

/// GPT-2's byte-to-character map, inverted: the byte a printable character stands for.
fn gpt2_byte(c: char) -> Option<u8> {
    let code = c as u32;
    let printable = |b: u32| (33..=126).contains(&b) || (161..=172).contains(&b) || b >= 174;
    if code < 256 && printable(code) {
        return Some(code as u8);
    }
    // The other bytes, in order, were given the characters 256, 257, ….
    let offset = code.checked_sub(256)?;
    (0u32..256)
        .filter(|&b| !printable(b))
        .nth(offset as usize)
        .map(|b| b as u8)
}

/// The printable character GPT-2's byte map gives `byte`.
pub fn gpt2_char(byte: u8) -> char {
    (0u32..512)
        .filter_map(char::from_u32)
        .find(|&c| gpt2_byte(c) == Some(byte))
        .unwrap_or(char::REPLACEMENT_CHARACTER)
}

impl Vocab {
    /// The vocabulary of `file`, or `None` when it has none or a tokenizer model this module
    /// does not decode.
    pub fn from_gguf(file: &GgufFile) -> Option<Self> {
        let model = match file.get("tokenizer.ggml.model")?.as_str()? {
            "gpt2" => Model::Gpt2,
            "llama" => Model::SentencePiece,
            _ => return None,
        };
        let Value::Array(_, tokens) = file.get("tokenizer.ggml.tokens")? else {
            return None;
        };
        let pieces = tokens
            .iter()
            .map(|t| t.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()?;
        Some(Self { model, pieces })
    }

    /// The text of `ids` (invalid UTF-8 replaced, ids past the vocabulary skipped).
    pub fn decode(&self, ids: &[u32]) -> String {
        let mut bytes = Vec::new();
        for piece in ids.iter().filter_map(|&id| self.pieces.get(id as usize)) {
            match self.model {
                Model::Gpt2 => {
                    for c in piece.chars() {
                        match gpt2_byte(c) {
                            Some(b) => bytes.push(b),
                            None => bytes.extend(c.to_string().as_bytes()),
                        }
                    }
                }
                Model::SentencePiece => {
                    let byte = piece
                        .strip_prefix("<0x")
                        .and_then(|h| h.strip_suffix('>'))
                        .and_then(|h| u8::from_str_radix(h, 16).ok());
                    match byte {
                        Some(b) => bytes.push(b),
                        None => bytes.extend(piece.replace('▁', " ").as_bytes()),
                    }
                }
            }
        }
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gpt2_byte_map_inverts_every_byte() {
        // Space is byte 32, GPT-2's `Ġ` (U+0120); newline `Ċ` (U+010A); `!` is itself.
        assert_eq!(gpt2_byte('Ġ'), Some(b' '));
        assert_eq!(gpt2_byte('Ċ'), Some(b'\n'));
        assert_eq!(gpt2_byte('!'), Some(b'!'));
        let mut seen: Vec<u8> = (0u32..512)
            .filter_map(char::from_u32)
            .filter_map(gpt2_byte)
            .collect();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), 256);
        assert!((0..=255).all(|b| gpt2_byte(gpt2_char(b)) == Some(b)));
    }

    #[test]
    fn decodes_both_tokenizer_models() {
        let gpt2 = Vocab {
            model: Model::Gpt2,
            pieces: vec!["The".into(), "Ġcapital".into(), "Ċ".into(), "Ã©".into()],
        };
        assert_eq!(gpt2.decode(&[0, 1, 2, 3, 9]), "The capital\né");
        let spm = Vocab {
            model: Model::SentencePiece,
            pieces: vec![
                "▁Paris".into(),
                "<0x0A>".into(),
                "<0xC3>".into(),
                "<0xA9>".into(),
            ],
        };
        assert_eq!(spm.decode(&[0, 1, 2, 3]), " Paris\né");
    }
}
