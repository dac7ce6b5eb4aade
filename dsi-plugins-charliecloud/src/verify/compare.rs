//! The three `OUTPUT --compare` modes of RUNFILE-1.1 §5.5, streamed: each
//! side is read line by line, so memory holds two lines, not two texts.
//!
//! * [`exact`] — byte-identical; a difference is the first differing byte,
//!   by line and byte column.
//! * [`lines`] — the lines no `--ignore` matches must be equal; a
//!   difference is the first differing kept line, with its original number,
//!   the character column and the whitespace-delimited word there in both.
//! * [`numbers`] — after `--ignore`, the token sequences (§5.4, a line end
//!   counting as a text token) must agree in length and kinds, text tokens
//!   must be equal and each number pair must [`pass`]; the statistics count
//!   the numbers, those spelled differently, and the largest absolute and
//!   relative differences.
//!
//! Whether the texts are *identical* is decided by their digests before any
//! of these runs; a comparison that finds no difference is then a pass
//! within tolerance.

use std::io::{self, BufRead, Read};

use regex::Regex;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::lines::{END, Lines, column, shown, word_at};
use super::tokens::{Span, count_numbers, spans, value};

/// A place in one text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Position {
    /// Line, from 1 (one past the last line at the end of the text).
    pub line: u64,
    /// Column, from 1: bytes for `exact`, characters otherwise.
    pub column: u64,
    /// The word (`lines`) or token (`numbers`) there, or `(end)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

/// Where a replay's text first departs from the reference's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Difference {
    /// In the replay (R).
    pub replay: Position,
    /// In the reference (P).
    pub reference: Position,
}

/// What a `numbers` comparison (or a METRIC) saw.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct NumberStatistics {
    /// Number pairs compared.
    pub numbers: u64,
    /// Pairs whose spellings differ (`1.70e-4` and `1.7e-4` count).
    pub differing_spelling: u64,
    /// Largest |a − b|.
    #[serde(with = "float")]
    #[schemars(schema_with = "float::schema")]
    pub max_abs: f64,
    /// Largest |a − b| / |b| (∞ when b = 0 and a ≠ b).
    #[serde(with = "float")]
    #[schemars(schema_with = "float::schema")]
    pub max_rel: f64,
}

impl NumberStatistics {
    /// Counts one pair: `a` (spelled `sa`) from R, `b` (`sb`) from P.
    pub fn add(&mut self, sa: &str, a: f64, sb: &str, b: f64) {
        self.numbers += 1;
        if sa != sb {
            self.differing_spelling += 1;
        }
        let d = if a == b || (a.is_nan() && b.is_nan()) {
            0.0
        } else {
            (a - b).abs()
        };
        let rel = if d == 0.0 {
            0.0
        } else if b == 0.0 {
            f64::INFINITY
        } else {
            d / b.abs()
        };
        // NaN differences (NaN against a number) make both maxima NaN.
        if d > self.max_abs || d.is_nan() {
            self.max_abs = d;
        }
        if rel > self.max_rel || rel.is_nan() {
            self.max_rel = rel;
        }
    }
}

/// `pass(a, b) = both NaN ∨ a = b ∨ (both finite ∧ |a−b| ≤ atol + rtol·|b|)`,
/// evaluated in binary64 as d = |a−b|, t = atol + (rtol × |b|); an infinity
/// equals only itself.
pub fn pass(a: f64, b: f64, rtol: f64, atol: f64) -> bool {
    (a.is_nan() && b.is_nan())
        || a == b
        || (a.is_finite() && b.is_finite() && (a - b).abs() <= atol + (rtol * b.abs()))
}

/// How a comparison of two non-identical texts came out.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Comparison {
    /// The first difference; `None` when the texts agree under the mode.
    pub difference: Option<Difference>,
    /// For `numbers`: what was compared (up to the difference).
    pub statistics: Option<NumberStatistics>,
}

/// Size of the chunks [`exact`] reads.
const CHUNK: usize = 64 << 10;

/// Byte-identical: the first differing byte, by line and byte column.
pub fn exact(mut r: impl Read, mut p: impl Read) -> io::Result<Comparison> {
    let (mut a, mut b) = (vec![0u8; CHUNK], vec![0u8; CHUNK]);
    let (mut line, mut col) = (1u64, 1u64);
    let (mut na, mut nb) = (0usize, 0usize);
    let (mut ia, mut ib) = (0usize, 0usize);
    loop {
        if ia == na {
            na = read_some(&mut r, &mut a)?;
            ia = 0;
        }
        if ib == nb {
            nb = read_some(&mut p, &mut b)?;
            ib = 0;
        }
        if na == 0 && nb == 0 {
            return Ok(Comparison::default());
        }
        let n = (na - ia).min(nb - ib);
        let (sa, sb) = (&a[ia..ia + n], &b[ib..ib + n]);
        let same = sa.iter().zip(sb).position(|(x, y)| x != y).unwrap_or(n);
        for &byte in &sa[..same] {
            if byte == b'\n' {
                line += 1;
                col = 1;
            } else {
                col += 1;
            }
        }
        if same < n || na == 0 || nb == 0 {
            let at = Position {
                line,
                column: col,
                token: None,
            };
            return Ok(Comparison {
                difference: Some(Difference {
                    replay: at.clone(),
                    reference: at,
                }),
                statistics: None,
            });
        }
        ia += n;
        ib += n;
    }
}

/// Fills as much of `buf` as one read gives (0 only at the end).
fn read_some(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match r.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            other => return other,
        }
    }
}

/// The kept lines must be equal.
pub fn lines(r: impl BufRead, p: impl BufRead, ignore: &[Regex]) -> io::Result<Comparison> {
    let (mut r, mut p) = (Lines::new(r), Lines::new(p));
    loop {
        let (more_r, more_p) = (r.advance_kept(ignore)?, p.advance_kept(ignore)?);
        if !more_r && !more_p {
            return Ok(Comparison::default());
        }
        if more_r && more_p && r.raw() == p.raw() {
            continue;
        }
        // The first differing character of the decoded lines; if they
        // decode alike (different invalid bytes), the character holding
        // the first differing byte.
        let byte = if r.text() == p.text() {
            let raw = r
                .raw()
                .iter()
                .zip(p.raw())
                .position(|(a, b)| a != b)
                .unwrap_or(0);
            String::from_utf8_lossy(&r.raw()[..raw]).len()
        } else {
            first_difference(r.text(), p.text())
        };
        return Ok(Comparison {
            difference: Some(Difference {
                replay: line_position(&r, more_r, byte),
                reference: line_position(&p, more_p, byte),
            }),
            statistics: None,
        });
    }
}

/// The position at byte `byte` of the current line, or after the last
/// line when there is `more` none.
fn line_position<R>(l: &Lines<R>, more: bool, byte: usize) -> Position {
    if more {
        Position {
            line: l.number(),
            column: column(l.text(), byte),
            token: Some(word_at(l.text(), byte)),
        }
    } else {
        end_of(l)
    }
}

/// The position after the last line of a text.
fn end_of<R>(l: &Lines<R>) -> Position {
    Position {
        line: l.number() + 1,
        column: 1,
        token: Some(END.to_owned()),
    }
}

/// The byte offset of the first differing character of `a` and `b` (the
/// shorter one's length if one is a prefix of the other).
fn first_difference(a: &str, b: &str) -> usize {
    a.char_indices()
        .zip(b.chars())
        .find(|((_, x), y)| x != y)
        .map_or(a.len().min(b.len()), |((i, _), _)| i)
}

/// The text token that ends each line.
const LINE_END: &str = "\n";

/// The `i`-th token of a line of `len` bytes: its spans, then the line end
/// (an empty span at `len`).
fn token_at(spans: &[Span], i: usize, len: usize) -> Span {
    spans.get(i).copied().unwrap_or(Span {
        at: len,
        end: len,
        number: false,
    })
}

/// The text of token `t` of `line` ([`LINE_END`] for the line end).
fn text_of<'a>(line: &'a str, t: &Span) -> &'a str {
    if t.at == t.end {
        LINE_END
    } else {
        &line[t.at..t.end]
    }
}

/// Where token `t` of the current line stands: the token itself for a
/// number or the line end, the word at byte `byte` for text.
fn shown_at<R>(lines: &Lines<R>, t: &Span, byte: usize) -> Position {
    let line = lines.text();
    let token = if t.number || t.at == t.end {
        shown_token(text_of(line, t))
    } else {
        word_at(line, byte)
    };
    let at = if t.number { t.at } else { byte };
    Position {
        line: lines.number(),
        column: column(line, at),
        token: Some(token),
    }
}

/// A token as a report shows it (the line end as `(end of line)`).
fn shown_token(t: &str) -> String {
    if t == LINE_END {
        "(end of line)".to_owned()
    } else {
        shown(t)
    }
}

/// One side of a line pair: its text and tokens.
struct Side<'a> {
    line: &'a str,
    spans: &'a [Span],
}

/// Compares two lines token by token (line ends included), counting their
/// numbers into `stats`: where each departs — its token and byte offset —
/// if they do.
fn departure(
    r: Side<'_>,
    p: Side<'_>,
    rtol: f64,
    atol: f64,
    stats: &mut NumberStatistics,
) -> Option<((Span, usize), (Span, usize))> {
    for i in 0..=r.spans.len().min(p.spans.len()) {
        let (ta, tb) = (
            token_at(r.spans, i, r.line.len()),
            token_at(p.spans, i, p.line.len()),
        );
        let (sa, sb) = (text_of(r.line, &ta), text_of(p.line, &tb));
        let departs = match (ta.number, tb.number) {
            // The same spelling is the same value: nothing to parse.
            (true, true) if sa == sb => {
                stats.numbers += 1;
                None
            }
            (true, true) => {
                let (va, vb) = (value(sa), value(sb));
                stats.add(sa, va, sb, vb);
                (!pass(va, vb, rtol, atol)).then_some((ta.at, tb.at))
            }
            (false, false) => (sa != sb).then(|| {
                let d = first_difference(sa, sb);
                (ta.at + d, tb.at + d)
            }),
            _ => Some((ta.at, tb.at)),
        };
        if let Some((da, db)) = departs {
            return Some(((ta, da), (tb, db)));
        }
    }
    None
}

/// The token sequences of the kept lines must agree; numbers within
/// `rtol`/`atol`. Both sides advance line by line: a line end is a token,
/// so sequences that agree keep their lines in step.
pub fn numbers(
    r: impl BufRead,
    p: impl BufRead,
    ignore: &[Regex],
    rtol: f64,
    atol: f64,
) -> io::Result<Comparison> {
    let (mut r, mut p) = (Lines::new(r), Lines::new(p));
    let (mut spans_r, mut spans_p) = (Vec::new(), Vec::new());
    let mut stats = NumberStatistics::default();
    loop {
        let (more_r, more_p) = (r.advance_kept(ignore)?, p.advance_kept(ignore)?);
        let difference = match (more_r, more_p) {
            (false, false) => {
                return Ok(Comparison {
                    difference: None,
                    statistics: Some(stats),
                });
            }
            // Identical lines: identical tokens, every number spelled alike.
            (true, true) if r.raw() == p.raw() => {
                stats.numbers += count_numbers(r.text());
                continue;
            }
            (true, true) => {
                spans(r.text(), &mut spans_r);
                spans(p.text(), &mut spans_p);
                let sides = (
                    Side {
                        line: r.text(),
                        spans: &spans_r,
                    },
                    Side {
                        line: p.text(),
                        spans: &spans_p,
                    },
                );
                match departure(sides.0, sides.1, rtol, atol, &mut stats) {
                    None => continue,
                    Some(((ta, da), (tb, db))) => Difference {
                        replay: shown_at(&r, &ta, da),
                        reference: shown_at(&p, &tb, db),
                    },
                }
            }
            // One text goes on past the other's end: its next line's
            // first token against `(end)`.
            (true, false) => {
                spans(r.text(), &mut spans_r);
                let t = token_at(&spans_r, 0, r.text().len());
                Difference {
                    replay: shown_at(&r, &t, t.at),
                    reference: end_of(&p),
                }
            }
            (false, true) => {
                spans(p.text(), &mut spans_p);
                let t = token_at(&spans_p, 0, p.text().len());
                Difference {
                    replay: end_of(&r),
                    reference: shown_at(&p, &t, t.at),
                }
            }
        };
        return Ok(Comparison {
            difference: Some(difference),
            statistics: Some(stats),
        });
    }
}

/// Serialises a statistic that may be infinite or NaN: a JSON number when
/// finite, else `"inf"`, `"-inf"` or `"nan"` (JSON has no such numbers).
pub mod float {
    use serde::{Deserialize, Deserializer, Serializer};

    /// The JSON Schema of such a value: a number or one of the three words.
    pub fn schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "oneOf": [{"type": "number"}, {"enum": ["inf", "-inf", "nan"]}]
        })
    }

    /// Writes `v`.
    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        if v.is_finite() {
            s.serialize_f64(*v)
        } else if v.is_nan() {
            s.serialize_str("nan")
        } else if *v > 0.0 {
            s.serialize_str("inf")
        } else {
            s.serialize_str("-inf")
        }
    }

    /// Reads what [`serialize`] wrote.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            Finite(f64),
            Word(String),
        }
        match Either::deserialize(d)? {
            Either::Finite(v) => Ok(v),
            Either::Word(w) => match w.as_str() {
                "inf" => Ok(f64::INFINITY),
                "-inf" => Ok(f64::NEG_INFINITY),
                "nan" => Ok(f64::NAN),
                other => Err(serde::de::Error::custom(format!("not a number: {other:?}"))),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn re(s: &str) -> Regex {
        Regex::new(s).unwrap()
    }

    fn nums(r: &str, p: &str, rtol: f64, atol: f64) -> Comparison {
        numbers(r.as_bytes(), p.as_bytes(), &[], rtol, atol).unwrap()
    }

    #[test]
    fn identical_lines_count_their_numbers_and_ignored_lines_do_not() {
        let text = "step 1 E = -7.5e-3\n# skipped 9 9 9\nx1 2.0 nan\n";
        let c = numbers(text.as_bytes(), text.as_bytes(), &[re("^#")], 0.0, 0.0).unwrap();
        assert_eq!(c.difference, None);
        let st = c.statistics.unwrap();
        assert_eq!((st.numbers, st.differing_spelling), (4, 0));
        // One line differs in spelling only, the other is identical.
        let c = nums("a 1 b 2\nc 3\n", "a 1.0 b 2\nc 3\n", 0.0, 0.0);
        assert_eq!(c.difference, None);
        let st = c.statistics.unwrap();
        assert_eq!((st.numbers, st.differing_spelling), (3, 1));
    }

    #[test]
    fn a_longer_text_departs_at_its_next_line() {
        let c = nums("a 1\n\n", "a 1\n", 0.0, 0.0);
        let d = c.difference.unwrap();
        assert_eq!((d.replay.line, d.replay.column), (2, 1));
        assert_eq!(d.replay.token.as_deref(), Some("(end of line)"));
        assert_eq!(d.reference.line, 2);
        assert_eq!(d.reference.token.as_deref(), Some("(end)"));
        let d = nums("a 1\n", "a 1\n2.5 x\n", 0.0, 0.0).difference.unwrap();
        assert_eq!(d.replay.token.as_deref(), Some("(end)"));
        assert_eq!(d.reference.token.as_deref(), Some("2.5"));
    }

    #[test]
    fn pass_at_the_boundary_and_one_ulp_past_it() {
        // |a-b| = 0.5 exactly; t = atol + rtol*|b| = 0.25 + 0.25*1 = 0.5.
        assert!(pass(1.5, 1.0, 0.25, 0.25));
        let past = f64::from_bits(1.5f64.to_bits() + 1);
        assert!(!pass(past, 1.0, 0.25, 0.25));
        assert!(pass(f64::NAN, -f64::NAN, 0.0, 0.0));
        assert!(!pass(f64::NAN, 1.0, 1.0, 1.0));
        assert!(pass(f64::INFINITY, f64::INFINITY, 0.0, 0.0));
        assert!(!pass(f64::INFINITY, f64::NEG_INFINITY, 1.0, 1.0));
        assert!(!pass(f64::INFINITY, 1e308, 1.0, 1.0));
    }

    #[test]
    fn boundary_cases_as_texts() {
        let c = nums("x 1.5\n", "x 1\n", 0.25, 0.25);
        assert_eq!(c.difference, None);
        let c = nums("x 1.5000000000000002\n", "x 1\n", 0.25, 0.25);
        let d = c.difference.unwrap();
        assert_eq!(d.replay.token.as_deref(), Some("1.5000000000000002"));
        assert_eq!((d.replay.line, d.replay.column), (1, 3));
        assert!(
            nums("nan NaN inf\n", "-nan nan INF\n", 0.0, 0.0)
                .difference
                .is_none()
        );
        let c = nums("1.70e-4", "1.7e-4", 0.0, 0.0);
        assert_eq!(c.difference, None);
        let st = c.statistics.unwrap();
        assert_eq!((st.numbers, st.differing_spelling), (1, 1));
        assert_eq!((st.max_abs, st.max_rel), (0.0, 0.0));
    }

    #[test]
    fn digits_in_words_compare_as_text() {
        // x1 vs x2 is a text difference whatever the tolerance.
        let d = nums("x1", "x2", 1.0, 1.0).difference.unwrap();
        assert_eq!(d.replay.token.as_deref(), Some("x1"));
        assert_eq!(d.reference.token.as_deref(), Some("x2"));
        // 10ms vs 11ms: the numbers 10 and 11, then equal text.
        assert!(nums("10ms", "11ms", 0.0, 1.0).difference.is_none());
        // a-1 holds the number 1; x=-1 the number -1.
        assert!(nums("a-1", "a-2", 0.0, 1.0).difference.is_none());
        let d = nums("x=-1", "x=1", 0.0, 1.0).difference.unwrap();
        assert_eq!(d.replay.token.as_deref(), Some("-1"));
        assert_eq!(d.reference.token.as_deref(), Some("1"));
    }

    #[test]
    fn invalid_utf8_lines_are_compared_decoded() {
        // Two different invalid bytes decode to the same U+FFFD text.
        let c = numbers(&b"\xff 1\n"[..], &b"\xfe 1.0\n"[..], &[], 0.0, 0.0).unwrap();
        assert!(c.difference.is_none());
        let c = lines(&b"a\xff\n"[..], &b"a\xfe\n"[..], &[]).unwrap();
        // Lines compare bytes: these differ, at the replacement character.
        let d = c.difference.unwrap();
        assert_eq!((d.replay.line, d.replay.column), (1, 2));
    }

    #[test]
    fn length_and_kind_mismatches() {
        let d = nums("1 2\n", "1\n", 1.0, 1.0).difference.unwrap();
        assert_eq!(d.replay.token.as_deref(), Some("2"));
        assert_eq!(d.reference.token.as_deref(), Some("(end of line)"));
        let d = nums("1\n2\n", "1\n", 1.0, 1.0).difference.unwrap();
        assert_eq!(d.replay.line, 2);
        assert_eq!(d.reference.token.as_deref(), Some("(end)"));
        assert!(nums("1\n", "1", 0.0, 0.0).difference.is_none());
    }

    #[test]
    fn worked_example_x1() {
        let p = "# date 2026-12-01T18:40:11Z\n\
                 step 1  E_total = -76.02663273509 Ha  dE = 1.2e-3\n\
                 step 2  E_total = -76.02679934127 Ha  dE = 1.7e-4\n\
                 conv 12 iterations, residual 3.1e-09\n\
                 E_total = -76.026799341270\n";
        let r = "# date 2026-12-02T09:13:55Z\n\
                 step 1  E_total = -76.02663273511 Ha  dE = 1.2e-3\n\
                 step 2  E_total = -76.02679934125 Ha  dE = 1.70e-4\n\
                 conv 12 iterations, residual 2.9e-09\n\
                 E_total = -76.026799341251\n";
        let c = numbers(r.as_bytes(), p.as_bytes(), &[re("^# date")], 1e-9, 1e-9).unwrap();
        assert_eq!(c.difference, None);
        let st = c.statistics.unwrap();
        assert_eq!((st.numbers, st.differing_spelling), (9, 5));
        assert_eq!(format!("{:.1e}", st.max_abs), "2.0e-10");
        assert_eq!(format!("{:.1e}", st.max_rel), "6.5e-2");
    }

    #[test]
    fn worked_example_x2() {
        let p =
            "# host vm, 2 ranks\nmesh 64x64, 100 steps\nstep 100: converged\nchecksum 0x5f3a9c21\n";
        let r = "# host n17, 2 ranks\nmesh 64x64, 100 steps\nstep 100: converged\nchecksum 0x5f3a9c27\n";
        let d = lines(r.as_bytes(), p.as_bytes(), &[re("^# ")])
            .unwrap()
            .difference
            .unwrap();
        assert_eq!((d.replay.line, d.replay.column), (4, 19));
        assert_eq!((d.reference.line, d.reference.column), (4, 19));
        assert_eq!(d.replay.token.as_deref(), Some("0x5f3a9c27"));
        assert_eq!(d.reference.token.as_deref(), Some("0x5f3a9c21"));
        let c = nums(
            "rank 0: 1.00 2.5\nrank 1: 3 4.5\n",
            "rank 0: 1.0 2.50\nrank 1: 3.0e0 4.5\n",
            0.0,
            0.0,
        );
        assert_eq!(c.difference, None);
        let st = c.statistics.unwrap();
        assert_eq!((st.numbers, st.differing_spelling), (6, 3));
        assert_eq!(st.max_abs, 0.0);
    }

    #[test]
    fn exact_reports_line_and_byte_column() {
        let d = exact(&b"ab\ncd\n"[..], &b"ab\ncx\n"[..])
            .unwrap()
            .difference
            .unwrap();
        assert_eq!((d.replay.line, d.replay.column), (2, 2));
        let d = exact(&b"ab"[..], &b"abc"[..]).unwrap().difference.unwrap();
        assert_eq!((d.replay.line, d.replay.column), (1, 3));
        assert!(
            exact(&b"same"[..], &b"same"[..])
                .unwrap()
                .difference
                .is_none()
        );
        // Longer than one chunk.
        let big = vec![b'x'; 3 * CHUNK + 7];
        let mut other = big.clone();
        other[2 * CHUNK + 1] = b'y';
        let d = exact(&big[..], &other[..]).unwrap().difference.unwrap();
        assert_eq!(d.replay.column, 2 * CHUNK as u64 + 2);
    }

    #[test]
    fn statistics_serialise_infinity_as_a_word() {
        let mut st = NumberStatistics::default();
        st.add("1", 1.0, "0", 0.0);
        let j = serde_json::to_value(&st).unwrap();
        assert_eq!(j["max_rel"], "inf");
        let back: NumberStatistics = serde_json::from_value(j).unwrap();
        assert_eq!(back.max_rel, f64::INFINITY);
    }
}
