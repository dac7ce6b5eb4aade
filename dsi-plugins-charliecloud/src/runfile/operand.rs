//! Operands shared by the instructions: values and path tokens (bare or JSON
//! string, RUNFILE.md §4), HWS-separated words, path normalisation and the
//! JSON exec form with its E341 messages.

use std::borrow::Cow;

use super::diagnostic::Diagnostic;
use super::json::{self, JsonError, StrError, Value};
use super::lexer::{LogicalLine, Pos, is_hws};

pub(crate) type Result<T, E = Diagnostic> = std::result::Result<T, E>;

/// An error at `pos`.
pub(crate) fn err(pos: Pos, code: &'static str, message: impl Into<String>) -> Diagnostic {
    Diagnostic::error(pos.0, pos.1, code, message)
}

/// A decoded value operand with the position of its first character.
#[derive(Debug)]
pub(crate) struct Operand {
    /// The value (a JSON string decoded).
    pub(crate) value: String,
    /// Position of the first character of the token.
    pub(crate) pos: Pos,
}

/// Normalise a path (§4): drop empty and `.` components (`""` becomes `.`);
/// `Err` if a component is `..`. A path that is already normal is returned
/// as it is.
pub(crate) fn normalise_path(p: &str) -> Result<Cow<'_, str>, ()> {
    if is_normal_path(p) {
        return Ok(Cow::Borrowed(p));
    }
    let absolute = p.starts_with('/');
    let mut out = String::with_capacity(p.len());
    for c in p.split('/').filter(|c| !c.is_empty() && *c != ".") {
        if c == ".." {
            return Err(());
        }
        if absolute || !out.is_empty() {
            out.push('/');
        }
        out.push_str(c);
    }
    if out.is_empty() {
        out.push_str(if absolute { "/" } else { "." });
    }
    Ok(Cow::Owned(out))
}

/// Whether `p` is already normal (most paths are): no empty, `.` or `..`
/// component, not `/` alone.
pub(crate) fn is_normal_path(p: &str) -> bool {
    let rest = p.strip_prefix('/').unwrap_or(p).as_bytes();
    !rest.is_empty()
        && rest
            .split(|&b| b == b'/')
            .all(|c| !c.is_empty() && c != b"." && c != b"..")
}

/// The HWS-separated words starting at `i`, as `(start, end)` indices.
pub(crate) fn words(ll: &LogicalLine, mut i: usize) -> Vec<(usize, usize)> {
    let n = ll.chars.len();
    let mut out = Vec::new();
    i = ll.skip_hws(i);
    while i < n {
        let s = i;
        i = word_end(ll, i);
        out.push((s, i));
        i = ll.skip_hws(i);
    }
    out
}

/// The index of the first HWS at or after `i` (or the end of the line).
pub(crate) fn word_end(ll: &LogicalLine, mut i: usize) -> usize {
    while i < ll.chars.len() && !is_hws(ll.chars[i]) {
        i += 1;
    }
    i
}

/// `bare? | json-string` at `i` (a `value` or `path-token`); returns the
/// operand and the index after it, which is HWS or the end of the line.
pub(crate) fn value_operand(ll: &LogicalLine, i: usize) -> Result<(Operand, usize)> {
    let pos = ll.at(i);
    let n = ll.chars.len();
    if ll.chars.get(i) == Some(&'"') {
        let (value, next) = json::parse_string(&ll.chars, i).map_err(|e| match e {
            StrError::Unterminated(at) => err(ll.at(at), "E257", "unterminated string"),
            StrError::BadEscape(at) | StrError::BadUnicode(at) => {
                err(ll.at(at), "E256", "invalid escape in JSON string")
            }
            StrError::LoneSurrogate(at) => {
                err(ll.at(at), "E256", "invalid \\u escape: lone surrogate")
            }
            // Decision: a raw TAB inside a JSON string (not allowed by RFC
            // 8259) is reported as E256, the closest code of §10.
            StrError::Control(at) => err(
                ll.at(at),
                "E256",
                "TAB inside a JSON string must be written \\t",
            ),
            StrError::Nul(at) => err(ll.at(at), "E259", "NUL (\\u0000) not allowed in a string"),
        })?;
        if next < n && !is_hws(ll.chars[next]) {
            return Err(err(
                ll.at(next),
                "E258",
                "whitespace expected after a quoted string",
            ));
        }
        return Ok((Operand { value, pos }, next));
    }
    let mut j = i;
    while j < n && !is_hws(ll.chars[j]) {
        let (code, msg) = match ll.chars[j] {
            '\'' => ("E253", "single quotes are not supported"),
            '\\' => (
                "E254",
                "backslash not allowed in a bare value; use a JSON string",
            ),
            '"' => (
                "E255",
                "'\"' not allowed inside a bare word; use a JSON string",
            ),
            _ => {
                j += 1;
                continue;
            }
        };
        return Err(err(ll.at(j), code, msg));
    }
    Ok((
        Operand {
            value: ll.text(i, j),
            pos,
        },
        j,
    ))
}

/// The JSON text making up the rest of the line from `args` (E341, E259).
pub(crate) fn json_rest(ll: &LogicalLine, args: usize) -> Result<Value> {
    let rest = ll.chars.get(args..).unwrap_or_default();
    json::parse_document(rest).map_err(|e| match e {
        JsonError::Syntax(msg, at) => err(
            ll.at(args + at),
            "E341",
            format!("invalid JSON exec form: {msg}"),
        ),
        JsonError::Str(s) => {
            let (msg, at) = match s {
                StrError::Nul(at) => {
                    return err(
                        ll.at(args + at),
                        "E259",
                        "NUL (\\u0000) not allowed in a string",
                    );
                }
                StrError::Unterminated(at) => ("Unterminated string starting at", at),
                StrError::BadEscape(at) => ("Invalid \\escape", at),
                StrError::BadUnicode(at) => ("Invalid \\uXXXX escape", at),
                StrError::LoneSurrogate(at) => ("Invalid \\uXXXX escape (lone surrogate)", at),
                StrError::Control(at) => ("Invalid control character at", at),
            };
            err(
                ll.at(args + at),
                "E341",
                format!("invalid JSON exec form: {msg}"),
            )
        }
    })
}

/// The strings of a JSON array, or `None` if `value` is not an array of
/// strings.
pub(crate) fn string_array(value: Value) -> Option<Vec<String>> {
    let Value::Array(items) = value else {
        return None;
    };
    items
        .into_iter()
        .map(|item| match item {
            Value::Str(s) => Some(s),
            _ => None,
        })
        .collect()
}

/// The JSON exec form of RUN/CMD/SHELL/ENTRYPOINT making up the rest of the
/// line from `args` (`[`): a non-empty array of strings, the first non-empty.
pub(crate) fn exec_form(ll: &LogicalLine, args: usize, kw: &str) -> Result<Vec<String>> {
    let value = json_rest(ll, args)?;
    let not_strings = || {
        err(
            ll.at(args),
            "E342",
            format!("{kw} exec form must be a non-empty JSON array of strings"),
        )
    };
    let argv = string_array(value).ok_or_else(not_strings)?;
    match argv.first() {
        None => Err(not_strings()),
        Some(first) if first.is_empty() => Err(err(
            ll.at(args),
            "E343",
            format!("{kw} exec form: the first element must not be empty"),
        )),
        Some(_) => Ok(argv),
    }
}

#[cfg(test)]
mod tests {
    use super::normalise_path;

    #[test]
    fn normalisation() {
        assert_eq!(normalise_path("./a//b/."), Ok("a/b".into()));
        assert_eq!(normalise_path("/./"), Ok("/".into()));
        assert_eq!(normalise_path("./"), Ok(".".into()));
        assert_eq!(normalise_path("//a/./b//"), Ok("/a/b".into()));
        assert_eq!(normalise_path("a/../b"), Err(()));
    }
}
