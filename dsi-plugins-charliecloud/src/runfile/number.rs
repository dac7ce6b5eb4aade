//! The `number` of RUNFILE-1.1 §2 and its exact decimal canonical spelling
//! (§1.1-6): `0.0010` → `1e-3`, `1.50` → `1.5e0`, `100` → `1e2`,
//! `-0` → `0e0`.
//!
//! The canonical text is an exact decimal normal form, not the shortest
//! round-trip digits of the binary64 value: two spellings share a canonical
//! text iff they denote the same decimal number.

use std::fmt;
use std::hash::{Hash, Hasher};

/// Most significant digits a number may have (E375).
const MAX_SIGNIFICANT: usize = 17;
/// Most digits its written exponent may have (E375).
const MAX_EXPONENT_DIGITS: usize = 3;
/// Longest canonical text: a sign, the significant digits, the point, `e`
/// and an `i64` exponent (leading zeros are not limited, so the exponent
/// may need more than three digits).
const MAX_TEXT: usize = 1 + MAX_SIGNIFICANT + 2 + 20;

/// A canonical text, held inline: every tolerance and bound of a Runfile is
/// a number, and reading one should not allocate.
#[derive(Clone, Copy)]
struct Text {
    len: usize,
    bytes: [u8; MAX_TEXT],
}

impl Text {
    /// `s` (at most [`MAX_TEXT`] bytes).
    const fn from_static(s: &'static str) -> Text {
        let mut t = Text {
            len: 0,
            bytes: [0; MAX_TEXT],
        };
        while t.len < s.len() {
            t.bytes[t.len] = s.as_bytes()[t.len];
            t.len += 1;
        }
        t
    }

    /// Append ASCII `b`.
    fn push(&mut self, b: &[u8]) {
        let end = self.len + b.len();
        self.bytes[self.len..end].copy_from_slice(b);
        self.len = end;
    }

    fn bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(self.bytes()).expect("canonical text is ASCII")
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// `0e0`.
const ZERO: Text = Text::from_static("0e0");

/// A `number` operand: its exact canonical text and its binary64 value.
///
/// Two numbers are equal iff their canonical texts are: the canonical text is
/// an exact decimal, so it determines the value.
#[derive(Clone, Debug)]
pub struct Number {
    canonical: Text,
    value: f64,
}

/// Why a `number` was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NumberError {
    /// Not the grammar, more than 17 significant digits or more than 3
    /// exponent digits (E375).
    Malformed,
    /// The nearest binary64 is infinite (E376).
    OutOfRange,
}

impl Number {
    /// Zero (`0e0`), the default of `--rtol` and `--atol`.
    pub fn zero() -> Number {
        Number {
            canonical: ZERO,
            value: 0.0,
        }
    }

    /// Parse a `number` (§1.1-2):
    /// `[+-]? ([0-9]+ ('.' [0-9]*)? | '.' [0-9]+) ([eE] [+-]? [0-9]+)?`,
    /// at most 17 significant digits and 3 exponent digits, finite.
    pub(crate) fn parse(s: &str) -> Result<Number, NumberError> {
        let canonical = canonical_text(s)?;
        // The canonical text is the same decimal number, so it has the same
        // nearest binary64 (and `-0` becomes `0`, which compares equal).
        let value: f64 = canonical
            .as_str()
            .parse()
            .map_err(|_| NumberError::Malformed)?;
        if !value.is_finite() {
            return Err(NumberError::OutOfRange);
        }
        Ok(Number { canonical, value })
    }

    /// The canonical text, e.g. `1.5e0`.
    pub fn canonical(&self) -> &str {
        self.canonical.as_str()
    }

    /// The nearest binary64 (ties to even).
    pub fn value(&self) -> f64 {
        self.value
    }

    /// Whether the value is zero.
    pub fn is_zero(&self) -> bool {
        self.canonical.bytes() == b"0e0"
    }
}

impl PartialEq for Number {
    fn eq(&self, other: &Self) -> bool {
        self.canonical.bytes() == other.canonical.bytes()
    }
}

impl Eq for Number {}

impl Hash for Number {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.canonical.bytes().hash(state);
    }
}

/// Displays the canonical text.
impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.canonical())
    }
}

/// The canonical text of §1.1-6, after checking the grammar and the digit
/// limits.
fn canonical_text(s: &str) -> Result<Text, NumberError> {
    let b = s.as_bytes();
    let mut i = 0;
    let negative = match b.first() {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let digits_from = |mut j: usize| {
        while b.get(j).is_some_and(u8::is_ascii_digit) {
            j += 1;
        }
        j
    };
    let int_end = digits_from(i);
    let int = &s[i..int_end];
    let mut frac = "";
    let mut j = int_end;
    if b.get(j) == Some(&b'.') {
        let frac_end = digits_from(j + 1);
        frac = &s[j + 1..frac_end];
        j = frac_end;
    }
    if int.is_empty() && frac.is_empty() {
        return Err(NumberError::Malformed);
    }
    let mut exponent: i64 = 0;
    if matches!(b.get(j), Some(b'e' | b'E')) {
        let mut k = j + 1;
        let exp_negative = match b.get(k) {
            Some(b'-') => {
                k += 1;
                true
            }
            Some(b'+') => {
                k += 1;
                false
            }
            _ => false,
        };
        let exp_end = digits_from(k);
        let exp_digits = &s[k..exp_end];
        if exp_digits.is_empty() || exp_digits.len() > MAX_EXPONENT_DIGITS {
            return Err(NumberError::Malformed);
        }
        let e: i64 = exp_digits.parse().map_err(|_| NumberError::Malformed)?;
        exponent = if exp_negative { -e } else { e };
        j = exp_end;
    }
    if j != b.len() {
        return Err(NumberError::Malformed);
    }
    // D = integer digits then fraction digits; drop its z leading and its
    // trailing zeros, leaving d1…dn.
    let all = || int.bytes().chain(frac.bytes());
    let z = all().take_while(|&c| c == b'0').count();
    let len = int.len() + frac.len();
    if z == len {
        return Ok(ZERO);
    }
    let trailing = all().rev().take_while(|&c| c == b'0').count();
    let n = len - z - trailing;
    if n > MAX_SIGNIFICANT {
        return Err(NumberError::Malformed);
    }
    let int_len = i64::try_from(int.len()).map_err(|_| NumberError::Malformed)?;
    let z_len = i64::try_from(z).map_err(|_| NumberError::Malformed)?;
    let x = exponent + int_len - 1 - z_len;
    let mut out = Text::from_static("");
    if negative {
        out.push(b"-");
    }
    for (k, c) in all().skip(z).take(n).enumerate() {
        if k == 1 {
            out.push(b".");
        }
        out.push(&[c]);
    }
    out.push(b"e");
    // `write!` would cost more than the rest of the canonicalisation.
    out.push(itoa::Buffer::new().format(x).as_bytes());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(s: &str) -> String {
        Number::parse(s)
            .unwrap_or_else(|e| panic!("{s}: {e:?}"))
            .canonical()
            .to_owned()
    }

    #[test]
    fn spec_examples() {
        for (written, want) in [
            ("0.0010", "1e-3"),
            ("1.50", "1.5e0"),
            ("100", "1e2"),
            ("+.5", "5e-1"),
            ("12345.678", "1.2345678e4"),
            ("-0", "0e0"),
            ("1E3", "1e3"),
            ("1e-3", "1e-3"),
            ("+0.50", "5e-1"),
            ("5.", "5e0"),
            ("0", "0e0"),
            ("000.000e-999", "0e0"),
            ("-2.5E+02", "-2.5e2"),
            ("0.00012345678901234567", "1.2345678901234567e-4"),
            ("1e999", "1e999"),
            ("-1.2345678901234567e-999", "-1.2345678901234567e-999"),
        ] {
            if written == "1e999" {
                assert_eq!(
                    canonical_text(written).map(|t| t.as_str().to_owned()),
                    Ok(want.to_owned())
                );
            } else {
                assert_eq!(canon(written), want, "{written}");
                // Idempotent.
                assert_eq!(canon(want), want, "{want}");
            }
        }
        assert_eq!(Number::parse("0.0010").expect("ok").value(), 1e-3);
        assert_eq!(Number::parse("-0").expect("ok").value().to_bits(), 0);
    }

    #[test]
    fn limits_and_malformed() {
        for bad in [
            "",
            "+",
            "-",
            ".",
            "e3",
            "1e",
            "1e+",
            "1.2.3",
            "0x1F",
            "1_0",
            " 1",
            "1 ",
            "inf",
            "nan",
            "1e1000",
            "1e0001",
            "1..2",
            "--1",
            "1.2345678901234567e3x",
        ] {
            assert_eq!(Number::parse(bad), Err(NumberError::Malformed), "{bad}");
        }
        // 17 significant digits are allowed, 18 are not; zeros around them
        // are not significant.
        assert!(Number::parse("12345678901234567").is_ok());
        assert!(Number::parse("0.000123456789012345670000").is_ok());
        assert_eq!(
            Number::parse("123456789012345678"),
            Err(NumberError::Malformed)
        );
        assert_eq!(Number::parse("1e309"), Err(NumberError::OutOfRange));
        assert_eq!(Number::parse("-1.8e308"), Err(NumberError::OutOfRange));
        assert!(Number::parse("1.7976931348623157e308").is_ok());
        // Underflow is finite.
        assert_eq!(Number::parse("1e-999").expect("ok").value(), 0.0);
        // Leading zeros are not limited: the canonical exponent may need
        // more than three digits, and the inline text holds the longest.
        let tiny = format!("-0.{}12345678901234567e-999", "0".repeat(100_000));
        assert_eq!(
            Number::parse(&tiny).expect("ok").canonical(),
            "-1.2345678901234567e-101000"
        );
    }

    #[test]
    fn equality_is_by_decimal_value() {
        let a = Number::parse("0.0010").expect("ok");
        let b = Number::parse("1e-3").expect("ok");
        assert_eq!(a, b);
        assert_ne!(a, Number::parse("0.001000000000000001").expect("ok"));
        assert!(Number::parse("-0.0").expect("ok").is_zero());
        assert_eq!(Number::zero(), Number::parse("0").expect("ok"));
        assert_eq!(a.to_string(), "1e-3");
    }
}
