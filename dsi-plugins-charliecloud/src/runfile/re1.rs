//! RE1 (RUNFILE-1.1 §5.3): the regular-expression subset that means the same
//! in Python `re` (with `re.ASCII`) and in the Rust `regex` crate, checked
//! statically, and its translation to the crate's syntax.
//!
//! ```text
//! re     ::= branch ('|' branch)*
//! branch ::= (('^' | '$') | atom quant?)*
//! quant  ::= ('*' | '+' | '?' | '{' INT (',' INT?)? '}') '?'?
//! atom   ::= lit | '.' | '\' (META | 't' | [dDwWsS]) | class
//!          | '(' ('?:' | '?P<' [A-Za-z_][A-Za-z0-9_]{0,31} '>')? re ')'
//! class  ::= '[' '^'? (citem ('-' citem)? | '\' [dDwWsS])+ ']'
//! citem  ::= [^\[\]&~-] | '\' (META | 't')
//! lit    ::= [^\.*+?()[\]{}|^$]
//! META   ::= [\.*+?()[\]{}|^$/&~-]
//! ```
//!
//! Reading of the character sets (a deviation from the letter of the
//! grammar, which uses `\` both as an escape and as a member): `\` is a
//! member of the `lit` and `citem` exclusions (a backslash always starts an
//! escape) and of `META`, so `\\` is a literal backslash, as in both
//! dialects.
//!
//! Limits: at most 1000 characters, 32 nested groups, INT ≤ 1000 with n ≤ m,
//! unique group names and a weight ≤ 1000 (a class weighs its item count,
//! any other atom 1, the anchors `^`/`$` — not atoms in the grammar — 0; a
//! quantifier multiplies by 1 for `*`/`?`, 2 for `+`, n for `{n}`, n+1 for
//! `{n,}` and m for `{n,m}`). Only `?`, `??`, `{n}` and `{n}?` may repeat an
//! expression that can match the empty string.
//!
//! Errors are `(character, reason)` with the spec's reasons; the character
//! counts decoded characters from 1 and the first problem met by the
//! left-to-right scan wins (`missing ')'` is met at the end of the
//! expression and reported at its `(`). Group errors (`unsupported group`,
//! `bad group name`, `duplicate group name`, `groups nested too deeply`) are
//! reported at the `(`; `bad range` at the first character of the range.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::OnceLock;

/// Longest expression, in characters.
const MAX_CHARS: usize = 1000;
/// Deepest group nesting.
const MAX_DEPTH: usize = 32;
/// Largest INT of a counted repetition, and largest weight.
const MAX_COUNT: u64 = 1000;
/// Longest group name.
const MAX_NAME: usize = 32;

/// A valid RE1 expression: its source text, its translation to the `regex`
/// crate's syntax and the crate's [`regex::Regex`] (both made on first use:
/// parsing a Runfile only validates).
///
/// Every RE1-valid expression compiles under the crate's default size limit
/// (tested with generated expressions and the worst cases at weight 1000).
/// Equality and hashing use the source text only.
#[derive(Clone, Debug)]
pub struct Re1 {
    source: String,
    capture_groups: usize,
    value_group: bool,
    translated: OnceLock<String>,
    compiled: OnceLock<regex::Regex>,
}

/// Why an expression is not RE1: E378's `at character N: REASON`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Re1Error {
    /// 1-based index of the offending character (decoded characters).
    pub position: usize,
    /// The reason, e.g. `missing ')'`.
    pub reason: String,
}

impl fmt::Display for Re1Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at character {}: {}", self.position, self.reason)
    }
}

impl std::error::Error for Re1Error {}

impl Re1 {
    /// Validate `source` as RE1.
    pub fn new(source: &str) -> Result<Re1, Re1Error> {
        Re1::from_string(source.to_owned())
    }

    /// [`Re1::new`] without copying the text.
    pub(crate) fn from_string(source: String) -> Result<Re1, Re1Error> {
        let scan = scan(&source, false)?;
        Ok(Re1 {
            source,
            capture_groups: scan.capture_groups,
            value_group: scan.value_group,
            translated: OnceLock::new(),
            compiled: OnceLock::new(),
        })
    }

    /// The expression as written in the Runfile (decoded).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The expression in the `regex` crate's syntax (`\d` → `[0-9]`, …),
    /// made on first use.
    pub fn translated(&self) -> &str {
        self.translated.get_or_init(|| {
            scan(&self.source, true)
                .ok()
                .and_then(|s| s.translated)
                .expect("a valid expression scans again")
        })
    }

    /// Number of capturing groups (plain and named).
    pub fn capture_groups(&self) -> usize {
        self.capture_groups
    }

    /// Whether a group is named `value`.
    pub fn has_value_group(&self) -> bool {
        self.value_group
    }

    /// The group a METRIC takes its value from (§1.1-5.6): `value` if named,
    /// else group 1; `None` without capturing groups (E379).
    pub fn metric_group(&self) -> Option<MetricGroup> {
        if self.value_group {
            Some(MetricGroup::Value)
        } else if self.capture_groups > 0 {
            Some(MetricGroup::First)
        } else {
            None
        }
    }

    /// Compile [`Re1::translated`] with the crate's defaults.
    pub fn compile(&self) -> Result<regex::Regex, regex::Error> {
        regex::Regex::new(self.translated())
    }

    /// The compiled expression, compiled on first use and kept.
    ///
    /// # Panics
    ///
    /// Never for an expression accepted by [`Re1::new`]: they all compile
    /// under the default size limit (see the type's documentation).
    pub fn regex(&self) -> &regex::Regex {
        self.compiled.get_or_init(|| {
            self.compile()
                .expect("every RE1-valid expression compiles (tested in runfile_props)")
        })
    }
}

/// What a successful scan found; `translated` only if asked for.
struct Scanned {
    capture_groups: usize,
    value_group: bool,
    translated: Option<String>,
}

/// Validate `source` (and translate it if `translate`).
fn scan(source: &str, translate: bool) -> Result<Scanned, Re1Error> {
    let chars = super::lexer::chars_of(source);
    if chars.len() > MAX_CHARS {
        return Err(Re1Error {
            position: 1,
            reason: format!("longer than {MAX_CHARS} characters"),
        });
    }
    let mut p = Scanner {
        c: &chars,
        i: 0,
        out: Out(translate.then(|| String::with_capacity(source.len() + 8))),
        depth: 0,
        names: Vec::new(),
        capture_groups: 0,
    };
    let node = p.re()?;
    debug_assert_eq!(p.i, chars.len(), "the top-level scan consumes everything");
    if node.weight > MAX_COUNT {
        return Err(Re1Error {
            position: 1,
            reason: format!("too large (weight {} > {MAX_COUNT})", node.weight),
        });
    }
    Ok(Scanned {
        value_group: p
            .names
            .iter()
            .any(|n| n.iter().copied().eq("value".chars())),
        capture_groups: p.capture_groups,
        translated: p.out.0,
    })
}

/// Which capture group a METRIC reads (§1.1-5.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MetricGroup {
    /// The group named `value`.
    Value,
    /// Group 1.
    First,
}

impl PartialEq for Re1 {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Eq for Re1 {}

impl Hash for Re1 {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.source.hash(state);
    }
}

/// Displays the source text.
impl fmt::Display for Re1 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// What the scan knows about a parsed piece.
#[derive(Clone, Copy)]
struct Node {
    weight: u64,
    nullable: bool,
}

/// `META`: the characters that may follow `\` as themselves.
fn is_meta(c: char) -> bool {
    matches!(
        c,
        '\\' | '.'
            | '*'
            | '+'
            | '?'
            | '('
            | ')'
            | '['
            | ']'
            | '{'
            | '}'
            | '|'
            | '^'
            | '$'
            | '/'
            | '&'
            | '~'
            | '-'
    )
}

/// The characters the `regex` crate treats as meta characters
/// (`regex_syntax::is_meta_character`); they are escaped in the translation.
fn is_rust_meta(c: char) -> bool {
    matches!(
        c,
        '\\' | '.'
            | '+'
            | '*'
            | '?'
            | '('
            | ')'
            | '|'
            | '['
            | ']'
            | '{'
            | '}'
            | '^'
            | '$'
            | '#'
            | '&'
            | '-'
            | '~'
    )
}

/// The translation of a class escape outside a class.
fn class_escape(c: char) -> &'static str {
    match c {
        'd' => "[0-9]",
        'D' => "[^0-9]",
        'w' => "[0-9A-Za-z_]",
        'W' => "[^0-9A-Za-z_]",
        's' => "[\\t\\n\\x0B\\x0C\\r ]",
        _ => "[^\\t\\n\\x0B\\x0C\\r ]",
    }
}

/// The translation of a class escape inside a class: positive forms are
/// spliced, negative ones nested.
fn class_escape_in_class(c: char) -> &'static str {
    match c {
        'd' => "0-9",
        'w' => "0-9A-Za-z_",
        's' => "\\t\\n\\x0B\\x0C\\r ",
        _ => class_escape(c),
    }
}

/// The translation being written, or nothing when only validating.
struct Out(Option<String>);

impl Out {
    fn push(&mut self, c: char) {
        if let Some(o) = &mut self.0 {
            o.push(c);
        }
    }

    fn push_str(&mut self, s: &str) {
        if let Some(o) = &mut self.0 {
            o.push_str(s);
        }
    }

    fn number(&mut self, n: u64) {
        if let Some(o) = &mut self.0 {
            o.push_str(&n.to_string());
        }
    }

    /// A literal character, escaped if it is a `regex` meta character.
    fn literal(&mut self, c: char) {
        if let Some(o) = &mut self.0 {
            if c == '\t' {
                o.push_str("\\t");
                return;
            }
            if is_rust_meta(c) {
                o.push('\\');
            }
            o.push(c);
        }
    }
}

struct Scanner<'a> {
    c: &'a [char],
    i: usize,
    out: Out,
    depth: usize,
    names: Vec<&'a [char]>,
    capture_groups: usize,
}

type Scan<T> = Result<T, Re1Error>;

fn fail<T>(at: usize, reason: impl Into<String>) -> Scan<T> {
    Err(Re1Error {
        position: at + 1,
        reason: reason.into(),
    })
}

impl Scanner<'_> {
    fn peek(&self) -> Option<char> {
        self.c.get(self.i).copied()
    }

    fn peek_at(&self, k: usize) -> Option<char> {
        self.c.get(self.i + k).copied()
    }

    fn re(&mut self) -> Scan<Node> {
        let mut node = self.branch()?;
        while self.peek() == Some('|') {
            self.i += 1;
            self.out.push('|');
            let b = self.branch()?;
            node.weight = node.weight.saturating_add(b.weight);
            node.nullable |= b.nullable;
        }
        Ok(node)
    }

    fn branch(&mut self) -> Scan<Node> {
        let mut node = Node {
            weight: 0,
            nullable: true,
        };
        while let Some(c) = self.peek() {
            match c {
                '|' => break,
                ')' if self.depth == 0 => return fail(self.i, "unbalanced ')'"),
                ')' => break,
                '^' | '$' => {
                    self.out.push(c);
                    self.i += 1;
                }
                '*' | '+' | '?' => return fail(self.i, "nothing to repeat"),
                '{' if self.counted_repetition_at(self.i).is_some() => {
                    return fail(self.i, "nothing to repeat");
                }
                _ => {
                    let atom = self.atom()?;
                    let piece = self.quantified(atom)?;
                    node.weight = node.weight.saturating_add(piece.weight);
                    node.nullable &= piece.nullable;
                }
            }
        }
        Ok(node)
    }

    /// `{n}`, `{n,}` or `{n,m}` at `at` as `(n, m, end)` with `m = None` for
    /// `{n,}` and `m = Some(n)` for `{n}`; `end` is the index after `}`.
    /// The values saturate; the caller checks the limits.
    fn counted_repetition_at(&self, at: usize) -> Option<(u64, Option<u64>, bool, usize)> {
        let mut j = at + 1;
        let int = |j: &mut usize| {
            let start = *j;
            let mut v: u64 = 0;
            while let Some(d) = self.c.get(*j).and_then(|c| c.to_digit(10)) {
                v = v.saturating_mul(10).saturating_add(u64::from(d));
                *j += 1;
            }
            (*j > start).then_some(v)
        };
        let n = int(&mut j)?;
        let (m, exact) = if self.c.get(j) == Some(&',') {
            j += 1;
            (int(&mut j), false)
        } else {
            (Some(n), true)
        };
        (self.c.get(j) == Some(&'}')).then_some((n, m, exact, j + 1))
    }

    fn atom(&mut self) -> Scan<Node> {
        let at = self.i;
        let c = self.c[at];
        let one = Node {
            weight: 1,
            nullable: false,
        };
        match c {
            '.' => {
                self.out.push('.');
                self.i += 1;
                Ok(one)
            }
            '\\' => {
                let Some(e) = self.peek_at(1) else {
                    return fail(at, "trailing backslash");
                };
                match e {
                    't' => self.out.push_str("\\t"),
                    'd' | 'D' | 'w' | 'W' | 's' | 'S' => self.out.push_str(class_escape(e)),
                    e if is_meta(e) => self.out.literal(e),
                    e => return fail(at, format!("unsupported escape '\\{e}'")),
                }
                self.i += 2;
                Ok(one)
            }
            '[' => self.class(),
            '(' => self.group(),
            // `{` that is no counted repetition, and `]`, `}`: not `lit`.
            '{' | '}' | ']' => fail(at, format!("unescaped '{c}'")),
            c => {
                self.out.literal(c);
                self.i += 1;
                Ok(one)
            }
        }
    }

    /// An optional quantifier after `atom`.
    fn quantified(&mut self, atom: Node) -> Scan<Node> {
        let at = self.i;
        // (factor, nullable after, may repeat a nullable expression)
        let (factor, nullable, allows_empty) = match self.peek() {
            Some('*') => {
                self.i += 1;
                (1, true, false)
            }
            Some('+') => {
                self.i += 1;
                (2, atom.nullable, false)
            }
            Some('?') => {
                self.i += 1;
                (1, true, true)
            }
            Some('{') => {
                let Some((n, m, exact, end)) = self.counted_repetition_at(at) else {
                    return fail(at, "bad repetition");
                };
                if n > MAX_COUNT || m.is_some_and(|m| m > MAX_COUNT || n > m) {
                    return fail(at, "bad repetition");
                }
                self.i = end;
                let factor = match m {
                    None => n + 1,
                    Some(m) => m,
                };
                (factor, n == 0 || atom.nullable, exact)
            }
            _ => return Ok(atom),
        };
        if atom.nullable && !allows_empty {
            return fail(at, "repeated expression can match the empty string");
        }
        // Normalised spelling of the quantifier (INT without leading zeros).
        match self.c[at] {
            '{' => {
                let (n, m, exact, _) = self.counted_repetition_at(at).expect("checked just above");
                self.out.push('{');
                self.out.number(n);
                if !exact {
                    self.out.push(',');
                    if let Some(m) = m {
                        self.out.number(m);
                    }
                }
                self.out.push('}');
            }
            q => self.out.push(q),
        }
        if self.peek() == Some('?') {
            self.i += 1;
            self.out.push('?');
        }
        Ok(Node {
            weight: atom.weight.saturating_mul(factor),
            nullable,
        })
    }

    fn group(&mut self) -> Scan<Node> {
        let at = self.i;
        if self.depth == MAX_DEPTH {
            return fail(at, "groups nested too deeply");
        }
        self.i += 1;
        if self.peek() == Some('?') {
            match (self.peek_at(1), self.peek_at(2)) {
                (Some(':'), _) => {
                    self.i += 2;
                    self.out.push_str("(?:");
                }
                (Some('P'), Some('<')) => {
                    self.i += 3;
                    let start = self.i;
                    while self.peek().is_some_and(|c| c != '>') {
                        self.i += 1;
                    }
                    let name = &self.c[start..self.i];
                    let valid = self.peek() == Some('>')
                        && name.len() <= MAX_NAME
                        && name
                            .first()
                            .is_some_and(|c| c.is_ascii_alphabetic() || *c == '_')
                        && name.iter().all(|c| c.is_ascii_alphanumeric() || *c == '_');
                    if !valid {
                        return fail(at, "bad group name");
                    }
                    if self.names.contains(&name) {
                        let name: String = name.iter().collect();
                        return fail(at, format!("duplicate group name '{name}'"));
                    }
                    self.i += 1;
                    self.out.push_str("(?P<");
                    for &c in name {
                        self.out.push(c);
                    }
                    self.out.push('>');
                    self.names.push(name);
                    self.capture_groups += 1;
                }
                (x, y) => {
                    // `(?X`; for `(?P` not followed by `<`, X includes the
                    // next character (`(?P=`).
                    let mut shown = String::from("(?");
                    shown.extend(x);
                    if x == Some('P') {
                        shown.extend(y);
                    }
                    return fail(at, format!("unsupported group '{shown}'"));
                }
            }
        } else {
            self.out.push('(');
            self.capture_groups += 1;
        }
        self.depth += 1;
        let inner = self.re()?;
        self.depth -= 1;
        if self.peek() != Some(')') {
            return fail(at, "missing ')'");
        }
        self.i += 1;
        self.out.push(')');
        Ok(inner)
    }

    fn class(&mut self) -> Scan<Node> {
        let at = self.i;
        self.i += 1;
        self.out.push('[');
        if self.peek() == Some('^') {
            self.i += 1;
            self.out.push('^');
        }
        let mut items: u64 = 0;
        loop {
            let item_at = self.i;
            let Some(c) = self.peek() else {
                return fail(at, "unterminated character class");
            };
            if c == ']' {
                if items == 0 {
                    return fail(at, "empty character class");
                }
                self.i += 1;
                self.out.push(']');
                return Ok(Node {
                    weight: items,
                    nullable: false,
                });
            }
            if c == '\\' && matches!(self.peek_at(1), Some('d' | 'D' | 'w' | 'W' | 's' | 'S')) {
                let e = self.c[self.i + 1];
                self.out.push_str(class_escape_in_class(e));
                self.i += 2;
                items += 1;
                continue;
            }
            let lo = self.class_char(at)?;
            if self.peek() == Some('-') && self.peek_at(1).is_some_and(|c| c != ']') {
                self.i += 1;
                if self.peek() == Some('\\')
                    && matches!(self.peek_at(1), Some('d' | 'D' | 'w' | 'W' | 's' | 'S'))
                {
                    return fail(item_at, "bad range");
                }
                let hi = self.class_char(at)?;
                if lo > hi {
                    return fail(item_at, "bad range");
                }
                self.out.literal(lo);
                self.out.push('-');
                self.out.literal(hi);
            } else {
                self.out.literal(lo);
            }
            items += 1;
        }
    }

    /// One `citem` character at the current index (not `]`, not a class
    /// escape); `class_at` is the `[` for an unterminated class.
    fn class_char(&mut self, class_at: usize) -> Scan<char> {
        let at = self.i;
        let Some(c) = self.peek() else {
            return fail(class_at, "unterminated character class");
        };
        match c {
            '\\' => {
                let Some(e) = self.peek_at(1) else {
                    return fail(at, "trailing backslash");
                };
                let lit = match e {
                    't' => '\t',
                    e if is_meta(e) => e,
                    e => return fail(at, format!("unsupported escape '\\{e}'")),
                };
                self.i += 2;
                Ok(lit)
            }
            '[' | ']' | '&' | '~' | '-' => fail(at, format!("unescaped '{c}'")),
            c => {
                self.i += 1;
                Ok(c)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(s: &str) -> String {
        Re1::new(s).map(|r| r.source).unwrap_err().to_string()
    }

    fn tr(s: &str) -> String {
        match Re1::new(s) {
            Ok(r) => r.translated().to_owned(),
            Err(e) => panic!("{s}: {e}"),
        }
    }

    #[test]
    fn spec_errors() {
        assert_eq!(err("E = (\\S+"), "at character 5: missing ')'");
        assert_eq!(
            err("(?P<value>[0-9]*)+"),
            "at character 18: repeated expression can match the empty string"
        );
        assert_eq!(
            err("(?<value>\\S+)"),
            "at character 1: unsupported group '(?<'"
        );
    }

    #[test]
    fn every_reason() {
        for (re, want) in [
            ("a)", "at character 2: unbalanced ')'"),
            ("(a(b", "at character 3: missing ')'"),
            ("a[bc", "at character 2: unterminated character class"),
            ("[]a]", "at character 1: empty character class"),
            ("[^]", "at character 1: empty character class"),
            ("[z-a]", "at character 2: bad range"),
            ("[a-\\d]", "at character 2: bad range"),
            ("*a", "at character 1: nothing to repeat"),
            ("a|+", "at character 3: nothing to repeat"),
            ("^*", "at character 2: nothing to repeat"),
            ("a**", "at character 3: nothing to repeat"),
            ("a{2}{3}", "at character 5: nothing to repeat"),
            ("{2}", "at character 1: nothing to repeat"),
            ("a{,3}", "at character 2: bad repetition"),
            ("a{1001}", "at character 2: bad repetition"),
            ("a{3,2}", "at character 2: bad repetition"),
            ("a{1, 2}", "at character 2: bad repetition"),
            ("a{", "at character 2: bad repetition"),
            ("\\<", "at character 1: unsupported escape '\\<'"),
            ("a\\n", "at character 2: unsupported escape '\\n'"),
            ("[\\b]", "at character 2: unsupported escape '\\b'"),
            ("(?i)a", "at character 1: unsupported group '(?i'"),
            ("(?=a)", "at character 1: unsupported group '(?='"),
            ("(?P=n)", "at character 1: unsupported group '(?P='"),
            ("(?", "at character 1: unsupported group '(?'"),
            ("(?P<1a>x)", "at character 1: bad group name"),
            ("(?P<a-b>x)", "at character 1: bad group name"),
            ("(?P<>x)", "at character 1: bad group name"),
            ("(?P<a", "at character 1: bad group name"),
            (
                "(?P<a>x)(?P<a>y)",
                "at character 9: duplicate group name 'a'",
            ),
            ("a]", "at character 2: unescaped ']'"),
            ("a}", "at character 2: unescaped '}'"),
            ("{x}", "at character 1: unescaped '{'"),
            ("[a[]", "at character 3: unescaped '['"),
            ("[a&&b]", "at character 3: unescaped '&'"),
            ("[~]", "at character 2: unescaped '~'"),
            ("[-a]", "at character 2: unescaped '-'"),
            ("[a-]", "at character 3: unescaped '-'"),
            ("[a-b-c]", "at character 5: unescaped '-'"),
            ("[\\d-z]", "at character 4: unescaped '-'"),
            ("ab\\", "at character 3: trailing backslash"),
            ("[a\\", "at character 3: trailing backslash"),
            (
                "()*",
                "at character 3: repeated expression can match the empty string",
            ),
            (
                "(a*)+",
                "at character 5: repeated expression can match the empty string",
            ),
            (
                "(a|)*",
                "at character 5: repeated expression can match the empty string",
            ),
            (
                "(^)+",
                "at character 4: repeated expression can match the empty string",
            ),
            (
                "(a?){2,3}",
                "at character 5: repeated expression can match the empty string",
            ),
            (
                "(a{0}){2,}",
                "at character 7: repeated expression can match the empty string",
            ),
            (
                "[a-z]{2}[0-9]{1000}",
                "at character 1: too large (weight 1002 > 1000)",
            ),
            (
                "[abc]{334}",
                "at character 1: too large (weight 1002 > 1000)",
            ),
            (
                "(ab){500}c",
                "at character 1: too large (weight 1001 > 1000)",
            ),
            ("a{1000,}", "at character 1: too large (weight 1001 > 1000)"),
            ("a+{2}", "at character 3: nothing to repeat"),
        ] {
            assert_eq!(err(re), want, "{re}");
        }
        assert_eq!(
            err(&"a".repeat(1001)),
            "at character 1: longer than 1000 characters"
        );
        let deep = format!("{}a{}", "(".repeat(33), ")".repeat(33));
        assert_eq!(err(&deep), "at character 33: groups nested too deeply");
        let ok_deep = format!("{}a{}", "(".repeat(32), ")".repeat(32));
        assert!(Re1::new(&ok_deep).is_ok());
        // Character positions count decoded characters.
        assert_eq!(err("é²)"), "at character 3: unbalanced ')'");
        // The first problem of the scan wins.
        assert_eq!(err("(ab]"), "at character 4: unescaped ']'");
    }

    #[test]
    fn empty_repeats_allowed_by_the_rule() {
        for re in [
            "(a*)?", "(a*)??", "(a*){3}", "(a*){3}?", "()", "(|)", "a|", "(a?){0}",
        ] {
            assert!(Re1::new(re).is_ok(), "{re}");
        }
    }

    #[test]
    fn translation() {
        assert_eq!(tr("\\d+\\.\\d*"), "[0-9]+\\.[0-9]*");
        assert_eq!(tr("[\\D]"), "[[^0-9]]");
        assert_eq!(tr("[^\\da-f\\S]"), "[^0-9a-f[^\\t\\n\\x0B\\x0C\\r ]]");
        assert_eq!(
            tr("\\w\\W\\s"),
            "[0-9A-Za-z_][^0-9A-Za-z_][\\t\\n\\x0B\\x0C\\r ]"
        );
        assert_eq!(tr("a/b#c&d-e~f"), "a/b\\#c\\&d\\-e\\~f");
        assert_eq!(tr("\\/\\&\\~\\-\\\\\\t"), "/\\&\\~\\-\\\\\\t");
        assert_eq!(tr("[.^$|]"), "[\\.\\^\\$\\|]");
        assert_eq!(tr("x{007}y{2,}z{01,010}?"), "x{7}y{2,}z{1,10}?");
        assert_eq!(tr("(?P<value>a)(?:b)(c)"), "(?P<value>a)(?:b)(c)");
        assert_eq!(tr("^# date"), "^\\# date");
        assert_eq!(tr("a\tb[\t]"), "a\\tb[\\t]");
        let r = Re1::new("(?:^|[^A-Za-z])(?:NaN|nan)").expect("valid");
        assert_eq!(r.capture_groups(), 0);
        assert_eq!(r.metric_group(), None);
        let r = Re1::new("^E_total += +(?P<value>\\S+)").expect("valid");
        assert!(r.has_value_group());
        assert_eq!(r.metric_group(), Some(MetricGroup::Value));
        assert_eq!(
            Re1::new("(a)(b)").expect("valid").metric_group(),
            Some(MetricGroup::First)
        );
    }

    #[test]
    fn translated_forms_match_like_python() {
        let m = |re: &str, s: &str| Re1::new(re).expect("valid").regex().is_match(s);
        assert!(m("^\\d+$", "123") && !m("^\\d+$", "١٢٣"));
        assert!(!m("^\\w$", "²") && m("^\\W$", "²"));
        assert!(m("^\\s$", "\u{b}") && !m("^\\s$", "\u{a0}"));
        assert!(m("^[\\D]$", "x") && !m("^[\\D]$", "7"));
        assert!(m("^[^\\D]$", "7") && !m("^[^\\D]$", "x"));
        assert!(m("a\\\\b", "a\\b"));
        assert!(m("^a.c$", "aéc"));
        // `[^\d\D]` matches nothing, as in Python.
        assert!(!m("[^\\d\\D]", "a1é"));
        let caps = Re1::new("^E_total += +(?P<value>\\S+)")
            .expect("valid")
            .regex()
            .captures("E_total = -76.02")
            .expect("match");
        assert_eq!(&caps["value"], "-76.02");
    }

    #[test]
    fn equality_by_source() {
        let a = Re1::new("a+").expect("valid");
        let b = a.clone();
        assert_eq!(a, b);
        assert_ne!(a, Re1::new("a*").expect("valid"));
        assert_eq!(a.to_string(), "a+");
        assert_eq!(a.source(), "a+");
        assert!(a.compile().is_ok());
    }
}
