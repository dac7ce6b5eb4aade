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

/// A token of a line by position: bytes `at..end` of the line, a number
/// token or a run of text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    /// Byte offset where the token starts.
    pub at: usize,
    /// Byte offset just past it.
    pub end: usize,
    /// Whether it is a number token (else text).
    pub number: bool,
}

/// The tokens of `line` (without its line feed), in order, into `out`
/// (cleared first, so that one buffer serves every line).
pub fn spans(line: &str, out: &mut Vec<Span>) {
    out.clear();
    let bytes = line.as_bytes();
    let mut pos = 0;
    while let Some((at, end)) = next_number(bytes, pos) {
        if at > pos {
            out.push(Span {
                at: pos,
                end: at,
                number: false,
            });
        }
        out.push(Span {
            at,
            end,
            number: true,
        });
        pos = end;
    }
    if pos < bytes.len() {
        out.push(Span {
            at: pos,
            end: bytes.len(),
            number: false,
        });
    }
}

/// How many number tokens `line` holds.
pub fn count_numbers(line: &str) -> u64 {
    let bytes = line.as_bytes();
    let (mut n, mut pos) = (0, 0);
    while let Some((_, end)) = next_number(bytes, pos) {
        n += 1;
        pos = end;
    }
    n
}

/// Whether `s` is exactly one number token; its value if so (a METRIC
/// value, §1.1-5.6).
pub fn single_number(s: &str) -> Option<f64> {
    match number_at(s.as_bytes(), 0) {
        Some(end) if end == s.len() => Some(value(s)),
        _ => None,
    }
}

/// Class bit: a character after which no number token may start
/// (`[A-Za-z0-9_.]`).
const WORD: u8 = 1;
/// Class bit: a character a number token may start with (a sign, a digit,
/// `.`, or the first letter of inf/nan).
const START: u8 = 2;

/// The class bits of every byte; the scanner's one lookup per byte.
static CLASS: [u8; 256] = classes();

const fn classes() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'.' {
            t[i] |= WORD;
        }
        if b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'i' | b'I' | b'n' | b'N') {
            t[i] |= START;
        }
        i += 1;
    }
    t
}

/// The first number token starting at or after byte `from`: `(at, end)`.
fn next_number(bytes: &[u8], from: usize) -> Option<(usize, usize)> {
    let mut after_word = from > 0 && CLASS[usize::from(bytes[from - 1])] & WORD != 0;
    for (i, &b) in bytes.iter().enumerate().skip(from) {
        let class = CLASS[usize::from(b)];
        if class & START != 0
            && !after_word
            && let Some(end) = decimal(bytes, i).or_else(|| special(bytes, i))
        {
            return Some((i, end));
        }
        after_word = class & WORD != 0;
    }
    None
}

/// The end of the number token starting at `i`, if one does.
fn number_at(bytes: &[u8], i: usize) -> Option<usize> {
    let first = *bytes.get(i)?;
    if CLASS[usize::from(first)] & START == 0
        || (i > 0 && CLASS[usize::from(bytes[i - 1])] & WORD != 0)
    {
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

    fn all(line: &str) -> Vec<Span> {
        let mut out = Vec::new();
        spans(line, &mut out);
        out
    }

    fn kinds(line: &str) -> Vec<String> {
        let shown: Vec<String> = all(line)
            .iter()
            .map(|t| {
                let text = &line[t.at..t.end];
                if t.number {
                    format!("N({text})")
                } else {
                    format!("T({text})")
                }
            })
            .collect();
        let numbers = shown.iter().filter(|k| k.starts_with('N')).count();
        assert_eq!(count_numbers(line), numbers as u64, "{line}");
        shown
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
        assert_eq!(single_number("-INF"), Some(f64::NEG_INFINITY));
        assert!(single_number("nan").is_some_and(f64::is_nan));
        assert_eq!(single_number("infinity"), Some(f64::INFINITY));
    }

    #[test]
    fn values_and_offsets() {
        let t = all("E = -76.5 Ha");
        assert_eq!(
            t[1],
            Span {
                at: 4,
                end: 9,
                number: true
            }
        );
        assert_eq!(value("-76.5"), -76.5);
        assert_eq!(
            t[2],
            Span {
                at: 9,
                end: 12,
                number: false
            }
        );
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
