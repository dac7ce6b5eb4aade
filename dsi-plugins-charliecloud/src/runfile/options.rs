//! Option syntax of RUNFILE-1.1 §2 and §5.2 for `OUTPUT`, `METRIC` and
//! `EXPECT`: `--NAME[=VALUE]` tokens and positional operands read in
//! position order, the per-option checks (E370–E372), the value types
//! (targets, numbers, RE1 expressions, enumerations; E373, E375, E376,
//! E378, E383, E290, E292) and the canonical spelling of values (§1.1-6).
//!
//! ```text
//! option ::= '--' [^#x20#x9=]+ ('=' (bare | json-string))?   /* value non-empty */
//! target ::= '@stdout' | '@stderr' | path-token              /* relative path */
//! ```
//!
//! A token is an option iff it is bare and starts with `--`; a JSON string
//! (`"--x"`) is always a positional operand.

use super::lexer::{LogicalLine, Pos};
use super::model::{Compare, MatchMode, Target};
use super::number::{Number, NumberError};
use super::operand::{
    Operand, Result, err, is_normal_path, normalise_path, value_operand, word_end,
};
use super::precedence::{Candidates, Rank};
use super::re1::Re1;

/// One `--NAME[=VALUE]` token.
#[derive(Debug)]
pub(crate) struct Opt<'a> {
    /// `--NAME`, as written.
    pub(crate) name: &'a [char],
    /// Position of the first `-`.
    pub(crate) pos: Pos,
    /// The value after `=` (possibly empty), decoded; `None` without `=`.
    pub(crate) value: Option<Operand>,
}

impl Opt<'_> {
    /// Whether the option is `name` (an ASCII name: one character a byte,
    /// so unequal lengths settle it without comparing characters).
    pub(crate) fn is(&self, name: &str) -> bool {
        debug_assert!(name.is_ascii());
        self.name.len() == name.len() && self.name.iter().copied().eq(name.chars())
    }

    /// `--NAME` as written.
    pub(crate) fn name(&self) -> String {
        self.name.iter().collect()
    }
}

/// Reads the operands of an instruction from left to right.
pub(crate) struct Cursor<'a> {
    ll: &'a LogicalLine,
    i: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor at `args`, the first operand character.
    pub(crate) fn new(ll: &'a LogicalLine, args: usize) -> Self {
        Cursor { ll, i: args }
    }

    /// Whether every operand has been read.
    pub(crate) fn at_end(&mut self) -> bool {
        self.i = self.ll.skip_hws(self.i);
        self.i >= self.ll.chars.len()
    }

    /// Whether the next operand is an option (bare, starting with `--`).
    pub(crate) fn is_option(&self) -> bool {
        self.ll.chars.get(self.i..self.i + 2) == Some(&['-', '-'])
    }

    /// The position of the next operand.
    pub(crate) fn pos(&self) -> Pos {
        self.ll.at(self.i)
    }

    /// The next operand's characters up to the next space/tab, undecoded.
    pub(crate) fn raw_word(&self) -> String {
        self.ll.text(self.i, word_end(self.ll, self.i))
    }

    /// Read an option; `Err` for a value that cannot be read (E253–E259).
    pub(crate) fn option(&mut self) -> Result<Opt<'a>> {
        let ll = self.ll;
        let start = self.i;
        let mut j = start;
        while j < ll.chars.len() && ll.chars[j] != '=' && !super::lexer::is_hws(ll.chars[j]) {
            j += 1;
        }
        let name = &ll.chars[start..j];
        let value = if ll.chars.get(j) == Some(&'=') {
            let (v, next) = value_operand(ll, j + 1)?;
            j = next;
            Some(v)
        } else {
            None
        };
        self.i = j;
        Ok(Opt {
            name,
            pos: ll.at(start),
            value,
        })
    }

    /// Read a positional operand (`bare | json-string`).
    pub(crate) fn word(&mut self) -> Result<Operand> {
        let (op, next) = value_operand(self.ll, self.i)?;
        self.i = next;
        Ok(op)
    }

    /// The position just after the last character of the logical line.
    pub(crate) fn eol(&self) -> Pos {
        self.ll.at(self.ll.chars.len())
    }
}

/// Most options an instruction knows (METRIC's nine).
const MAX_OPTIONS: usize = 9;

/// The options of one instruction seen so far (E370, E371, E372).
pub(crate) struct OptionSet {
    kw: &'static str,
    known: &'static [&'static str],
    /// The position of the first occurrence of each of `known`.
    seen: [Option<Pos>; MAX_OPTIONS],
}

impl OptionSet {
    /// The options `known` of instruction `kw` (`--report-only` takes no
    /// value, every other option a non-empty one; only `--ignore` may repeat).
    pub(crate) fn new(kw: &'static str, known: &'static [&'static str]) -> Self {
        assert!(known.len() <= MAX_OPTIONS, "at most {MAX_OPTIONS} options");
        OptionSet {
            kw,
            known,
            seen: [None; MAX_OPTIONS],
        }
    }

    /// Check `o` (E370 unknown, E371 duplicate, E372 value required / not
    /// allowed). Returns the option's canonical name if it is known, and
    /// whether its value should be read (no error).
    pub(crate) fn check(
        &mut self,
        c: &mut Candidates,
        o: &Opt<'_>,
    ) -> Option<(&'static str, bool)> {
        let Some(index) = self.known.iter().position(|k| o.is(k)) else {
            c.add(
                Rank::Unknown,
                err(
                    o.pos,
                    "E370",
                    format!("unknown {} option '{}'", self.kw, o.name()),
                ),
            );
            return None;
        };
        let name = self.known[index];
        if name != "--ignore" && self.seen[index].is_some() {
            c.add(
                Rank::Repeated,
                err(o.pos, "E371", format!("duplicate option '{name}'")),
            );
            return Some((name, false));
        }
        self.seen[index].get_or_insert(o.pos);
        let takes_value = name != "--report-only";
        let problem = match (&o.value, takes_value) {
            (Some(_), false) => Some("takes no value"),
            (None, true) => Some("requires a value"),
            (Some(v), true) if v.value.is_empty() => Some("requires a value"),
            _ => None,
        };
        if let Some(p) = problem {
            c.add(
                Rank::Value,
                err(o.pos, "E372", format!("option '{name}' {p}")),
            );
            return Some((name, false));
        }
        Some((name, true))
    }

    /// The position of the first occurrence of option `name`, if any.
    pub(crate) fn first(&self, name: &str) -> Option<Pos> {
        let index = self.known.iter().position(|&k| k == name)?;
        self.seen[index]
    }
}

/// Where a target appears, for its messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TargetUse {
    /// The `OUTPUT` operand.
    Output,
    /// A `--from` value.
    From,
}

/// A target operand (§1.1-5.2): `@stdout`, `@stderr` or a relative path
/// (normalised). Checks in order E383, E290, E292.
pub(crate) fn target(v: Operand, usage: TargetUse) -> Result<Target> {
    let s = v.value.as_str();
    if s.starts_with('@') {
        return match s {
            "@stdout" => Ok(Target::Stdout),
            "@stderr" => Ok(Target::Stderr),
            _ => Err(err(
                v.pos,
                "E383",
                format!("unknown stream '{s}' (@stdout or @stderr)"),
            )),
        };
    }
    let what = match usage {
        TargetUse::Output => ("OUTPUT target", "OUTPUT target"),
        TargetUse::From => ("--from", "--from"),
    };
    if s.starts_with('/') {
        return Err(err(
            v.pos,
            "E383",
            format!(
                "{} must be @stdout, @stderr or a path relative to the context directory: '{s}'",
                what.0
            ),
        ));
    }
    if s.is_empty() {
        return Err(err(v.pos, "E290", "empty path"));
    }
    if is_normal_path(s) {
        return Ok(Target::Path(v.value));
    }
    normalise_path(s)
        .map(|p| Target::Path(p.into_owned()))
        .map_err(|()| {
            err(
                v.pos,
                "E292",
                format!("'..' not allowed in {}: '{s}'", what.1),
            )
        })
}

/// A `number` value of option `name` (E375, E376); `non_negative` for
/// `--rtol`/`--atol`, which take a number without `-`.
pub(crate) fn number(name: &str, v: &Operand, non_negative: bool) -> Result<Number> {
    let parsed = Number::parse(&v.value);
    if parsed == Err(NumberError::Malformed) {
        return Err(err(
            v.pos,
            "E375",
            format!("malformed number for {name}: '{}'", v.value),
        ));
    }
    if non_negative && v.value.starts_with('-') {
        return Err(err(
            v.pos,
            "E376",
            format!("{name} must not be negative: '{}'", v.value),
        ));
    }
    parsed.map_err(|_| err(v.pos, "E376", format!("{name} out of range: '{}'", v.value)))
}

/// An RE1 value of option `name` (E378 at the value).
pub(crate) fn regex(name: &str, v: Operand) -> Result<Re1> {
    Re1::from_string(v.value).map_err(|e| {
        err(
            v.pos,
            "E378",
            format!("invalid regular expression for {name} {e}"),
        )
    })
}

/// `--compare=exact|lines|numbers` (E373).
pub(crate) fn compare(v: &Operand) -> Result<Compare> {
    match v.value.as_str() {
        "exact" => Ok(Compare::Exact),
        "lines" => Ok(Compare::Lines),
        "numbers" => Ok(Compare::Numbers),
        other => Err(err(
            v.pos,
            "E373",
            format!("invalid value for --compare: '{other}' (exact, lines or numbers)"),
        )),
    }
}

/// `--match=first|last|all` (E373).
pub(crate) fn match_mode(v: &Operand) -> Result<MatchMode> {
    match v.value.as_str() {
        "first" => Ok(MatchMode::First),
        "last" => Ok(MatchMode::Last),
        "all" => Ok(MatchMode::All),
        other => Err(err(
            v.pos,
            "E373",
            format!("invalid value for --match: '{other}' (first, last or all)"),
        )),
    }
}

/// A value as the canonical form writes it (§1.1-6): bare if non-empty and
/// made of `[A-Za-z0-9_./+,=@%~-]`, else a JSON string.
#[cfg(test)]
pub(crate) fn value_spelling(s: &str) -> String {
    let mut out = String::new();
    super::canonical::push_value(&mut out, s, false);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(s: &str) -> Operand {
        Operand {
            value: s.to_owned(),
            pos: (2, 9),
        }
    }

    #[test]
    fn targets() {
        assert_eq!(target(op("@stdout"), TargetUse::Output), Ok(Target::Stdout));
        assert_eq!(target(op("@stderr"), TargetUse::From), Ok(Target::Stderr));
        assert_eq!(
            target(op("./@stderr"), TargetUse::Output),
            Ok(Target::Path("@stderr".into()))
        );
        assert_eq!(
            target(op("./out//x.txt"), TargetUse::Output),
            Ok(Target::Path("out/x.txt".into()))
        );
        let e = target(op("@out"), TargetUse::Output).unwrap_err();
        assert_eq!(
            e.to_string(),
            "2:9: error: E383: unknown stream '@out' (@stdout or @stderr)"
        );
        let e = target(op("/x"), TargetUse::From).unwrap_err();
        assert_eq!(
            e.message,
            "--from must be @stdout, @stderr or a path relative to the context directory: '/x'"
        );
        assert_eq!(target(op(""), TargetUse::Output).unwrap_err().code, "E290");
        let e = target(op("a/../b"), TargetUse::From).unwrap_err();
        assert_eq!(e.message, "'..' not allowed in --from: 'a/../b'");
    }

    #[test]
    fn numbers_and_enums() {
        assert_eq!(
            number("--rtol", &op("0.0010"), true)
                .expect("ok")
                .canonical(),
            "1e-3"
        );
        assert_eq!(
            number("--atol", &op("-1e-9"), true).unwrap_err().message,
            "--atol must not be negative: '-1e-9'"
        );
        assert_eq!(number("--atol", &op("-0"), true).unwrap_err().code, "E376");
        assert_eq!(
            number("--min", &op("-0"), false).expect("ok").canonical(),
            "0e0"
        );
        assert_eq!(
            number("--max", &op("1e999"), false).unwrap_err().message,
            "--max out of range: '1e999'"
        );
        assert_eq!(
            number("--rtol", &op("-x"), true).unwrap_err().message,
            "malformed number for --rtol: '-x'"
        );
        assert_eq!(compare(&op("lines")), Ok(Compare::Lines));
        assert_eq!(match_mode(&op("all")), Ok(MatchMode::All));
        assert_eq!(
            match_mode(&op("every")).unwrap_err().message,
            "invalid value for --match: 'every' (first, last or all)"
        );
        assert_eq!(
            regex("--regex", op("E = (\\S+")).unwrap_err().message,
            "invalid regular expression for --regex at character 5: missing ')'"
        );
    }

    #[test]
    fn spelling() {
        assert_eq!(value_spelling("GFLOP/s"), "GFLOP/s");
        assert_eq!(value_spelling("s (wall)"), "\"s (wall)\"");
        assert_eq!(value_spelling("^# date"), "\"^# date\"");
        assert_eq!(value_spelling(""), "\"\"");
        assert_eq!(value_spelling("a\\b"), "\"a\\\\b\"");
    }
}
