//! Generated ids as text while they come: each new id, the whole list is decoded again (a token
//! can end a UTF-8 character an earlier one began, and byte-level BPE splits characters
//! freely) and what is new since the last call is handed out. Trailing U+FFFD — a character not
//! complete yet — is held back until a later token completes it or the stream ends, so the
//! pieces put together are the decoding of all the ids.

/// The text printed so far of a growing list of ids.
#[derive(Debug, Default)]
pub struct TextStream {
    ids: Vec<u32>,
    printed: String,
}

impl TextStream {
    /// Adds `id` and returns the text it adds, if any; `decode` turns ids into text (`None`
    /// when there is no vocabulary: then nothing is ever printed).
    pub fn push(&mut self, id: u32, decode: impl Fn(&[u32]) -> Option<String>) -> String {
        self.ids.push(id);
        let Some(text) = decode(&self.ids) else {
            return String::new();
        };
        let settled = text.trim_end_matches('\u{FFFD}');
        self.advance(settled)
    }

    /// The rest of the text once no more ids come (held-back replacement characters
    /// included).
    pub fn finish(&mut self, decode: impl Fn(&[u32]) -> Option<String>) -> String {
        match decode(&self.ids) {
            Some(text) => self.advance(&text),
            None => String::new(),
        }
    }

    /// Hands out what `text` adds to the printed prefix; a decoding that no longer starts with
    /// it (a tokenizer that rewrites earlier text) waits for the end.
    fn advance(&mut self, text: &str) -> String {
        match text.strip_prefix(self.printed.as_str()) {
            Some(new) if !new.is_empty() => {
                let new = new.to_string();
                self.printed.push_str(&new);
                new
            }
            _ => String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Token i is byte i, decoded lossily (as byte-level BPE without merges).
    fn bytes(ids: &[u32]) -> Option<String> {
        let bytes: Vec<u8> = ids.iter().map(|&i| i as u8).collect();
        Some(String::from_utf8_lossy(&bytes).into_owned())
    }

    fn stream(ids: &[u32]) -> Vec<String> {
        let mut s = TextStream::default();
        let mut pieces: Vec<String> = ids.iter().map(|&id| s.push(id, bytes)).collect();
        pieces.push(s.finish(bytes));
        pieces
    }

    #[test]
    fn a_character_split_across_tokens_comes_out_whole() {
        // "é€" is C3 A9 E2 82 AC: nothing until each character is complete.
        let pieces = stream(&[0x68, 0xc3, 0xa9, 0xe2, 0x82, 0xac]);
        assert_eq!(pieces, ["h", "", "é", "", "", "€", ""]);
    }

    #[test]
    fn invalid_bytes_print_as_replacements_once_text_follows_or_at_the_end() {
        let pieces = stream(&[0xff, 0x41, 0xc3]);
        assert_eq!(pieces, ["", "\u{FFFD}A", "", "\u{FFFD}"]);
        assert_eq!(pieces.concat(), bytes(&[0xff, 0x41, 0xc3]).unwrap());
    }

    #[test]
    fn no_vocabulary_prints_nothing_and_empty_streams_end_empty() {
        let mut s = TextStream::default();
        assert_eq!(s.push(7, |_| None), "");
        assert_eq!(s.finish(|_| None), "");
        assert_eq!(TextStream::default().finish(bytes), "");
    }
}
