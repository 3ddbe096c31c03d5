//! Text to token ids with a GGUF file's GPT-2 byte-level BPE (`tokenizer.ggml.model = "gpt2"`),
//! as llama.cpp's `llama-vocab.cpp` does it:
//!
//! 1. Control and user-defined tokens (`tokenizer.ggml.token_type` 3 and 4, e.g.
//!    `<|im_start|>`) written in the text are taken whole, longest first.
//! 2. The rest is pre-tokenized as `tokenizer.ggml.pre` names: `gpt2` splits with GPT-2's
//!    pattern `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`;
//!    `smollm` first isolates every digit (`\p{N}`), then applies the same pattern; `llama-bpe`
//!    (also `llama3`, `llama-v3`) splits with Llama 3's pattern
//!    `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
//!    and, as llama.cpp does for it, takes a piece that is itself a token whole, without
//!    merges. Any other pre-tokenizer is an error naming it, never a silent fallback.
//! 3. Each piece's UTF-8 bytes become GPT-2's printable byte characters, and BPE merges the
//!    adjacent pair of lowest rank (`tokenizer.ggml.merges`), leftmost first, until none
//!    applies.
//!
//! `tokenizer.ggml.add_bos_token` prepends `tokenizer.ggml.bos_token_id`.

use std::collections::HashMap;

use regex::Regex;
use squeeze::quant::gguf::{GgufFile, Value};
use squeeze::{Error, Result};

use crate::error::LlamaError;
use crate::vocab::gpt2_char;

/// How text is split before BPE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreTokenizer {
    /// GPT-2's pattern.
    Gpt2,
    /// Every digit on its own, then GPT-2's pattern (SmolLM).
    SmolLm,
    /// Llama 3's pattern (numbers in runs of at most three, one leading non-letter glued to a
    /// word, newlines kept with the whitespace before them); whole-token pieces skip merges.
    Llama3,
}

/// A GGUF file's BPE tokenizer.
#[derive(Debug)]
pub struct Tokenizer {
    pre: PreTokenizer,
    ids: HashMap<String, u32>,
    ranks: HashMap<(String, String), usize>,
    /// Control and user-defined tokens, longest first.
    specials: Vec<(String, u32)>,
    bos: Option<u32>,
    classes: Classes,
}

/// Unicode classes of GPT-2's pattern, exactly as the regex crate defines `\p{L}` and `\p{N}`.
#[derive(Debug)]
struct Classes {
    letter: Regex,
    number: Regex,
}

/// Character kinds the pattern distinguishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Letter,
    Number,
    Space,
    Other,
}

impl Classes {
    fn new() -> Result<Self> {
        let class =
            |p| Regex::new(p).map_err(|e| Error::invalid("pattern", "unicode class", "valid", e));
        Ok(Self {
            letter: class(r"^\p{L}$")?,
            number: class(r"^\p{N}$")?,
        })
    }

    fn kind(&self, c: char) -> Kind {
        let mut buf = [0u8; 4];
        let s = c.encode_utf8(&mut buf);
        if c.is_whitespace() {
            Kind::Space
        } else if self.letter.is_match(s) {
            Kind::Letter
        } else if self.number.is_match(s) {
            Kind::Number
        } else {
            Kind::Other
        }
    }
}

fn metadata_error(key: &str, expected: &str, actual: String) -> Error {
    LlamaError::BadMetadata {
        key: key.into(),
        expected: expected.into(),
        actual,
    }
    .into()
}

/// The strings of array `key`.
fn strings<'a>(file: &'a GgufFile, key: &str) -> Result<Vec<&'a str>> {
    match file.get(key) {
        Some(Value::Array(_, items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .ok_or_else(|| metadata_error(key, "an array of strings", format!("{v:?}")))
            })
            .collect(),
        Some(v) => Err(metadata_error(key, "an array of strings", format!("{v:?}"))),
        None => Err(LlamaError::MissingMetadata { key: key.into() }.into()),
    }
}

impl Tokenizer {
    /// The tokenizer of `file`; a tokenizer model or pre-tokenizer this module does not
    /// implement is a typed error naming it.
    pub fn from_gguf(file: &GgufFile) -> Result<Self> {
        let model_key = "tokenizer.ggml.model";
        let model = file
            .get(model_key)
            .and_then(Value::as_str)
            .unwrap_or("(none)");
        if model != "gpt2" {
            return Err(metadata_error(
                model_key,
                "`gpt2` (byte-level BPE; other tokenizers are not supported yet, use --ids)",
                format!("`{model}`"),
            ));
        }
        let pre_key = "tokenizer.ggml.pre";
        let pre = match file
            .get(pre_key)
            .and_then(Value::as_str)
            .unwrap_or("(none)")
        {
            "gpt2" => PreTokenizer::Gpt2,
            "smollm" => PreTokenizer::SmolLm,
            "llama-bpe" | "llama3" | "llama-v3" => PreTokenizer::Llama3,
            other => {
                return Err(metadata_error(
                    pre_key,
                    "`gpt2`, `smollm` or `llama-bpe` (other pre-tokenizers are not supported yet, \
                     use --ids)",
                    format!("`{other}`"),
                ));
            }
        };
        let tokens = strings(file, "tokenizer.ggml.tokens")?;
        let ids = tokens
            .iter()
            .enumerate()
            .map(|(i, t)| (t.to_string(), i as u32))
            .collect();
        let merges_key = "tokenizer.ggml.merges";
        let ranks = strings(file, merges_key)?
            .into_iter()
            .enumerate()
            .map(|(rank, m)| {
                let (a, b) = m.split_once(' ').ok_or_else(|| {
                    metadata_error(merges_key, "entries `left right`", format!("`{m}`"))
                })?;
                Ok(((a.to_string(), b.to_string()), rank))
            })
            .collect::<Result<_>>()?;
        let mut specials: Vec<(String, u32)> = match file.get("tokenizer.ggml.token_type") {
            Some(Value::Array(_, types)) => types
                .iter()
                .zip(&tokens)
                .enumerate()
                .filter(|(_, (t, _))| matches!(t, Value::I32(3 | 4)))
                .map(|(i, (_, piece))| (piece.to_string(), i as u32))
                .filter(|(piece, _)| !piece.is_empty())
                .collect(),
            _ => Vec::new(),
        };
        specials.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.1.cmp(&b.1)));
        let add_bos = matches!(
            file.get("tokenizer.ggml.add_bos_token"),
            Some(Value::Bool(true))
        );
        let bos = file
            .get("tokenizer.ggml.bos_token_id")
            .and_then(Value::as_u64)
            .and_then(|id| u32::try_from(id).ok())
            .filter(|_| add_bos);
        Ok(Self {
            pre,
            ids,
            ranks,
            specials,
            bos,
            classes: Classes::new()?,
        })
    }

    /// The ids of `text`.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let mut out: Vec<u32> = self.bos.into_iter().collect();
        let mut rest = text;
        while !rest.is_empty() {
            // The next special token, if any: its start and which one.
            let next = self
                .specials
                .iter()
                .filter_map(|(piece, id)| rest.find(piece.as_str()).map(|at| (at, piece, *id)))
                .min_by_key(|&(at, piece, _)| (at, std::cmp::Reverse(piece.len())));
            let (plain, special) = match next {
                Some((at, piece, id)) => (&rest[..at], Some((piece.len(), id))),
                None => (rest, None),
            };
            for piece in self.pre_tokenize(plain) {
                self.bpe(piece, &mut out)?;
            }
            match special {
                Some((len, id)) => {
                    out.push(id);
                    rest = &rest[plain.len() + len..];
                }
                None => rest = "",
            }
        }
        Ok(out)
    }

    /// The pieces of `text` the pre-tokenizer gives.
    pub fn pre_tokenize<'a>(&self, text: &'a str) -> Vec<&'a str> {
        match self.pre {
            PreTokenizer::Gpt2 => self.gpt2_split(text),
            PreTokenizer::Llama3 => self.llama3_split(text),
            PreTokenizer::SmolLm => {
                let mut pieces = Vec::new();
                let mut start = 0;
                for (at, c) in text.char_indices() {
                    if self.classes.kind(c) == Kind::Number {
                        pieces.extend(self.gpt2_split(&text[start..at]));
                        pieces.push(&text[at..at + c.len_utf8()]);
                        start = at + c.len_utf8();
                    }
                }
                pieces.extend(self.gpt2_split(&text[start..]));
                pieces
            }
        }
    }

    /// GPT-2's pattern, scanned by hand (the regex crate has no lookahead for `\s+(?!\S)`).
    fn gpt2_split<'a>(&self, text: &'a str) -> Vec<&'a str> {
        let chars: Vec<(usize, char)> = text.char_indices().collect();
        let kind = |i: usize| chars.get(i).map(|&(_, c)| self.classes.kind(c));
        let byte_at = |i: usize| chars.get(i).map_or(text.len(), |&(at, _)| at);
        let run = |from: usize, k: Kind| (from..).take_while(|&j| kind(j) == Some(k)).count();
        let mut pieces = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i].1;
            let contraction = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d"]
                .iter()
                .find(|p| text[chars[i].0..].starts_with(**p))
                .map(|p| p.chars().count());
            let next = kind(i + 1);
            let len = if let Some(n) = contraction {
                n
            } else if matches!(kind(i), Some(Kind::Letter | Kind::Number | Kind::Other)) {
                run(i, kind(i).unwrap_or(Kind::Other))
            } else if c == ' ' && matches!(next, Some(Kind::Letter | Kind::Number | Kind::Other)) {
                1 + run(i + 1, next.unwrap_or(Kind::Other))
            } else {
                // Whitespace: `\s+(?!\S)` leaves the last one to start the next piece when more
                // text follows; a single one is `\s+`.
                let n = run(i, Kind::Space);
                if n > 1 && i + n < chars.len() {
                    n - 1
                } else {
                    n
                }
            };
            pieces.push(&text[byte_at(i)..byte_at(i + len)]);
            i += len;
        }
        pieces
    }

    /// Llama 3's pattern, scanned by hand as [`Self::gpt2_split`] is: at each position the
    /// first alternative that matches, as the regex's leftmost-first alternation takes it.
    fn llama3_split<'a>(&self, text: &'a str) -> Vec<&'a str> {
        let chars: Vec<(usize, char)> = text.char_indices().collect();
        let kind = |i: usize| chars.get(i).map(|&(_, c)| self.classes.kind(c));
        let newline = |i: usize| matches!(chars.get(i), Some((_, '\r' | '\n')));
        let byte_at = |i: usize| chars.get(i).map_or(text.len(), |&(at, _)| at);
        let run = |from: usize, k: Kind| (from..).take_while(|&j| kind(j) == Some(k)).count();
        let mut pieces = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            let rest = &text[chars[i].0..];
            let contraction = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d"]
                .iter()
                .find(|p| {
                    rest.get(..p.len())
                        .is_some_and(|r| r.eq_ignore_ascii_case(p))
                })
                .map(|p| p.len());
            let len = if let Some(n) = contraction {
                n
            } else if kind(i) == Some(Kind::Letter) {
                run(i, Kind::Letter)
            } else if matches!(kind(i), Some(Kind::Space | Kind::Other))
                && !newline(i)
                && kind(i + 1) == Some(Kind::Letter)
            {
                // `[^\r\n\p{L}\p{N}]?\p{L}+`: one space or symbol glued to a word.
                1 + run(i + 1, Kind::Letter)
            } else if kind(i) == Some(Kind::Number) {
                run(i, Kind::Number).min(3)
            } else if let Some(symbols) = {
                let space = usize::from(chars[i].1 == ' ');
                (kind(i + space) == Some(Kind::Other)).then(|| space + run(i + space, Kind::Other))
            } {
                // ` ?[^\s\p{L}\p{N}]+[\r\n]*`.
                symbols + (i + symbols..).take_while(|&j| newline(j)).count()
            } else {
                let n = run(i, Kind::Space);
                match (i..i + n).rev().find(|&j| newline(j)) {
                    // `\s*[\r\n]+`: up to the run's last newline.
                    Some(last) => last + 1 - i,
                    // `\s+(?!\S)`, then `\s+`.
                    None if n > 1 && i + n < chars.len() => n - 1,
                    None => n,
                }
            };
            pieces.push(&text[byte_at(i)..byte_at(i + len.max(1))]);
            i += len.max(1);
        }
        pieces
    }

    /// BPE of one piece, appended to `out`.
    fn bpe(&self, piece: &str, out: &mut Vec<u32>) -> Result<()> {
        let mut symbols: Vec<String> = piece.bytes().map(|b| gpt2_char(b).to_string()).collect();
        if self.pre == PreTokenizer::Llama3 {
            // llama.cpp's `ignore_merges`: a piece that is a token is that token.
            if let Some(&id) = self.ids.get(&symbols.concat()) {
                out.push(id);
                return Ok(());
            }
        }
        loop {
            let best = symbols
                .windows(2)
                .enumerate()
                .filter_map(|(i, pair)| {
                    self.ranks
                        .get(&(pair[0].clone(), pair[1].clone()))
                        .map(|&rank| (rank, i))
                })
                .min();
            let Some((_, i)) = best else { break };
            let right = symbols.remove(i + 1);
            symbols[i].push_str(&right);
        }
        for s in symbols {
            let id = self.ids.get(&s).ok_or_else(|| {
                Error::invalid(
                    "prompt",
                    "text",
                    "pieces in the vocabulary",
                    format!("`{s}`"),
                )
            })?;
            out.push(*id);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tokenizer over the 256 byte pieces plus `extra` pieces, with `merges` in rank order.
    fn tokenizer(pre: PreTokenizer, extra: &[&str], merges: &[(&str, &str)]) -> Tokenizer {
        let pieces = (0..=255u8)
            .map(|b| gpt2_char(b).to_string())
            .chain(extra.iter().map(|s| s.to_string()));
        Tokenizer {
            pre,
            ids: pieces.enumerate().map(|(i, p)| (p, i as u32)).collect(),
            ranks: merges
                .iter()
                .enumerate()
                .map(|(rank, (a, b))| ((a.to_string(), b.to_string()), rank))
                .collect(),
            specials: vec![("<|im_end|>".into(), 999)],
            bos: None,
            classes: Classes::new().unwrap(),
        }
    }

    /// Expected pieces from Hugging Face `tokenizers` (Digits(individual) + ByteLevel), the
    /// pre-tokenizer SmolLM2 ships.
    #[test]
    fn smollm_pre_tokenizer_matches_hugging_face() {
        let t = tokenizer(PreTokenizer::SmolLm, &[], &[]);
        let cases: [(&str, &[&str]); 6] = [
            (
                "In 2024, I paid $1,234.56!",
                &[
                    "In", " ", "2", "0", "2", "4", ",", " I", " paid", " $", "1", ",", "2", "3",
                    "4", ".", "5", "6", "!",
                ],
            ),
            (
                "a  b   c\n\n d  ",
                &["a", " ", " b", "  ", " c", "\n\n", " d", "  "],
            ),
            (
                "don't I'll we've",
                &["don", "'t", " I", "'ll", " we", "'ve"],
            ),
            (
                "Héllo naïve café — “q”",
                &["Héllo", " naïve", " café", " —", " “", "q", "”"],
            ),
            ("tabs\there\n", &["tabs", "\t", "here", "\n"]),
            ("x**3 // 4", &["x", "**", "3", " //", " ", "4"]),
        ];
        for (text, want) in cases {
            assert_eq!(t.pre_tokenize(text), want, "{text:?}");
        }
    }

    /// Expected pieces from the Python `regex` module running Llama 3's pattern (the one in this
    /// module's docs) on each text.
    #[test]
    fn llama3_pre_tokenizer_matches_the_regex() {
        let t = tokenizer(PreTokenizer::Llama3, &[], &[]);
        let cases: [(&str, &[&str]); 13] = [
            (
                "Hello, world! It's 12345 o'clock.",
                &[
                    "Hello", ",", " world", "!", " It", "'s", " ", "123", "45", " o", "'clock", ".",
                ],
            ),
            (
                "  spaces   and\ttabs\n\n  newline  ",
                &[
                    " ", " spaces", "  ", " and", "\ttabs", "\n\n", " ", " newline", "  ",
                ],
            ),
            (
                "I'LL DON'T we've",
                &["I", "'LL", " DON", "'T", " we", "'ve"],
            ),
            (
                "(paren) [x]{y}",
                &["(paren", ")", " [", "x", "]{", "y", "}"],
            ),
            (
                "naïve café 東京 123４５",
                &["naïve", " café", " 東京", " ", "123", "４５"],
            ),
            ("a\r\n\r\nb  \n x", &["a", "\r\n\r\n", "b", "  \n", " x"]),
            (
                "1234567 3.14159",
                &["123", "456", "7", " ", "3", ".", "141", "59"],
            ),
            ("...!!!\n\n", &["...!!!\n\n"]),
            ("emoji 🎉🎉 ok", &["emoji", " 🎉🎉", " ok"]),
            (" ", &[" "]),
            ("\n", &["\n"]),
            ("x  ", &["x", "  "]),
            ("3x", &["3", "x"]),
        ];
        for (text, want) in cases {
            assert_eq!(t.pre_tokenize(text), want, "{text:?}");
        }
        assert!(t.pre_tokenize("").is_empty());
    }

    #[test]
    fn llama3_takes_a_piece_that_is_a_token_whole_without_merges() {
        // "Ġhello" is a token but no merge builds it: llama.cpp's ignore_merges takes it.
        let t = tokenizer(PreTokenizer::Llama3, &["Ġhello"], &[]);
        assert_eq!(t.encode(" hello").unwrap(), [256]);
        let smol = tokenizer(PreTokenizer::SmolLm, &["Ġhello"], &[]);
        assert_eq!(smol.encode(" hello").unwrap().len(), 6);
    }

    #[test]
    fn gpt2_pre_tokenizer_keeps_numbers_together() {
        let t = tokenizer(PreTokenizer::Gpt2, &[], &[]);
        assert_eq!(t.pre_tokenize("In 2024, x"), ["In", " 2024", ",", " x"]);
    }

    #[test]
    fn bpe_merges_the_lowest_rank_first_and_takes_special_tokens_whole() {
        let t = tokenizer(
            PreTokenizer::SmolLm,
            &["Ġt", "he", "Ġthe", "er"],
            &[("Ġ", "t"), ("h", "e"), ("Ġt", "he"), ("e", "r")],
        );
        let [gt, he, the] = [256, 257, 258];
        let (r, e) = (u32::from(b'r'), u32::from(b'e'));
        // " there": Ġt, then he (rank 1) before er (rank 3), then Ġthe; r, e stay apart.
        assert_eq!(t.encode(" the there").unwrap(), [the, the, r, e]);
        assert_eq!(t.encode(" t").unwrap(), [gt]);
        assert_eq!(t.encode("he<|im_end|>é").unwrap(), [he, 999, 0xc3, 0xa9]);
    }
}
