//! The verification instructions of RUNFILE-1.1 §5: `INPUT`, `OUTPUT`,
//! `METRIC` and `EXPECT`, read in position order with the errors of one
//! instruction collected as [`Candidates`] (§1.1-8.1).
//!
//! Readings (also in `docs/RUNFILE-1.1.md`):
//!
//! * A value that cannot be read (E253–E259) ends the reading of the
//!   instruction: it is reported unless an error with a smaller key was
//!   already found, and the checks that need the whole instruction (E374,
//!   E377, E380, E381) are not made.
//! * A METRIC name is checked on its characters up to the next space/TAB
//!   (E384), before its spelling: a quoted name is not a `metric-name`.
//! * The first positional operand of METRIC is its NAME wherever it stands;
//!   after an option it is E381 (keyed at the end of the line, shown at the
//!   first option), any further one E382.
//! * E374 looks at the text of `--compare` (an invalid value also lacks
//!   `numbers`); E377 compares the binary64 values.

use super::declared::{Declared, Keyed};
use super::lexer::{LogicalLine, Pos};
use super::model::{Compare, Expect, ExpectTest, Input, MatchMode, Metric, Output, Target};
use super::number::Number;
use super::operand::{Result, err, normalise_path};
use super::options::{
    self, Cursor, Opt, OptionSet, TargetUse, compare, match_mode, number, target,
};
use super::precedence::{Candidates, Rank};
use super::re1::Re1;

const OUTPUT_OPTIONS: &[&str] = &["--compare", "--rtol", "--atol", "--ignore"];
const METRIC_OPTIONS: &[&str] = &[
    "--from",
    "--regex",
    "--match",
    "--rtol",
    "--atol",
    "--min",
    "--max",
    "--unit",
    "--report-only",
];
const EXPECT_OPTIONS: &[&str] = &["--from", "--regex", "--no-regex"];

/// E385 at the keyword if `key` was declared before.
fn duplicate<T: Keyed>(c: &mut Candidates, seen: &Declared<T>, kw_pos: Pos, what: &str, key: &str) {
    if let Some(first) = seen.first_line(key) {
        c.add(
            Rank::Duplicate,
            err(
                kw_pos,
                "E385",
                format!("duplicate {what} '{key}' (first at line {first})"),
            ),
        );
    }
}

/// `INPUT P` (§1.1-5.1).
pub(crate) fn input(
    ll: &LogicalLine,
    args: usize,
    kw_pos: Pos,
    seen: &Declared<Input>,
) -> Result<Input> {
    let mut c = Candidates::default();
    let mut cur = Cursor::new(ll, args);
    let op = cur.word()?;
    let path = if op.value.is_empty() {
        c.add(Rank::Operand, err(op.pos, "E290", "empty path"));
        None
    } else {
        match normalise_path(&op.value) {
            Ok(p) => Some(p.into_owned()),
            Err(()) => {
                c.add(
                    Rank::Operand,
                    err(
                        op.pos,
                        "E292",
                        format!("'..' not allowed in INPUT: '{}'", op.value),
                    ),
                );
                None
            }
        }
    };
    if !cur.at_end() {
        c.add(
            Rank::Placement,
            err(cur.pos(), "E382", "INPUT takes exactly one path"),
        );
    }
    if let Some(p) = &path {
        duplicate(&mut c, seen, kw_pos, "INPUT", p);
    }
    c.finish()?;
    Ok(Input {
        path: path.expect("no error, so a path"),
        line: kw_pos.0,
        col: kw_pos.1,
    })
}

/// A value checked by `f`, or its error added to `c`.
fn checked<T>(c: &mut Candidates, r: Result<T>) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(d) => {
            c.add(Rank::Operand, d);
            None
        }
    }
}

/// The next option of `cur`, or `None` after adding its spelling error.
fn read_option<'a>(cur: &mut Cursor<'a>, c: &mut Candidates) -> Option<Opt<'a>> {
    match cur.option() {
        Ok(o) => Some(o),
        Err(d) => {
            c.add(Rank::Operand, d);
            None
        }
    }
}

/// `OUTPUT [opts] T` (§1.1-5.2).
pub(crate) fn output(
    ll: &LogicalLine,
    args: usize,
    kw_pos: Pos,
    seen: &Declared<Output>,
) -> Result<Output> {
    let mut c = Candidates::default();
    let mut cur = Cursor::new(ll, args);
    let mut opts = OptionSet::new("OUTPUT", OUTPUT_OPTIONS);
    // E374 looks at the written --compare value (`numbers`, `lines`).
    let (mut numbers, mut lines) = (false, false);
    let mut compare_mode = Compare::Exact;
    let (mut rtol, mut atol) = (Number::zero(), Number::zero());
    let mut ignore: Vec<Re1> = Vec::new();
    let mut target_read: Option<Option<Target>> = None;
    let mut first_option: Option<Pos> = None;
    let mut complete = true;
    while !cur.at_end() {
        if cur.is_option() {
            let Some(mut o) = read_option(&mut cur, &mut c) else {
                complete = false;
                break;
            };
            first_option.get_or_insert(o.pos);
            let checked_name = opts.check(&mut c, &o);
            if target_read.is_some() {
                c.add(
                    Rank::Placement,
                    err(o.pos, "E382", "options must come before the TARGET"),
                );
            }
            let Some((name, true)) = checked_name else {
                continue;
            };
            let v = o.value.take().expect("checked: has a value");
            match name {
                "--compare" => {
                    numbers = v.value == "numbers";
                    lines = v.value == "lines";
                    if let Some(m) = checked(&mut c, compare(&v)) {
                        compare_mode = m;
                    }
                }
                "--rtol" => rtol = checked(&mut c, number(name, &v, true)).unwrap_or(rtol),
                "--atol" => atol = checked(&mut c, number(name, &v, true)).unwrap_or(atol),
                _ => ignore.extend(checked(&mut c, options::regex(name, v))),
            }
        } else {
            let w = match cur.word() {
                Ok(w) => w,
                Err(d) => {
                    c.add(Rank::Operand, d);
                    complete = false;
                    break;
                }
            };
            if target_read.is_some() {
                c.add(
                    Rank::Placement,
                    err(w.pos, "E382", "OUTPUT takes exactly one TARGET"),
                );
                continue;
            }
            target_read = Some(checked(&mut c, target(w, TargetUse::Output)));
        }
    }
    if complete {
        for name in ["--rtol", "--atol"] {
            if let Some(at) = opts.first(name)
                && !numbers
            {
                c.add(
                    Rank::Requires,
                    err(at, "E374", format!("{name} requires --compare=numbers")),
                );
            }
        }
        if let Some(at) = opts.first("--ignore")
            && !(lines || numbers)
        {
            c.add(
                Rank::Requires,
                err(
                    at,
                    "E374",
                    "--ignore requires --compare=lines or --compare=numbers",
                ),
            );
        }
        if target_read.is_none() {
            let shown = first_option.unwrap_or(kw_pos);
            c.add_keyed(
                cur.eol(),
                Rank::Missing,
                err(shown, "E381", "OUTPUT requires a TARGET"),
            );
        }
    }
    let target = target_read.flatten();
    if let Some(t) = &target {
        duplicate(&mut c, seen, kw_pos, "OUTPUT target", &t.spelling());
    }
    c.finish()?;
    Ok(Output {
        target: target.expect("no error, so a target"),
        compare: compare_mode,
        rtol,
        atol,
        ignore,
        line: kw_pos.0,
        col: kw_pos.1,
    })
}

/// `[A-Za-z_][A-Za-z0-9_.-]*`, at most 64 characters.
fn is_metric_name(s: &str) -> bool {
    let mut b = s.bytes();
    s.len() <= 64
        && b.next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

/// `METRIC NAME opts` (§1.1-5.2).
pub(crate) fn metric(
    ll: &LogicalLine,
    args: usize,
    kw_pos: Pos,
    seen: &Declared<Metric>,
) -> Result<Metric> {
    let mut c = Candidates::default();
    let mut cur = Cursor::new(ll, args);
    let mut opts = OptionSet::new("METRIC", METRIC_OPTIONS);
    let mut name: Option<Option<String>> = None;
    let mut name_late = false;
    let mut first_option: Option<Pos> = None;
    let mut from = Target::Stdout;
    let mut re: Option<Re1> = None;
    let mut mode = MatchMode::Last;
    let (mut rtol, mut atol) = (Number::zero(), Number::zero());
    let (mut min, mut max): (Option<Number>, Option<Number>) = (None, None);
    let mut unit = None;
    let mut report_only = false;
    let mut complete = true;
    while !cur.at_end() {
        if cur.is_option() {
            let Some(mut o) = read_option(&mut cur, &mut c) else {
                complete = false;
                break;
            };
            first_option.get_or_insert(o.pos);
            let Some((opt, true)) = opts.check(&mut c, &o) else {
                continue;
            };
            let Some(v) = o.value.take() else {
                report_only = true;
                continue;
            };
            match opt {
                "--from" => from = checked(&mut c, target(v, TargetUse::From)).unwrap_or(from),
                "--regex" => {
                    let at = v.pos;
                    let r = options::regex(opt, v).and_then(|r| match r.metric_group() {
                        Some(_) => Ok(r),
                        None => Err(err(
                            at,
                            "E379",
                            "METRIC --regex needs a capture group (a group named 'value', or group 1)",
                        )),
                    });
                    re = checked(&mut c, r);
                }
                "--match" => mode = checked(&mut c, match_mode(&v)).unwrap_or(mode),
                "--rtol" => rtol = checked(&mut c, number(opt, &v, true)).unwrap_or(rtol),
                "--atol" => atol = checked(&mut c, number(opt, &v, true)).unwrap_or(atol),
                "--min" => min = checked(&mut c, number(opt, &v, false)),
                "--max" => max = checked(&mut c, number(opt, &v, false)),
                _ => unit = Some(v.value),
            }
        } else {
            let (raw, at) = (cur.raw_word(), cur.pos());
            let extra = name.is_some();
            if extra {
                c.add(
                    Rank::Placement,
                    err(at, "E382", "METRIC takes exactly one NAME"),
                );
            } else if is_metric_name(&raw) {
                name = Some(Some(raw));
                name_late = first_option.is_some();
            } else {
                c.add(
                    Rank::Operand,
                    err(at, "E384", format!("invalid METRIC name '{raw}'")),
                );
                name = Some(None);
            }
            if let Err(d) = cur.word() {
                c.add(Rank::Operand, d);
                complete = false;
                break;
            }
        }
    }
    if complete {
        if name.is_none() || name_late {
            let shown = first_option.unwrap_or(kw_pos);
            c.add_keyed(
                cur.eol(),
                Rank::Missing,
                err(shown, "E381", "METRIC requires a NAME before its options"),
            );
        }
        if opts.first("--regex").is_none() {
            c.add(
                Rank::Regex,
                err(cur.eol(), "E380", "METRIC requires --regex"),
            );
        }
        if let (Some(lo), Some(hi)) = (&min, &max)
            && lo.value() > hi.value()
        {
            let at = opts
                .first("--min")
                .max(opts.first("--max"))
                .expect("both given");
            c.add(Rank::MinMax, err(at, "E377", "--min is greater than --max"));
        }
    }
    let name = name.flatten();
    if let Some(n) = &name {
        duplicate(&mut c, seen, kw_pos, "METRIC", n);
    }
    c.finish()?;
    Ok(Metric {
        name: name.expect("no error, so a name"),
        from,
        regex: re.expect("no error, so --regex"),
        match_mode: mode,
        rtol,
        atol,
        min,
        max,
        unit,
        report_only,
        line: kw_pos.0,
        col: kw_pos.1,
    })
}

/// `EXPECT opts` (§1.1-5.2).
pub(crate) fn expect(ll: &LogicalLine, args: usize, kw_pos: Pos) -> Result<Expect> {
    let mut c = Candidates::default();
    let mut cur = Cursor::new(ll, args);
    let mut opts = OptionSet::new("EXPECT", EXPECT_OPTIONS);
    let mut from = Target::Stdout;
    let mut test: Option<ExpectTest> = None;
    let mut complete = true;
    let both = "EXPECT requires exactly one of --regex and --no-regex";
    while !cur.at_end() {
        if cur.is_option() {
            let Some(mut o) = read_option(&mut cur, &mut c) else {
                complete = false;
                break;
            };
            let other = if o.is("--regex") {
                opts.first("--no-regex")
            } else if o.is("--no-regex") {
                opts.first("--regex")
            } else {
                None
            };
            let checked_name = opts.check(&mut c, &o);
            if other.is_some() {
                c.add(Rank::Regex, err(o.pos, "E380", both));
                continue;
            }
            let Some((opt, true)) = checked_name else {
                continue;
            };
            let v = o.value.take().expect("checked: has a value");
            match opt {
                "--from" => from = checked(&mut c, target(v, TargetUse::From)).unwrap_or(from),
                "--regex" => {
                    test = checked(&mut c, options::regex(opt, v)).map(ExpectTest::Regex);
                }
                _ => test = checked(&mut c, options::regex(opt, v)).map(ExpectTest::NoRegex),
            }
        } else {
            c.add(
                Rank::Placement,
                err(cur.pos(), "E382", "EXPECT takes no operands"),
            );
            if let Err(d) = cur.word() {
                c.add(Rank::Operand, d);
                complete = false;
                break;
            }
        }
    }
    if complete && opts.first("--regex").is_none() && opts.first("--no-regex").is_none() {
        c.add(Rank::Regex, err(cur.eol(), "E380", both));
    }
    c.finish()?;
    Ok(Expect {
        from,
        test: test.expect("no error, so a test"),
        line: kw_pos.0,
        col: kw_pos.1,
    })
}
