//! Number tokens (RUNFILE-1.1 §5.4): a line read as text runs and numbers.
//!
//! A number token starts at a character whose predecessor in the line is
//! not in `[A-Za-z0-9_.]` (or at the start of the line) and is the longest
//! match of `number` — `[+-]? ([0-9]+ ('.' [0-9]*)? | '.' [0-9]+)
//! ([eE] [+-]? [0-9]+)?` — or `[+-]?(inf|infinity|nan)` in any case when
//! the next character is not in `[A-Za-z0-9_]`. Everything else is text, so
//! `x1`, `H2O` and `v1.2.3` keep their digits as text, `10ms` is `10` +
//! `ms`, `a-1` is `a-` + `1` and `x=-1` holds `-1`.
//!
//! The scanner works on bytes: every character that matters is ASCII, and
//! the bytes of a multi-byte UTF-8 character are never in those sets.

/// One token of a line, borrowed from it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Token<'a> {
    /// A maximal run of characters that starts no number token.
    Text(&'a str),
    /// A number token, as spelled ([`value`] reads it: the comparisons
    /// parse only numbers whose spellings differ).
    Number(&'a str),
}

impl<'a> Token<'a> {
    /// The token as written.
    pub fn text(&self) -> &'a str {
        match *self {
            Token::Text(t) | Token::Number(t) => t,
        }
    }
}

/// The tokens of one line, with the byte offset where each starts.
#[derive(Clone, Debug)]
pub struct Tokens<'a> {
    line: &'a str,
    pos: usize,
}

impl<'a> Tokens<'a> {
    /// The tokens of `line` (without its line feed).
    pub fn new(line: &'a str) -> Tokens<'a> {
        Tokens { line, pos: 0 }
    }

    /// Continues from byte offset `pos`, where the previous token ended.
    pub fn seek(&mut self, pos: usize) {
        self.pos = pos;
    }
}

impl<'a> Iterator for Tokens<'a> {
    type Item = (usize, Token<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        let bytes = self.line.as_bytes();
        let start = self.pos;
        if start >= bytes.len() {
            return None;
        }
        if let Some(end) = number_at(bytes, start) {
            self.pos = end;
            let text = &self.line[start..end];
            return Some((start, Token::Number(text)));
        }
        // Text up to the next position where a number token starts.
        let mut i = start + 1;
        while i < bytes.len() && number_at(bytes, i).is_none() {
            i += 1;
        }
        self.pos = i;
        Some((start, Token::Text(&self.line[start..i])))
    }
}

/// The tokens of `line`, collected.
pub fn tokens(line: &str) -> Vec<Token<'_>> {
    Tokens::new(line).map(|(_, t)| t).collect()
}

/// Whether `s` is exactly one number token; its value if so (a METRIC
/// value, §1.1-5.6).
pub fn single_number(s: &str) -> Option<f64> {
    match number_at(s.as_bytes(), 0) {
        Some(end) if end == s.len() => Some(value(s)),
        _ => None,
    }
}

/// May a number token start after `b`?
fn starts_after(b: u8) -> bool {
    !(b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
}

/// The end of the number token starting at `i`, if one does.
fn number_at(bytes: &[u8], i: usize) -> Option<usize> {
    let first = *bytes.get(i)?;
    // Cheap rejection first: a token begins with a sign, a digit, '.', or
    // the letter of inf/nan.
    if !(first.is_ascii_digit() || matches!(first, b'+' | b'-' | b'.' | b'i' | b'I' | b'n' | b'N'))
    {
        return None;
    }
    if i > 0 && !starts_after(bytes[i - 1]) {
        return None;
    }
    decimal(bytes, i).or_else(|| special(bytes, i))
}

/// `[+-]? ([0-9]+ ('.' [0-9]*)? | '.' [0-9]+) ([eE] [+-]? [0-9]+)?`.
fn decimal(bytes: &[u8], mut i: usize) -> Option<usize> {
    let digits = |mut j: usize| {
        while j < bytes.len() && bytes[j].is_ascii_digit() {
            j += 1;
        }
        j
    };
    if matches!(bytes.get(i), Some(b'+' | b'-')) {
        i += 1;
    }
    let int_end = digits(i);
    let mut end = if int_end > i {
        if bytes.get(int_end) == Some(&b'.') {
            digits(int_end + 1)
        } else {
            int_end
        }
    } else if bytes.get(i) == Some(&b'.') {
        let frac_end = digits(i + 1);
        if frac_end == i + 1 {
            return None;
        }
        frac_end
    } else {
        return None;
    };
    if matches!(bytes.get(end), Some(b'e' | b'E')) {
        let mut j = end + 1;
        if matches!(bytes.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        let exp_end = digits(j);
        if exp_end > j {
            end = exp_end;
        }
    }
    Some(end)
}

/// `[+-]?(inf|infinity|nan)`, any case, not followed by `[A-Za-z0-9_]`.
fn special(bytes: &[u8], mut i: usize) -> Option<usize> {
    if matches!(bytes.get(i), Some(b'+' | b'-')) {
        i += 1;
    }
    let rest = &bytes[i..];
    ["infinity", "inf", "nan"].iter().find_map(|word| {
        let n = word.len();
        let end = i + n;
        (rest.len() >= n
            && rest[..n].eq_ignore_ascii_case(word.as_bytes())
            && bytes
                .get(end)
                .is_none_or(|&b| !(b.is_ascii_alphanumeric() || b == b'_')))
        .then_some(end)
    })
}

/// The binary64 value of a number token (Rust's parser reads every
/// spelling the grammar allows, inf/infinity/nan in any case included).
pub fn value(text: &str) -> f64 {
    text.parse().unwrap_or(f64::NAN)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(line: &str) -> Vec<String> {
        tokens(line)
            .iter()
            .map(|t| match t {
                Token::Text(s) => format!("T({s})"),
                Token::Number(s) => format!("N({s})"),
            })
            .collect()
    }

    #[test]
    fn digits_inside_words_are_text() {
        assert_eq!(kinds("x1"), ["T(x1)"]);
        assert_eq!(kinds("H2O"), ["T(H2O)"]);
        assert_eq!(kinds("v1.2.3"), ["T(v1.2.3)"]);
        assert_eq!(kinds("nano"), ["T(nano)"]);
    }

    #[test]
    fn the_rules_of_section_5_4() {
        assert_eq!(kinds("0x1F"), ["N(0)", "T(x1F)"]);
        assert_eq!(kinds("1.2.3"), ["N(1.2)", "T(.3)"]);
        assert_eq!(kinds("10ms"), ["N(10)", "T(ms)"]);
        assert_eq!(kinds("a-1"), ["T(a-)", "N(1)"]);
        assert_eq!(kinds("x=-1"), ["T(x=)", "N(-1)"]);
        assert_eq!(
            kinds("+.5e3 5. 1e 1e+"),
            [
                "N(+.5e3)", "T( )", "N(5.)", "T( )", "N(1)", "T(e )", "N(1)", "T(e+)"
            ]
        );
    }

    #[test]
    fn inf_and_nan_in_any_case_and_sign() {
        assert_eq!(
            kinds("-Inf NaN +infinity nanx"),
            [
                "N(-Inf)",
                "T( )",
                "N(NaN)",
                "T( )",
                "N(+infinity)",
                "T( nanx)"
            ]
        );
        let t = tokens("-INF");
        assert!(matches!(t[0], Token::Number(v) if value(v) == f64::NEG_INFINITY));
        assert!(matches!(tokens("nan")[0], Token::Number(v) if value(v).is_nan()));
        assert!(matches!(tokens("infinity")[0], Token::Number(v) if value(v) == f64::INFINITY));
    }

    #[test]
    fn values_and_offsets() {
        let t: Vec<_> = Tokens::new("E = -76.5 Ha").collect();
        assert_eq!(t[1], (4, Token::Number("-76.5")));
        assert_eq!(value("-76.5"), -76.5);
        assert_eq!(t[2], (9, Token::Text(" Ha")));
        assert_eq!(single_number("1.70e-4"), Some(1.7e-4));
        assert_eq!(single_number("1.7 "), None);
        assert_eq!(single_number("x"), None);
        assert_eq!(single_number(""), None);
    }

    #[test]
    fn a_number_may_follow_any_non_ascii_character() {
        // é, ² and U+FFFD are not in [A-Za-z0-9_.].
        assert_eq!(kinds("é1 ²3"), ["T(é)", "N(1)", "T( ²)", "N(3)"]);
        assert_eq!(kinds("\u{fffd}1"), ["T(\u{fffd})", "N(1)"]);
        assert_eq!(kinds("٣"), ["T(٣)"]);
    }
}
