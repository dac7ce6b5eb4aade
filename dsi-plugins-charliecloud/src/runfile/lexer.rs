//! Lexical structure (RUNFILE.md §3): encoding checks, parser directives,
//! comments, blank lines and line continuation, producing logical lines whose
//! every character remembers its physical position.

use super::diagnostic::Diagnostic;

/// A 1-based `(line, column)` position; the column counts Unicode scalar values.
pub(crate) type Pos = (usize, usize);

/// Space or tab (`HWS` of the grammar).
pub(crate) fn is_hws(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// One instruction after continuation joining (§3.5), without trailing
/// spaces/tabs (§3.6).
#[derive(Debug)]
pub(crate) struct LogicalLine {
    /// The characters of the joined line.
    pub(crate) chars: Vec<char>,
    /// The physical line of the first character.
    first_line: usize,
    /// One `(index in chars, physical line number)` per physical line
    /// joined after the first, in order: each starts at column 1 of its
    /// line (empty, so never allocated, for a line without continuation).
    parts: Vec<(usize, usize)>,
    /// The position just after the last character.
    end: Pos,
}

impl LogicalLine {
    /// The physical position of character `i`, or the end of the line.
    pub(crate) fn at(&self, i: usize) -> Pos {
        if i >= self.chars.len() {
            return self.end;
        }
        // Few parts (most lines have none): the last one starting at or
        // before `i` holds it, else the first line does.
        let (start, line_no) = self
            .parts
            .iter()
            .rev()
            .find(|&&(start, _)| start <= i)
            .copied()
            .unwrap_or((0, self.first_line));
        (line_no, i - start + 1)
    }

    /// Index of the first character at or after `i` that is not a space/tab.
    pub(crate) fn skip_hws(&self, mut i: usize) -> usize {
        while i < self.chars.len() && is_hws(self.chars[i]) {
            i += 1;
        }
        i
    }

    /// The characters `from..to` as a string.
    pub(crate) fn text(&self, from: usize, to: usize) -> String {
        self.chars
            .get(from..to.min(self.chars.len()))
            .unwrap_or_default()
            .iter()
            .collect()
    }

    fn push_line(&mut self, line_no: usize, chars: &[char]) {
        if self.chars.is_empty() {
            self.first_line = line_no;
        } else if !chars.is_empty() {
            self.parts.push((self.chars.len(), line_no));
        }
        self.chars.extend_from_slice(chars);
        self.end = (line_no, chars.len() + 1);
    }

    fn trim_end(&mut self) {
        while self.chars.last().is_some_and(|&c| is_hws(c)) {
            self.chars.pop();
        }
        let n = self.chars.len();
        self.parts.retain(|&(start, _)| start < n);
        if n > 0 {
            let (line, col) = self.at(n - 1);
            self.end = (line, col + 1);
        }
    }
}

/// The characters of `s`, decoded fast when it is ASCII (most Runfiles).
pub(crate) fn chars_of(s: &str) -> Vec<char> {
    // `chars()` underestimates its length 4×; reserve the bytes.
    let mut v = Vec::with_capacity(s.len());
    push_chars(&mut v, s);
    v
}

/// Append the characters of `s` to `out`, fast when it is ASCII.
fn push_chars(out: &mut Vec<char>, s: &str) {
    if s.is_ascii() {
        out.extend(s.bytes().map(char::from));
    } else {
        out.extend(s.chars());
    }
}

/// A character §3.1 forbids (E103) besides CR: the C0 controls but TAB and
/// LF, DEL, and (RUNFILE-1.1 §1 amendment) the C1 controls U+0080–U+009F and
/// the bidi controls U+202A–U+202E and U+2066–U+2069, which can disguise a
/// Runfile on a terminal.
pub(crate) fn is_forbidden_control(c: char) -> bool {
    let u = c as u32;
    (u < 0x20 && c != '\t' && c != '\n' && c != '\r')
        || (0x7f..=0x9f).contains(&u)
        || (0x202a..=0x202e).contains(&u)
        || (0x2066..=0x2069).contains(&u)
}

/// Check §3.1 (UTF-8, no BOM, no control characters but TAB and LF, no CR,
/// no DEL; no C1 or bidi controls, RUNFILE-1.1 §1) and return the text.
///
/// The whole file is checked before any parsing, so an encoding error is
/// reported even if a syntax error precedes it (the text must be decoded
/// first).
pub(crate) fn decode(source: &[u8]) -> Result<&str, Diagnostic> {
    if source.starts_with(b"\xEF\xBB\xBF") {
        return Err(Diagnostic::error(
            1,
            1,
            "E102",
            "byte-order mark not allowed",
        ));
    }
    let (text, invalid) = match std::str::from_utf8(source) {
        Ok(text) => (text, false),
        Err(e) => {
            let prefix = source.get(..e.valid_up_to()).unwrap_or_default();
            (
                std::str::from_utf8(prefix).expect("prefix up to valid_up_to is valid UTF-8"),
                true,
            )
        }
    };
    let (mut line, mut col) = (1, 1);
    for c in text.chars() {
        match c {
            '\n' => {
                line += 1;
                col = 1;
                continue;
            }
            '\r' => {
                return Err(Diagnostic::error(
                    line,
                    col,
                    "E104",
                    "carriage return not allowed",
                ));
            }
            '\t' => {}
            c if is_forbidden_control(c) => {
                return Err(Diagnostic::error(
                    line,
                    col,
                    "E103",
                    format!("control character U+{:04X} not allowed", c as u32),
                ));
            }
            _ => {}
        }
        col += 1;
    }
    if invalid {
        return Err(Diagnostic::error(line, col, "E101", "invalid UTF-8"));
    }
    Ok(text)
}

/// A parser directive line `# key=value` (§3.3).
struct Directive {
    key: String,
    value: String,
    value_col: usize,
    hash_col: usize,
}

/// Recognise `[HWS] '#' [HWS] key [HWS] '=' [HWS] value`; the key is
/// `[A-Za-z][A-Za-z0-9]*` (the Dockerfile rule); the value is the rest of the
/// line without trailing spaces/tabs and may be empty.
fn match_directive(line: &[char]) -> Option<Directive> {
    let mut i = 0;
    let skip = |mut i: usize| {
        while i < line.len() && is_hws(line[i]) {
            i += 1;
        }
        i
    };
    i = skip(i);
    if line.get(i) != Some(&'#') {
        return None;
    }
    let hash_col = i + 1;
    i = skip(i + 1);
    let key_start = i;
    if !line.get(i).is_some_and(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    while line.get(i).is_some_and(|c| c.is_ascii_alphanumeric()) {
        i += 1;
    }
    let key: String = line[key_start..i].iter().collect();
    i = skip(i);
    if line.get(i) != Some(&'=') {
        return None;
    }
    i = skip(i + 1);
    let mut end = line.len();
    while end > i && is_hws(line[end - 1]) {
        end -= 1;
    }
    Some(Directive {
        key: key.to_ascii_lowercase(),
        value: line[i..end].iter().collect(),
        value_col: i + 1,
        hash_col,
    })
}

fn is_blank(line: &[char]) -> bool {
    line.iter().all(|&c| is_hws(c))
}

fn is_comment(line: &[char]) -> bool {
    line.iter().find(|&&c| !is_hws(c)) == Some(&'#')
}

/// If `line` is continued (§3.5), the index of its final backslash.
fn continuation(line: &[char]) -> Option<usize> {
    let mut end = line.len();
    while end > 0 && is_hws(line[end - 1]) {
        end -= 1;
    }
    let run = line[..end].iter().rev().take_while(|&&c| c == '\\').count();
    (run % 2 == 1).then(|| end - 1)
}

/// Splits a decoded Runfile into logical lines.
pub(crate) struct Lexer {
    /// The characters of the whole text, LFs excluded.
    chars: Vec<char>,
    /// Each physical line's range in `chars`.
    lines: Vec<std::ops::Range<usize>>,
    next: usize,
    in_directives: bool,
    runfile_directive: bool,
}

impl Lexer {
    pub(crate) fn new(text: &str) -> Self {
        let mut chars = Vec::with_capacity(text.len());
        let mut lines = Vec::new();
        for line in text.split('\n') {
            let start = chars.len();
            push_chars(&mut chars, line);
            lines.push(start..chars.len());
        }
        // A final LF ends the last line; it does not start an empty one.
        if text.is_empty() || text.ends_with('\n') {
            lines.pop();
        }
        Lexer {
            chars,
            lines,
            next: 0,
            in_directives: true,
            runfile_directive: false,
        }
    }

    /// The characters of physical line `idx`.
    fn line(&self, idx: usize) -> &[char] {
        &self.chars[self.lines[idx].clone()]
    }

    /// The next physical line and its 1-based number.
    fn physical(&mut self) -> Option<(usize, usize)> {
        let i = self.next;
        if i < self.lines.len() {
            self.next += 1;
            Some((i, i + 1))
        } else {
            None
        }
    }

    /// Handle a parser directive; `Ok(false)` if the line is none.
    fn directive(&mut self, idx: usize, line_no: usize) -> Result<bool, Diagnostic> {
        let Some(d) = match_directive(self.line(idx)) else {
            return Ok(false);
        };
        match d.key.as_str() {
            "runfile" => {
                if self.runfile_directive {
                    return Err(Diagnostic::error(
                        line_no,
                        d.hash_col,
                        "E111",
                        "duplicate parser directive 'runfile'",
                    ));
                }
                self.runfile_directive = true;
                if d.value != "1" {
                    return Err(Diagnostic::error(
                        line_no,
                        d.value_col,
                        "E112",
                        format!(
                            "unsupported Runfile version '{}' (only 1 is known)",
                            d.value
                        ),
                    ));
                }
                Ok(true)
            }
            "escape" | "syntax" => Err(Diagnostic::error(
                line_no,
                d.hash_col,
                "E110",
                format!("parser directive '{}' is not supported in a Runfile", d.key),
            )),
            _ => Ok(false),
        }
    }

    /// The next logical line, `None` at end of file.
    pub(crate) fn next_logical(&mut self) -> Result<Option<LogicalLine>, Diagnostic> {
        let (mut idx, mut line_no) = loop {
            let Some((idx, line_no)) = self.physical() else {
                return Ok(None);
            };
            if self.in_directives {
                if self.directive(idx, line_no)? {
                    continue;
                }
                // Any other line (blank, comment, unknown key, instruction)
                // ends directive processing.
                self.in_directives = false;
            }
            let line = self.line(idx);
            if !is_blank(line) && !is_comment(line) {
                break (idx, line_no);
            }
        };
        let first = self.lines[idx].len();
        let mut ll = LogicalLine {
            chars: Vec::with_capacity(first),
            first_line: line_no,
            parts: Vec::new(),
            end: (line_no, 1),
        };
        loop {
            let line = self.line(idx);
            let Some(backslash) = continuation(line) else {
                ll.push_line(line_no, line);
                break;
            };
            ll.push_line(line_no, &line[..backslash]);
            let continued_at = (line_no, backslash + 1);
            loop {
                let Some((next_idx, next_no)) = self.physical() else {
                    return Err(Diagnostic::error(
                        continued_at.0,
                        continued_at.1,
                        "E121",
                        "line continuation at end of file",
                    ));
                };
                let next = self.line(next_idx);
                if is_blank(next) {
                    return Err(Diagnostic::error(
                        next_no,
                        1,
                        "E122",
                        "empty continuation line",
                    ));
                }
                if !is_comment(next) {
                    (idx, line_no) = (next_idx, next_no);
                    break;
                }
            }
        }
        ll.trim_end();
        Ok(Some(ll))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logical(text: &str) -> Vec<String> {
        let mut lx = Lexer::new(text);
        let mut out = Vec::new();
        while let Some(ll) = lx.next_logical().expect("valid") {
            out.push(ll.chars.iter().collect());
        }
        out
    }

    #[test]
    fn continuation_joins_and_keeps_whitespace() {
        assert_eq!(logical("A b \\  \n  c\n"), ["A b   c"]);
        assert_eq!(logical("A b\\\\\nC d"), ["A b\\\\", "C d"]);
        assert_eq!(logical("A \\\n# c \\\n b"), ["A  b"]);
    }

    #[test]
    fn positions_follow_physical_lines() {
        let mut lx = Lexer::new("X a \\\n  bc  \n");
        let ll = lx.next_logical().expect("ok").expect("line");
        assert_eq!(ll.at(0), (1, 1));
        assert_eq!(ll.at(4), (2, 1));
        assert_eq!(ll.at(ll.chars.len()), (2, 5));
    }

    #[test]
    fn encoding_errors() {
        assert_eq!(
            decode(b"ab\ncd\xff").unwrap_err().to_string(),
            "2:3: error: E101: invalid UTF-8"
        );
        assert_eq!(decode(b"a\x01").unwrap_err().code, "E103");
        assert_eq!(decode(b"a\x7f").unwrap_err().code, "E103");
        assert_eq!(
            decode("a\u{85}".as_bytes()).unwrap_err().to_string(),
            "1:2: error: E103: control character U+0085 not allowed"
        );
        for c in [
            '\u{80}', '\u{9f}', '\u{202a}', '\u{202e}', '\u{2066}', '\u{2069}',
        ] {
            let e = decode(format!("ab{c}").as_bytes()).unwrap_err();
            assert_eq!((e.code, e.col), ("E103", 3), "{c:?}");
            assert_eq!(
                e.message,
                format!("control character U+{:04X} not allowed", c as u32)
            );
        }
        for c in [
            '\u{a0}', '\u{2029}', '\u{202f}', '\u{2065}', '\u{206a}', 'é',
        ] {
            assert!(decode(format!("ab{c}").as_bytes()).is_ok(), "{c:?}");
        }
        assert_eq!(decode(b"\xEF\xBB\xBFa").unwrap_err().code, "E102");
        assert_eq!(
            decode(b"\xc3\xa9\r").unwrap_err().to_string(),
            "1:2: error: E104: carriage return not allowed"
        );
    }
}
