//! A small RFC 8259 JSON reader over the characters of a logical line.
//!
//! It exists (instead of `serde_json`) for two reasons: every error needs the
//! character offset at which it occurred, to be reported as `LINE:COL` on the
//! physical line, and the E341 messages follow Python's `json` module
//! (CPython 3.11 C scanner, `JSONDecodeError.msg`), which the spec's example
//! `E341: invalid JSON exec form: Expecting value` quotes.

/// Why a JSON string could not be read; every variant carries the offset of
/// the offending character.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StrError {
    /// No closing quote; offset of the opening quote.
    Unterminated(usize),
    /// `\x` with an unknown `x`; offset of the backslash.
    BadEscape(usize),
    /// `\u` not followed by four hex digits; offset of the backslash.
    BadUnicode(usize),
    /// A `\uD800`–`\uDFFF` escape that is not part of a pair; offset of the backslash.
    LoneSurrogate(usize),
    /// `\u0000`; offset of the backslash.
    Nul(usize),
    /// A raw control character (only TAB can reach here); its offset.
    Control(usize),
}

fn hex4(chars: &[char], at: usize) -> Option<u32> {
    let digits = chars.get(at..at + 4)?;
    digits
        .iter()
        .try_fold(0u32, |acc, c| Some(acc * 16 + c.to_digit(16)?))
}

/// Read the JSON string starting with the `"` at `start`; return its value and
/// the offset just after the closing quote.
pub(crate) fn parse_string(chars: &[char], start: usize) -> Result<(String, usize), StrError> {
    debug_assert_eq!(chars.get(start), Some(&'"'));
    let body = chars.get(start + 1..).unwrap_or_default();
    // Most strings have no escape: their characters up to the closing quote
    // are copied as they are.
    let plain = body
        .iter()
        .position(|&c| c == '"' || c == '\\' || c < ' ')
        .unwrap_or(body.len());
    let mut i = start + 1 + plain;
    if chars.get(i) == Some(&'"') {
        return Ok((body[..plain].iter().collect(), i + 1));
    }
    // Room for the characters up to the closing quote (escapes only shrink).
    let mut len = plain;
    let mut k = i;
    while let Some(&c) = chars.get(k) {
        match c {
            '"' => break,
            '\\' => k += 2,
            _ => k += 1,
        }
        len += 1;
    }
    let mut out = String::with_capacity(len);
    out.extend(&body[..plain]);
    loop {
        let Some(&c) = chars.get(i) else {
            return Err(StrError::Unterminated(start));
        };
        match c {
            '"' => return Ok((out, i + 1)),
            '\\' => {
                let Some(&e) = chars.get(i + 1) else {
                    return Err(StrError::Unterminated(start));
                };
                let simple = match e {
                    '"' => Some('"'),
                    '\\' => Some('\\'),
                    '/' => Some('/'),
                    'b' => Some('\u{8}'),
                    'f' => Some('\u{c}'),
                    'n' => Some('\n'),
                    'r' => Some('\r'),
                    't' => Some('\t'),
                    'u' => None,
                    _ => return Err(StrError::BadEscape(i)),
                };
                if let Some(s) = simple {
                    out.push(s);
                    i += 2;
                    continue;
                }
                let u = hex4(chars, i + 2).ok_or(StrError::BadUnicode(i))?;
                let (code, len) = match u {
                    0xD800..=0xDBFF => {
                        let low = (chars.get(i + 6) == Some(&'\\')
                            && chars.get(i + 7) == Some(&'u'))
                        .then(|| hex4(chars, i + 8))
                        .flatten()
                        .filter(|l| (0xDC00..=0xDFFF).contains(l))
                        .ok_or(StrError::LoneSurrogate(i))?;
                        (0x10000 + ((u - 0xD800) << 10) + (low - 0xDC00), 12)
                    }
                    0xDC00..=0xDFFF => return Err(StrError::LoneSurrogate(i)),
                    0 => return Err(StrError::Nul(i)),
                    u => (u, 6),
                };
                out.push(char::from_u32(code).ok_or(StrError::BadUnicode(i))?);
                i += len;
            }
            c if (c as u32) < 0x20 => return Err(StrError::Control(i)),
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
}

/// A JSON value, as far as the exec-form check needs it.
#[derive(Debug)]
pub(crate) enum Value {
    /// A string.
    Str(String),
    /// An array.
    Array(Vec<Value>),
    /// Anything else (object, number, literal).
    Other,
}

/// Why a JSON text could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum JsonError {
    /// A syntax error with Python's message and the offset.
    Syntax(&'static str, usize),
    /// A string error.
    Str(StrError),
}

/// Arrays/objects nested deeper than this are rejected (instead of Python's
/// `RecursionError`), so hostile input cannot exhaust the stack.
const MAX_DEPTH: usize = 128;

struct Reader<'a> {
    chars: &'a [char],
    i: usize,
}

impl Reader<'_> {
    fn ws(&mut self) {
        while matches!(self.chars.get(self.i), Some(' ' | '\t' | '\n' | '\r')) {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.i).copied()
    }

    fn expecting_value(&self) -> JsonError {
        JsonError::Syntax("Expecting value", self.i)
    }

    fn value(&mut self, depth: usize) -> Result<Value, JsonError> {
        match self.peek() {
            Some('"') => {
                let (s, next) = parse_string(self.chars, self.i).map_err(JsonError::Str)?;
                self.i = next;
                Ok(Value::Str(s))
            }
            Some('[') => self.array(depth + 1),
            Some('{') => self.object(depth + 1),
            Some('-' | '0'..='9') => self.number(),
            Some('t') => self.literal("true"),
            Some('f') => self.literal("false"),
            Some('n') => self.literal("null"),
            _ => Err(self.expecting_value()),
        }
    }

    fn literal(&mut self, word: &str) -> Result<Value, JsonError> {
        let n = word.chars().count();
        let matches = self
            .chars
            .get(self.i..self.i + n)
            .is_some_and(|s| s.iter().copied().eq(word.chars()));
        if !matches {
            return Err(self.expecting_value());
        }
        self.i += n;
        Ok(Value::Other)
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?`, backtracking over an
    /// incomplete fraction or exponent like Python does.
    fn number(&mut self) -> Result<Value, JsonError> {
        let start = self.i;
        if self.peek() == Some('-') {
            self.i += 1;
        }
        match self.peek() {
            Some('0') => self.i += 1,
            Some('1'..='9') => self.digits(),
            _ => return Err(JsonError::Syntax("Expecting value", start)),
        }
        let digit_at = |i: usize| self.chars.get(i).is_some_and(|c| c.is_ascii_digit());
        if self.peek() == Some('.') && digit_at(self.i + 1) {
            self.i += 1;
            self.digits();
        }
        if matches!(self.peek(), Some('e' | 'E')) {
            let sign = usize::from(matches!(self.chars.get(self.i + 1), Some('+' | '-')));
            if self
                .chars
                .get(self.i + 1 + sign)
                .is_some_and(|c| c.is_ascii_digit())
            {
                self.i += 1 + sign;
                self.digits();
            }
        }
        Ok(Value::Other)
    }

    fn array(&mut self, depth: usize) -> Result<Value, JsonError> {
        if depth > MAX_DEPTH {
            return Err(JsonError::Syntax("nesting too deep", self.i));
        }
        self.i += 1;
        self.ws();
        let mut items = Vec::new();
        if self.peek() == Some(']') {
            self.i += 1;
            return Ok(Value::Array(items));
        }
        loop {
            items.push(self.value(depth)?);
            self.ws();
            match self.peek() {
                Some(']') => {
                    self.i += 1;
                    return Ok(Value::Array(items));
                }
                Some(',') => {
                    self.i += 1;
                    self.ws();
                }
                _ => return Err(JsonError::Syntax("Expecting ',' delimiter", self.i)),
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value, JsonError> {
        if depth > MAX_DEPTH {
            return Err(JsonError::Syntax("nesting too deep", self.i));
        }
        self.i += 1;
        self.ws();
        if self.peek() == Some('}') {
            self.i += 1;
            return Ok(Value::Other);
        }
        loop {
            if self.peek() != Some('"') {
                return Err(JsonError::Syntax(
                    "Expecting property name enclosed in double quotes",
                    self.i,
                ));
            }
            let (_, next) = parse_string(self.chars, self.i).map_err(JsonError::Str)?;
            self.i = next;
            self.ws();
            if self.peek() != Some(':') {
                return Err(JsonError::Syntax("Expecting ':' delimiter", self.i));
            }
            self.i += 1;
            self.ws();
            self.value(depth)?;
            self.ws();
            match self.peek() {
                Some('}') => {
                    self.i += 1;
                    return Ok(Value::Other);
                }
                Some(',') => {
                    self.i += 1;
                    self.ws();
                }
                _ => return Err(JsonError::Syntax("Expecting ',' delimiter", self.i)),
            }
        }
    }
}

/// Read `chars` as one JSON text (surrounding whitespace allowed), like
/// Python's `json.loads`.
pub(crate) fn parse_document(chars: &[char]) -> Result<Value, JsonError> {
    let mut r = Reader { chars, i: 0 };
    r.ws();
    let v = r.value(0)?;
    r.ws();
    if r.i != chars.len() {
        return Err(JsonError::Syntax("Extra data", r.i));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(s: &str) -> Result<Value, JsonError> {
        parse_document(&s.chars().collect::<Vec<_>>())
    }

    #[test]
    fn python_messages() {
        assert_eq!(
            doc("['a']").unwrap_err(),
            JsonError::Syntax("Expecting value", 1)
        );
        assert_eq!(
            doc("[1,]").unwrap_err(),
            JsonError::Syntax("Expecting value", 3)
        );
        assert_eq!(
            doc("[1 2]").unwrap_err(),
            JsonError::Syntax("Expecting ',' delimiter", 3)
        );
        assert_eq!(
            doc("[1] x").unwrap_err(),
            JsonError::Syntax("Extra data", 4)
        );
        assert_eq!(
            doc("[").unwrap_err(),
            JsonError::Syntax("Expecting value", 1)
        );
        assert_eq!(
            doc("[1.]").unwrap_err(),
            JsonError::Syntax("Expecting ',' delimiter", 2)
        );
        assert_eq!(
            doc("[{1:2}]").unwrap_err(),
            JsonError::Syntax("Expecting property name enclosed in double quotes", 2)
        );
        assert_eq!(
            doc("[\"a]").unwrap_err(),
            JsonError::Str(StrError::Unterminated(1))
        );
        assert!(
            matches!(doc("[1e5, -0.5E-3, true, null, {\"a\": [false]}]"), Ok(Value::Array(v)) if v.len() == 5)
        );
        let deep = "[".repeat(10_000);
        assert!(doc(&deep).is_err());
    }

    #[test]
    fn strings() {
        let s: Vec<char> = r#""a\u00e9\ud83d\ude00\n\/""#.chars().collect();
        assert_eq!(parse_string(&s, 0), Ok(("aé😀\n/".to_owned(), s.len())));
        let bad: Vec<char> = r#""\ud800x""#.chars().collect();
        assert_eq!(parse_string(&bad, 0), Err(StrError::LoneSurrogate(1)));
        let nul: Vec<char> = r#""\u0000""#.chars().collect();
        assert_eq!(parse_string(&nul, 0), Err(StrError::Nul(1)));
        let esc: Vec<char> = r#""\x""#.chars().collect();
        assert_eq!(parse_string(&esc, 0), Err(StrError::BadEscape(1)));
        let tab: Vec<char> = "\"a\tb\"".chars().collect();
        assert_eq!(parse_string(&tab, 0), Err(StrError::Control(2)));
    }
}
