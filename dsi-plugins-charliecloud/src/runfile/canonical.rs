//! Canonical form and Runfile digest (RUNFILE.md §6, RUNFILE-1.1 §6), and
//! the JSON encoder it uses (Python's `json.dumps(x, ensure_ascii=False)`).

use sha2::{Digest as _, Sha256};
use std::fmt::Write as _;

use super::lexer::is_forbidden_control;
use super::model::{
    Bind, Compare, Expect, ExpectTest, Form, Instruction, MatchMode, Metric, Output, Runfile,
    Target,
};

/// Append `s` as a JSON string like Python's `json.dumps(s, ensure_ascii=False)`:
/// only `"`, `\` and control characters are escaped, with the short forms
/// `\n \t \r \b \f` and `\u00xx` (lower-case hex) otherwise.
///
/// Deviation: DEL (U+007F), the C1 controls (U+0080–U+009F) and the bidi
/// controls (U+202A–U+202E, U+2066–U+2069) are also escaped (`\u007f`,
/// `\u202e`). Python leaves them raw, but §3.1 (with the RUNFILE-1.1 §1
/// amendment) forbids them in a Runfile, so raw ones would make the canonical
/// form unparsable (and canonicalisation not idempotent).
pub(crate) fn push_json_string(out: &mut String, s: &str) {
    push_python_json_string(out, s, false);
}

/// A JSON string as Python's `json.dumps` writes it: `ensure_ascii=False`
/// escapes only `"`, `\`, control characters (and DEL, see above);
/// `ensure_ascii=True` also escapes every non-ASCII character, as UTF-16
/// code units. Shared with the image module's State ID serialiser.
pub(crate) fn push_python_json_string(out: &mut String, s: &str, ensure_ascii: bool) {
    out.push('"');
    // Runs of printable ASCII other than `"` and `\` are copied whole; the
    // characters between them are looked at one by one.
    let needs_look = |b: &u8| !(0x20..0x7f).contains(b) || *b == b'"' || *b == b'\\';
    let mut rest = s;
    while let Some(at) = rest.as_bytes().iter().position(needs_look) {
        out.push_str(&rest[..at]);
        let c = rest[at..]
            .chars()
            .next()
            .expect("a character starts at `at`");
        rest = &rest[at + c.len_utf8()..];
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20
                || is_forbidden_control(c)
                || (ensure_ascii && (c as u32) > 0x7e) =>
            {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{u:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push_str(rest);
    out.push('"');
}

/// `s` as a JSON string (see [`push_json_string`]).
#[cfg(test)]
pub(crate) fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    push_json_string(&mut out, s);
    out
}

/// A list of strings as `json.dumps(list, ensure_ascii=False)`: `["a", "b"]`.
#[cfg(test)]
pub(crate) fn json_array(items: &[String]) -> String {
    let mut out = String::new();
    push_json_array(&mut out, items);
    out
}

/// Append [`json_array`].
fn push_json_array(out: &mut String, items: &[String]) {
    out.push('[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        push_json_string(out, item);
    }
    out.push(']');
}

/// Whether `s` may be written bare: non-empty and made of
/// `[A-Za-z0-9_./+,=@%~-]` (plus `:` if `colon`), §6 rule 4 and §1.1-6.
pub(crate) fn is_bare(s: &str, colon: bool) -> bool {
    // Every allowed character is ASCII, so a byte of a multi-byte character
    // fails the test like the character would.
    !s.is_empty()
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'_' | b'.' | b'/' | b'+' | b',' | b'=' | b'@' | b'%' | b'~' | b'-'
                )
                || (colon && b == b':')
        })
}

/// Append `s` bare if [`is_bare`], else as a JSON string.
pub(crate) fn push_value(out: &mut String, s: &str, colon: bool) {
    if is_bare(s, colon) {
        out.push_str(s);
    } else {
        push_json_string(out, s);
    }
}

/// A path operand: bare if it consists of `[A-Za-z0-9_./+,=@%~-]` (plus `:`
/// for BIND), else a JSON string (§6 rule 4).
#[cfg(test)]
fn path_operand(p: &str, allow_colon: bool) -> String {
    let mut out = String::new();
    push_value(&mut out, p, allow_colon);
    out
}

/// ` --NAME=VALUE` with the value spelled by §1.1-6.
fn push_option(out: &mut String, name: &str, value: &str) {
    out.push(' ');
    out.push_str(name);
    out.push('=');
    push_value(out, value, false);
}

/// A target as §1.1-6 writes it: `@stdout`, `@stderr`, or the path (with
/// `./` if it begins with `@` or `-`), bare or a JSON string.
fn push_target(out: &mut String, t: &Target) {
    match t {
        Target::Path(p) if p.starts_with(['@', '-']) && !is_bare(p, false) => {
            push_json_string(out, &format!("./{p}"));
        }
        Target::Path(p) if p.starts_with(['@', '-']) => {
            out.push_str("./");
            out.push_str(p);
        }
        Target::Path(p) => push_value(out, p, false),
        Target::Stdout => out.push_str("@stdout"),
        Target::Stderr => out.push_str("@stderr"),
    }
}

/// ` --from=T` unless T is the default `@stdout`.
fn push_from(out: &mut String, t: &Target) {
    if *t != Target::Stdout {
        out.push_str(" --from=");
        push_target(out, t);
    }
}

/// `OUTPUT` with its options in the order of §1.1-5.2, defaults omitted.
fn push_output(out: &mut String, o: &Output) {
    out.push_str("OUTPUT");
    if o.compare != Compare::Exact {
        push_option(out, "--compare", o.compare.as_str());
    }
    if !o.rtol.is_zero() {
        push_option(out, "--rtol", o.rtol.canonical());
    }
    if !o.atol.is_zero() {
        push_option(out, "--atol", o.atol.canonical());
    }
    for r in &o.ignore {
        push_option(out, "--ignore", r.source());
    }
    out.push(' ');
    push_target(out, &o.target);
}

/// `METRIC NAME` with its options in the order of §1.1-5.2, defaults omitted.
fn push_metric(out: &mut String, m: &Metric) {
    out.push_str("METRIC ");
    out.push_str(&m.name);
    push_from(out, &m.from);
    push_option(out, "--regex", m.regex.source());
    if m.match_mode != MatchMode::Last {
        push_option(out, "--match", m.match_mode.as_str());
    }
    if !m.rtol.is_zero() {
        push_option(out, "--rtol", m.rtol.canonical());
    }
    if !m.atol.is_zero() {
        push_option(out, "--atol", m.atol.canonical());
    }
    if let Some(min) = &m.min {
        push_option(out, "--min", min.canonical());
    }
    if let Some(max) = &m.max {
        push_option(out, "--max", max.canonical());
    }
    if let Some(unit) = &m.unit {
        push_option(out, "--unit", unit);
    }
    if m.report_only {
        out.push_str(" --report-only");
    }
}

/// `EXPECT` with `--from` (unless `@stdout`) and its test.
fn push_expect(out: &mut String, e: &Expect) {
    out.push_str("EXPECT");
    push_from(out, &e.from);
    match &e.test {
        ExpectTest::Regex(r) => push_option(out, "--regex", r.source()),
        ExpectTest::NoRegex(r) => push_option(out, "--no-regex", r.source()),
    }
}

fn push_form(out: &mut String, f: &Form) {
    match f {
        Form::Exec(argv) => push_json_array(out, argv),
        Form::Shell(text) => out.push_str(text),
    }
}

impl Runfile {
    /// The canonical form (§6, §1.1-6): one instruction per LF-terminated
    /// line.
    pub fn canonical(&self) -> String {
        self.canonical_text().to_owned()
    }

    /// The canonical text, made once per Runfile.
    fn canonical_text(&self) -> &str {
        self.canonical.0.get_or_init(|| self.make_canonical())
    }

    fn make_canonical(&self) -> String {
        let mut out = String::with_capacity(64 * self.instructions.len());
        for ins in &self.instructions {
            match ins {
                Instruction::From => out.push_str(&self.image.canonical_from()),
                Instruction::Label(k, v) => {
                    out.push_str("LABEL ");
                    out.push_str(k);
                    out.push('=');
                    push_json_string(&mut out, v);
                }
                Instruction::Env(k, v) => {
                    out.push_str("ENV ");
                    out.push_str(k);
                    out.push('=');
                    push_json_string(&mut out, v);
                }
                Instruction::Unsetenv(n) => {
                    out.push_str("UNSETENV ");
                    out.push_str(n);
                }
                Instruction::Passenv(p) => {
                    out.push_str("PASSENV ");
                    out.push_str(p);
                }
                Instruction::Workdir(p) => {
                    out.push_str("WORKDIR ");
                    push_value(&mut out, p, false);
                }
                Instruction::Bind(i) => {
                    let Bind { src, dst, .. } = &self.binds[*i];
                    out.push_str("BIND ");
                    // Both are non-empty: `SRC:DST` is bare iff both are.
                    if is_bare(src, true) && is_bare(dst, true) {
                        out.push_str(src);
                        out.push(':');
                        out.push_str(dst);
                    } else {
                        push_json_string(&mut out, &format!("{src}:{dst}"));
                    }
                }
                Instruction::User(u, g) => {
                    let _ = write!(out, "USER {u}");
                    if let Some(g) = g {
                        let _ = write!(out, ":{g}");
                    }
                }
                Instruction::Shell(v) => {
                    out.push_str("SHELL ");
                    push_json_array(&mut out, v);
                }
                Instruction::Entrypoint(v) => {
                    out.push_str("ENTRYPOINT ");
                    push_json_array(&mut out, v);
                }
                Instruction::Run(f) => {
                    out.push_str("RUN ");
                    push_form(&mut out, f);
                }
                Instruction::Cmd(f) => {
                    out.push_str("CMD ");
                    push_form(&mut out, f);
                }
                Instruction::Launch(None) => out.push_str("LAUNCH []"),
                Instruction::Launch(Some((join, argv))) => {
                    out.push_str(if *join { "LAUNCH --join " } else { "LAUNCH " });
                    push_json_array(&mut out, argv);
                }
                Instruction::Input(i) => {
                    out.push_str("INPUT ");
                    push_value(&mut out, &self.inputs[*i].path, false);
                }
                Instruction::Output(i) => push_output(&mut out, &self.outputs[*i]),
                Instruction::Metric(i) => push_metric(&mut out, &self.metrics[*i]),
                Instruction::Expect(i) => push_expect(&mut out, &self.expects[*i]),
            }
            out.push('\n');
        }
        out
    }

    /// The Runfile digest: `runfile1+sha256:` + hex SHA-256 of the canonical
    /// bytes (§6).
    pub fn digest(&self) -> String {
        format!(
            "runfile1+sha256:{}",
            hex::encode(Sha256::digest(self.canonical_text().as_bytes()))
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_json_dumps() {
        assert_eq!(
            json_string("a\"b\\c\n\t\r\u{8}\u{c}\u{1}\u{1f}é\u{7f}/"),
            r#""a\"b\\c\n\t\r\b\f\u0001\u001fé\u007f/""#
        );
        assert_eq!(json_array(&["a".into(), "b c".into()]), r#"["a", "b c"]"#);
        assert_eq!(json_array(&[]), "[]");
    }

    #[test]
    fn the_digest_hashes_the_canonical_text_made_once() {
        let src = format!(
            "FROM 127.0.0.1:5000/rf-base@sha256:{}\nENV A=1\nCMD true\n",
            "1".repeat(64)
        );
        let rf = super::super::parse(src.as_bytes()).expect("valid").runfile;
        let text = rf.canonical();
        assert_eq!(rf.canonical(), text);
        assert_eq!(
            rf.digest(),
            format!(
                "runfile1+sha256:{}",
                hex::encode(Sha256::digest(text.as_bytes()))
            )
        );
        // Positions do not enter the text: a copy without them keeps it.
        assert_eq!(rf.without_positions().canonical(), text);
        assert_eq!(rf.without_positions(), rf.without_positions());
    }

    #[test]
    fn path_operands() {
        assert_eq!(path_operand("/opt/app", false), "/opt/app");
        assert_eq!(
            path_operand("data dir:/mnt/0", true),
            r#""data dir:/mnt/0""#
        );
        assert_eq!(path_operand("a:/b", false), r#""a:/b""#);
    }
}
