//! Canonical form and Runfile digest (RUNFILE.md §6, RUNFILE-1.1 §6), and
//! the JSON encoder it uses (Python's `json.dumps(x, ensure_ascii=False)`).

use sha2::{Digest as _, Sha256};
use std::fmt::Write as _;

use super::lexer::is_forbidden_control;
use super::model::{
    Compare, Expect, ExpectTest, Form, Instruction, MatchMode, Metric, Output, Runfile, Target,
};
use super::options::value_spelling;

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
    for c in s.chars() {
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
    out.push('"');
}

/// `s` as a JSON string (see [`push_json_string`]).
pub(crate) fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    push_json_string(&mut out, s);
    out
}

/// A list of strings as `json.dumps(list, ensure_ascii=False)`: `["a", "b"]`.
pub(crate) fn json_array(items: &[String]) -> String {
    let mut out = String::from("[");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        push_json_string(&mut out, item);
    }
    out.push(']');
    out
}

/// A path operand: bare if it consists of `[A-Za-z0-9_./+,=@%~-]` (plus `:`
/// for BIND), else a JSON string (§6 rule 4).
fn path_operand(p: &str, allow_colon: bool) -> String {
    let bare = !p.is_empty()
        && p.chars().all(|c| {
            c.is_ascii_alphanumeric()
                || matches!(c, '_' | '.' | '/' | '+' | ',' | '=' | '@' | '%' | '~' | '-')
                || (allow_colon && c == ':')
        });
    if bare { p.to_owned() } else { json_string(p) }
}

/// ` --NAME=VALUE` with the value spelled by §1.1-6.
fn push_option(out: &mut String, name: &str, value: &str) {
    out.push(' ');
    out.push_str(name);
    out.push('=');
    out.push_str(&value_spelling(value));
}

/// `OUTPUT` with its options in the order of §1.1-5.2, defaults omitted.
fn output_line(o: &Output) -> String {
    let mut out = String::from("OUTPUT");
    if o.compare != Compare::Exact {
        push_option(&mut out, "--compare", o.compare.as_str());
    }
    if !o.rtol.is_zero() {
        push_option(&mut out, "--rtol", o.rtol.canonical());
    }
    if !o.atol.is_zero() {
        push_option(&mut out, "--atol", o.atol.canonical());
    }
    for r in &o.ignore {
        push_option(&mut out, "--ignore", r.source());
    }
    out.push(' ');
    out.push_str(&value_spelling(&o.target.spelling()));
    out
}

/// `METRIC NAME` with its options in the order of §1.1-5.2, defaults omitted.
fn metric_line(m: &Metric) -> String {
    let mut out = format!("METRIC {}", m.name);
    if m.from != Target::Stdout {
        push_option(&mut out, "--from", &m.from.spelling());
    }
    push_option(&mut out, "--regex", m.regex.source());
    if m.match_mode != MatchMode::Last {
        push_option(&mut out, "--match", m.match_mode.as_str());
    }
    if !m.rtol.is_zero() {
        push_option(&mut out, "--rtol", m.rtol.canonical());
    }
    if !m.atol.is_zero() {
        push_option(&mut out, "--atol", m.atol.canonical());
    }
    if let Some(min) = &m.min {
        push_option(&mut out, "--min", min.canonical());
    }
    if let Some(max) = &m.max {
        push_option(&mut out, "--max", max.canonical());
    }
    if let Some(unit) = &m.unit {
        push_option(&mut out, "--unit", unit);
    }
    if m.report_only {
        out.push_str(" --report-only");
    }
    out
}

/// `EXPECT` with `--from` (unless `@stdout`) and its test.
fn expect_line(e: &Expect) -> String {
    let mut out = String::from("EXPECT");
    if e.from != Target::Stdout {
        push_option(&mut out, "--from", &e.from.spelling());
    }
    match &e.test {
        ExpectTest::Regex(r) => push_option(&mut out, "--regex", r.source()),
        ExpectTest::NoRegex(r) => push_option(&mut out, "--no-regex", r.source()),
    }
    out
}

fn form(f: &Form) -> String {
    match f {
        Form::Exec(argv) => json_array(argv),
        Form::Shell(text) => text.clone(),
    }
}

impl Runfile {
    /// The canonical form (§6): one instruction per LF-terminated line.
    pub fn canonical(&self) -> String {
        let mut out = String::new();
        for ins in &self.instructions {
            let line = match ins {
                Instruction::From => self.image.canonical_from(),
                Instruction::Label(k, v) => format!("LABEL {k}={}", json_string(v)),
                Instruction::Env(k, v) => format!("ENV {k}={}", json_string(v)),
                Instruction::Unsetenv(n) => format!("UNSETENV {n}"),
                Instruction::Passenv(p) => format!("PASSENV {p}"),
                Instruction::Workdir(p) => format!("WORKDIR {}", path_operand(p, false)),
                Instruction::Bind(s, d) => {
                    format!("BIND {}", path_operand(&format!("{s}:{d}"), true))
                }
                Instruction::User(u, None) => format!("USER {u}"),
                Instruction::User(u, Some(g)) => format!("USER {u}:{g}"),
                Instruction::Shell(v) => format!("SHELL {}", json_array(v)),
                Instruction::Entrypoint(v) => format!("ENTRYPOINT {}", json_array(v)),
                Instruction::Run(f) => format!("RUN {}", form(f)),
                Instruction::Cmd(f) => format!("CMD {}", form(f)),
                Instruction::Launch(None) => "LAUNCH []".to_owned(),
                Instruction::Launch(Some((join, argv))) => format!(
                    "LAUNCH {}{}",
                    if *join { "--join " } else { "" },
                    json_array(argv)
                ),
                Instruction::Input(i) => {
                    format!("INPUT {}", path_operand(&self.inputs[*i].path, false))
                }
                Instruction::Output(i) => output_line(&self.outputs[*i]),
                Instruction::Metric(i) => metric_line(&self.metrics[*i]),
                Instruction::Expect(i) => expect_line(&self.expects[*i]),
            };
            out.push_str(&line);
            out.push('\n');
        }
        out
    }

    /// The Runfile digest: `runfile1+sha256:` + hex SHA-256 of the canonical
    /// bytes (§6).
    pub fn digest(&self) -> String {
        format!(
            "runfile1+sha256:{}",
            hex::encode(Sha256::digest(self.canonical().as_bytes()))
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
    fn path_operands() {
        assert_eq!(path_operand("/opt/app", false), "/opt/app");
        assert_eq!(
            path_operand("data dir:/mnt/0", true),
            r#""data dir:/mnt/0""#
        );
        assert_eq!(path_operand("a:/b", false), r#""a:/b""#);
    }
}
