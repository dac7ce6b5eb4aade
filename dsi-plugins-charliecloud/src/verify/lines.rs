//! Texts as lines (RUNFILE-1.1 §5.4), read one at a time from a stream.
//!
//! A text is split at LF; a final LF starts no extra line and CR stays in
//! the line. Each line is also decoded as UTF-8 with every maximal invalid
//! subsequence replaced by U+FFFD (`String::from_utf8_lossy`), which is what
//! regular expressions and number tokens read. `--ignore` drops the lines
//! any of its expressions match.

use std::io::{self, BufRead};

use regex::Regex;

/// A stream of lines: the current one, raw and decoded, and its number.
#[derive(Debug)]
pub struct Lines<R> {
    reader: R,
    raw: Vec<u8>,
    text: String,
    number: u64,
}

impl<R: BufRead> Lines<R> {
    /// Lines of `reader`, none read yet.
    pub fn new(reader: R) -> Lines<R> {
        Lines {
            reader,
            raw: Vec::new(),
            text: String::new(),
            number: 0,
        }
    }

    /// Reads the next line; false at the end of the text.
    pub fn advance(&mut self) -> io::Result<bool> {
        self.raw.clear();
        if self.reader.read_until(b'\n', &mut self.raw)? == 0 {
            return Ok(false);
        }
        if self.raw.last() == Some(&b'\n') {
            self.raw.pop();
        }
        self.number += 1;
        self.text.clear();
        match std::str::from_utf8(&self.raw) {
            Ok(s) => self.text.push_str(s),
            Err(_) => self.text.push_str(&String::from_utf8_lossy(&self.raw)),
        }
        Ok(true)
    }

    /// Reads the next line no expression of `ignore` matches; false at the
    /// end of the text.
    pub fn advance_kept(&mut self, ignore: &[Regex]) -> io::Result<bool> {
        while self.advance()? {
            if !ignore.iter().any(|re| re.is_match(&self.text)) {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

impl<R> Lines<R> {
    /// The current line's bytes, without its LF.
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    /// The current line, decoded.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The current line's number, from 1 (0 before the first).
    pub fn number(&self) -> u64 {
        self.number
    }
}

/// The 1-based character column of byte offset `at` in `line`.
pub fn column(line: &str, at: usize) -> u64 {
    let at = at.min(line.len());
    // Offsets come from ASCII positions or character boundaries.
    let prefix = line.get(..at).unwrap_or(line);
    prefix.chars().count() as u64 + 1
}

/// The whitespace-delimited word of `line` at byte offset `at`: the one
/// containing it, else the next one; `(end)` past the last.
pub fn word_at(line: &str, at: usize) -> String {
    let bytes = line.as_bytes();
    let is_space = |b: u8| b == b' ' || b == b'\t';
    let mut start = at.min(bytes.len());
    while start < bytes.len() && is_space(bytes[start]) {
        start += 1;
    }
    if start >= bytes.len() {
        return END.to_owned();
    }
    while start > 0 && !is_space(bytes[start - 1]) {
        start -= 1;
    }
    let mut end = start;
    while end < bytes.len() && !is_space(bytes[end]) {
        end += 1;
    }
    shown(&line[floor(line, start)..floor(line, end)])
}

/// What a position past the end of a text or a line shows.
pub const END: &str = "(end)";

/// Longest token or word kept in a report, in characters.
const MAX_SHOWN: usize = 80;

/// `s`, cut to 80 characters (marked with `…`).
pub fn shown(s: &str) -> String {
    match s.char_indices().nth(MAX_SHOWN) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

/// The largest character boundary of `s` at or before `i`.
fn floor(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(text: &[u8], ignore: &[Regex]) -> Vec<(u64, String)> {
        let mut l = Lines::new(text);
        let mut out = Vec::new();
        while l.advance_kept(ignore).unwrap() {
            out.push((l.number(), l.text().to_owned()));
        }
        out
    }

    #[test]
    fn a_final_lf_starts_no_line_and_cr_stays() {
        assert_eq!(all(b"a\nb\n", &[]), [(1, "a".into()), (2, "b".into())]);
        assert_eq!(all(b"a\nb", &[]), [(1, "a".into()), (2, "b".into())]);
        assert_eq!(
            all(b"a\r\n\n", &[]),
            [(1, "a\r".into()), (2, String::new())]
        );
        assert!(all(b"", &[]).is_empty());
    }

    #[test]
    fn invalid_utf8_becomes_replacement_characters() {
        let got = all(b"a\xff\xfeb\n\xe2\x82z", &[]);
        assert_eq!(got[0].1, "a\u{fffd}\u{fffd}b");
        assert_eq!(got[1].1, "\u{fffd}z");
    }

    #[test]
    fn ignored_lines_keep_their_numbers_counted() {
        let ignore = [Regex::new("^#").unwrap()];
        assert_eq!(
            all(b"# x\na\n# y\nb\n", &ignore),
            [(2, "a".into()), (4, "b".into())]
        );
    }

    #[test]
    fn columns_and_words() {
        let line = "checksum 0x5f3a9c27";
        assert_eq!(column(line, 18), 19);
        assert_eq!(word_at(line, 18), "0x5f3a9c27");
        assert_eq!(word_at(line, 8), "0x5f3a9c27");
        assert_eq!(word_at("ab", 2), END);
        assert_eq!(column("é1", 2), 2);
        assert_eq!(shown(&"x".repeat(100)).chars().count(), 81);
    }
}
