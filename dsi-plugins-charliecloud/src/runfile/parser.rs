//! Instructions (RUNFILE.md §4, §5): keywords, operands, ordering rules and
//! the state that `RUN`/`CMD` snapshot.

use std::collections::HashMap;

use super::Parsed;
use super::diagnostic::Diagnostic;
use super::image_ref::{is_tree_digest, parse_image_ref};
use super::json::{self, JsonError, StrError, Value};
use super::lexer::{Lexer, LogicalLine, Pos, decode, is_hws};
use super::model::{Bind, EnvOp, Form, Instruction, PassEnv, Runfile, Step, StepKind, Workdir};

type Result<T, E = Diagnostic> = std::result::Result<T, E>;

fn err(pos: Pos, code: &'static str, message: impl Into<String>) -> Diagnostic {
    Diagnostic::error(pos.0, pos.1, code, message)
}

const KNOWN: &[&str] = &[
    "FROM",
    "LABEL",
    "ENV",
    "UNSETENV",
    "PASSENV",
    "WORKDIR",
    "BIND",
    "USER",
    "SHELL",
    "ENTRYPOINT",
    "RUN",
    "CMD",
];

/// Forbidden Dockerfile instructions (E203) and their hints.
fn forbidden_hint(kw: &str) -> Option<&'static str> {
    Some(match kw {
        "ADD" | "COPY" => "bake into the image or BIND",
        "ARG" => "Runfiles have no build arguments; write values literally",
        "ONBUILD" => "Runfiles do not build images",
        "EXPOSE" => "ch-run shares the host network; nothing to expose",
        "VOLUME" => "use BIND SRC:DST",
        "HEALTHCHECK" => "steps run to completion; check results in a RUN or CMD",
        "STOPSIGNAL" => "steps run to completion; there is no stop signal",
        "MAINTAINER" => "use LABEL",
        _ => return None,
    })
}

fn is_name(s: &str) -> bool {
    let mut b = s.bytes();
    b.next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

fn is_label_key(s: &str) -> bool {
    let mut b = s.bytes();
    b.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && b.all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'/' | b'-'))
}

fn is_pattern(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'*' | b'?'))
}

/// `'0' | [1-9][0-9]*`, at most 4294967294.
fn parse_uint(s: &str) -> Option<u32> {
    let digits = !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    if !digits || (s.starts_with('0') && s != "0") {
        return None;
    }
    // Values above u32::MAX fail to parse; u32::MAX itself is excluded.
    s.parse::<u32>().ok().filter(|&v| v <= 4_294_967_294)
}

/// Normalise a WORKDIR/BIND path (§4): drop empty and `.` components
/// (`""` becomes `.`); `Err` if a component is `..`.
fn normalise_path(p: &str) -> Result<String, ()> {
    let comps: Vec<&str> = p
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    if comps.contains(&"..") {
        return Err(());
    }
    let joined = comps.join("/");
    Ok(if p.starts_with('/') {
        format!("/{joined}")
    } else if joined.is_empty() {
        ".".to_owned()
    } else {
        joined
    })
}

/// A value operand (`value` or `path-token`) with the position of its first
/// character.
struct Operand {
    value: String,
    pos: Pos,
}

/// The state of §5 that `RUN`/`CMD` snapshot.
struct State {
    env_ops: Vec<EnvOp>,
    passenv: Vec<String>,
    workdir: String,
    binds: Vec<Bind>,
    uid: Option<u32>,
    gid: Option<u32>,
    shell: Vec<String>,
    entrypoint: Option<(Vec<String>, usize)>,
}

/// Builds a [`Runfile`] one logical line at a time.
struct Parser {
    state: State,
    image: Option<(super::ImageRef, Pos)>,
    cmd_line: Option<usize>,
    instructions: Vec<Instruction>,
    labels: Vec<(String, String)>,
    label_lines: HashMap<String, usize>,
    steps: Vec<Step>,
    workdirs: Vec<Workdir>,
    binds: Vec<Bind>,
    passenv: Vec<PassEnv>,
    warnings: Vec<Diagnostic>,
}

/// Parse a Runfile (see [`super::parse`]).
pub(crate) fn parse(source: &[u8]) -> Result<Parsed> {
    let text = decode(source)?;
    let mut lexer = Lexer::new(text);
    let mut p = Parser {
        state: State {
            env_ops: Vec::new(),
            passenv: Vec::new(),
            workdir: "/".to_owned(),
            binds: Vec::new(),
            uid: None,
            gid: None,
            shell: vec!["/bin/sh".to_owned(), "-c".to_owned()],
            entrypoint: None,
        },
        image: None,
        cmd_line: None,
        instructions: Vec::new(),
        labels: Vec::new(),
        label_lines: HashMap::new(),
        steps: Vec::new(),
        workdirs: Vec::new(),
        binds: Vec::new(),
        passenv: Vec::new(),
        warnings: Vec::new(),
    };
    while let Some(line) = lexer.next_logical()? {
        p.instruction(&line)?;
    }
    // Decision: "no FROM"/"no CMD" are positioned at the end of the file
    // (the line after a final LF), which gives §11.2's `2:1` for 09-no-cmd
    // (`FROM D` + LF).
    let eof = lexer.eof();
    let Some((image, from_pos)) = p.image else {
        return Err(err(
            eof,
            "E210",
            "Runfile has no instructions; first instruction must be FROM",
        ));
    };
    if p.cmd_line.is_none() {
        return Err(err(eof, "E351", "Runfile has no CMD"));
    }
    Ok(Parsed {
        runfile: Runfile {
            image,
            from_pos,
            instructions: p.instructions,
            labels: p.labels,
            steps: p.steps,
            workdirs: p.workdirs,
            binds: p.binds,
            passenv: p.passenv,
        },
        warnings: p.warnings,
    })
}

impl Parser {
    fn instruction(&mut self, ll: &LogicalLine) -> Result<()> {
        let n = ll.chars.len();
        let start = ll.skip_hws(0);
        let kw_pos = ll.at(start);
        let mut i = start;
        while i < n && ll.chars[i].is_ascii_alphabetic() {
            i += 1;
        }
        if i == start {
            return Err(err(kw_pos, "E200", "instruction keyword expected"));
        }
        let written = ll.text(start, i);
        let kw = written.to_ascii_uppercase();
        if i < n && !is_hws(ll.chars[i]) {
            return Err(err(
                ll.at(i),
                "E200",
                format!("whitespace expected after keyword {kw}"),
            ));
        }
        if let Some(hint) = forbidden_hint(&kw) {
            return Err(err(
                kw_pos,
                "E203",
                format!("instruction {kw} is not allowed in a Runfile"),
            )
            .with_hint(hint));
        }
        if !KNOWN.contains(&kw.as_str()) {
            return Err(err(
                kw_pos,
                "E201",
                format!("unknown instruction '{written}'"),
            ));
        }
        if let Some(cmd_line) = self.cmd_line {
            return Err(if kw == "CMD" {
                err(
                    kw_pos,
                    "E352",
                    format!("duplicate CMD (first at line {cmd_line})"),
                )
            } else {
                err(
                    kw_pos,
                    "E353",
                    format!("{kw} after CMD; CMD must be the last instruction"),
                )
            });
        }
        match (&self.image, kw.as_str()) {
            (None, "FROM") => {}
            (None, _) => {
                return Err(err(
                    kw_pos,
                    "E210",
                    format!("first instruction must be FROM, not {kw}"),
                ));
            }
            (Some((_, (line, _))), "FROM") => {
                return Err(err(
                    kw_pos,
                    "E211",
                    format!("duplicate FROM (first at line {line})"),
                ));
            }
            _ => {}
        }
        if kw == "ENTRYPOINT"
            && let Some((_, line)) = &self.state.entrypoint
        {
            return Err(err(
                kw_pos,
                "E332",
                format!("duplicate ENTRYPOINT (first at line {line})"),
            ));
        }
        let args = ll.skip_hws(i);
        if args == n {
            return Err(err(kw_pos, "E202", format!("{kw} requires arguments")));
        }
        match kw.as_str() {
            "FROM" => self.from(ll, args, kw_pos),
            "LABEL" => self.label(ll, args),
            "ENV" => self.env(ll, args),
            "UNSETENV" => self.unsetenv(ll, args),
            "PASSENV" => self.passenv(ll, args, kw_pos),
            "WORKDIR" => self.workdir(ll, args, kw_pos),
            "BIND" => self.bind(ll, args, kw_pos),
            "USER" => self.user(ll, args),
            "SHELL" => {
                let v = exec_only(ll, args, "SHELL", "E321")?;
                self.state.shell.clone_from(&v);
                self.instructions.push(Instruction::Shell(v));
                Ok(())
            }
            "ENTRYPOINT" => {
                let v = exec_only(ll, args, "ENTRYPOINT", "E331")?;
                self.state.entrypoint = Some((v.clone(), kw_pos.0));
                self.instructions.push(Instruction::Entrypoint(v));
                Ok(())
            }
            "RUN" => self.step(ll, args, kw_pos, StepKind::Run),
            _ => self.step(ll, args, kw_pos, StepKind::Cmd),
        }
    }

    fn from(&mut self, ll: &LogicalLine, args: usize, kw_pos: Pos) -> Result<()> {
        let tokens = words(ll, args);
        let mut tree: Option<String> = None;
        let mut k = 0;
        while let Some(&(s, e)) = tokens.get(k) {
            let tok = ll.text(s, e);
            if !tok.starts_with("--") {
                break;
            }
            let (name, value) = match tok.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (tok.as_str(), None),
            };
            if name != "--tree" {
                return Err(err(
                    ll.at(s),
                    "E231",
                    format!("unknown FROM option '{name}'"),
                ));
            }
            if tree.is_some() {
                return Err(err(ll.at(s), "E231", "duplicate FROM option '--tree'"));
            }
            let value_pos = match value {
                Some(_) => ll.at(s + name.chars().count() + 1),
                None => ll.at(s),
            };
            let value = value.unwrap_or_default();
            if !is_tree_digest(value) {
                return Err(err(
                    value_pos,
                    "E246",
                    format!("malformed tree digest '{value}'"),
                ));
            }
            tree = Some(value.to_owned());
            k += 1;
        }
        let Some(&(s, e)) = tokens.get(k) else {
            return Err(err(kw_pos, "E202", "FROM requires an image reference"));
        };
        let reference = ll.text(s, e);
        if let Some(&(s2, e2)) = tokens.get(k + 1) {
            let extra = ll.text(s2, e2);
            return Err(if extra.eq_ignore_ascii_case("AS") {
                err(ll.at(s2), "E232", "FROM ... AS is not supported")
            } else {
                err(
                    ll.at(s2),
                    "E233",
                    format!("unexpected text after the image reference: '{extra}'"),
                )
            });
        }
        let image =
            parse_image_ref(&reference, tree).map_err(|(code, msg)| err(ll.at(s), code, msg))?;
        self.image = Some((image, kw_pos));
        self.instructions.push(Instruction::From);
        Ok(())
    }

    /// One `KEY=value` of LABEL/ENV at `i` (not HWS, not the end); returns
    /// the key, the value and the index of the next pair (or the end).
    fn pair(
        ll: &LogicalLine,
        mut i: usize,
        kw: &str,
        key_word: &str,
    ) -> Result<(Operand, Operand, usize)> {
        let n = ll.chars.len();
        let key_start = i;
        while i < n && ll.chars[i] != '=' && !is_hws(ll.chars[i]) {
            i += 1;
        }
        if i == n || is_hws(ll.chars[i]) {
            return Err(err(
                ll.at(key_start),
                "E252",
                format!("{kw} requires {key_word}=VALUE"),
            ));
        }
        let key = Operand {
            value: ll.text(key_start, i),
            pos: ll.at(key_start),
        };
        let (value, next) = value_operand(ll, i + 1)?;
        Ok((key, value, ll.skip_hws(next)))
    }

    fn label(&mut self, ll: &LogicalLine, mut i: usize) -> Result<()> {
        while i < ll.chars.len() {
            let (key, value, next) = Self::pair(ll, i, "LABEL", "KEY")?;
            i = next;
            if !is_label_key(&key.value) {
                return Err(err(
                    key.pos,
                    "E271",
                    format!("invalid LABEL key '{}'", key.value),
                ));
            }
            if let Some(first) = self.label_lines.get(&key.value) {
                return Err(err(
                    key.pos,
                    "E272",
                    format!("duplicate label '{}' (first at line {first})", key.value),
                ));
            }
            self.label_lines.insert(key.value.clone(), key.pos.0);
            self.labels.push((key.value.clone(), value.value.clone()));
            self.instructions
                .push(Instruction::Label(key.value, value.value));
        }
        Ok(())
    }

    fn env(&mut self, ll: &LogicalLine, mut i: usize) -> Result<()> {
        while i < ll.chars.len() {
            let (key, value, next) = Self::pair(ll, i, "ENV", "NAME")?;
            i = next;
            if !is_name(&key.value) {
                return Err(err(
                    key.pos,
                    "E251",
                    format!("invalid variable name '{}'", key.value),
                ));
            }
            if key.value == "CH_RUNNING" {
                self.warnings.push(Diagnostic::warning(
                    key.pos.0,
                    key.pos.1,
                    "W302",
                    "ENV CH_RUNNING has no effect; ch-run sets it",
                ));
            }
            if value.value.contains('$') {
                self.warnings.push(Diagnostic::warning(
                    value.pos.0,
                    value.pos.1,
                    "W301",
                    "'$' is literal; Runfiles do not substitute variables",
                ));
            }
            self.state.env_ops.push(EnvOp::Set {
                name: key.value.clone(),
                value: value.value.clone(),
            });
            self.instructions
                .push(Instruction::Env(key.value, value.value));
        }
        Ok(())
    }

    fn unsetenv(&mut self, ll: &LogicalLine, args: usize) -> Result<()> {
        for (s, e) in words(ll, args) {
            let name = ll.text(s, e);
            if !is_name(&name) {
                return Err(err(
                    ll.at(s),
                    "E251",
                    format!("invalid variable name '{name}'"),
                ));
            }
            self.state.env_ops.push(EnvOp::Unset { name: name.clone() });
            self.instructions.push(Instruction::Unsetenv(name));
        }
        Ok(())
    }

    fn passenv(&mut self, ll: &LogicalLine, args: usize, kw_pos: Pos) -> Result<()> {
        for (s, e) in words(ll, args) {
            let pattern = ll.text(s, e);
            if !is_pattern(&pattern) {
                return Err(err(
                    ll.at(s),
                    "E281",
                    format!("invalid PASSENV pattern '{pattern}'"),
                ));
            }
            // Decision: any pattern made only of `*` matches everything.
            if pattern.bytes().all(|c| c == b'*') {
                let (line, col) = ll.at(s);
                self.warnings.push(Diagnostic::warning(
                    line,
                    col,
                    "W303",
                    "PASSENV * passes the entire host environment",
                ));
            }
            self.state.passenv.push(pattern.clone());
            self.passenv.push(PassEnv {
                pattern: pattern.clone(),
                line: kw_pos.0,
                col: kw_pos.1,
            });
            self.instructions.push(Instruction::Passenv(pattern));
        }
        Ok(())
    }

    /// The single path operand of WORKDIR/BIND (`code` for a second operand).
    fn single_path(ll: &LogicalLine, args: usize, code: &'static str, kw: &str) -> Result<Operand> {
        let (op, next) = value_operand(ll, args)?;
        let rest = ll.skip_hws(next);
        if rest < ll.chars.len() {
            return Err(err(
                ll.at(rest),
                code,
                format!("{kw} takes exactly one operand"),
            ));
        }
        if op.value.is_empty() {
            return Err(err(op.pos, "E290", "empty path"));
        }
        Ok(op)
    }

    fn workdir(&mut self, ll: &LogicalLine, args: usize, kw_pos: Pos) -> Result<()> {
        let op = Self::single_path(ll, args, "E293", "WORKDIR")?;
        if !op.value.starts_with('/') {
            return Err(err(
                op.pos,
                "E291",
                format!("WORKDIR must be an absolute path: '{}'", op.value),
            ));
        }
        let path = normalise_path(&op.value).map_err(|()| {
            err(
                op.pos,
                "E292",
                format!("'..' not allowed in WORKDIR: '{}'", op.value),
            )
        })?;
        if !self.workdirs.iter().any(|w| w.path == path) {
            self.workdirs.push(Workdir {
                path: path.clone(),
                line: kw_pos.0,
                col: kw_pos.1,
            });
        }
        self.state.workdir.clone_from(&path);
        self.instructions.push(Instruction::Workdir(path));
        Ok(())
    }

    fn bind(&mut self, ll: &LogicalLine, args: usize, kw_pos: Pos) -> Result<()> {
        let op = Self::single_path(ll, args, "E306", "BIND")?;
        let at = op.pos;
        let (src, dst) = match op.value.matches(':').count() {
            0 => {
                return Err(err(
                    at,
                    "E301",
                    format!("BIND requires SRC:DST: '{}'", op.value),
                ));
            }
            1 => op.value.split_once(':').expect("one ':' was counted"),
            _ => return Err(err(at, "E302", "':' not allowed in bind paths")),
        };
        if src.is_empty() {
            return Err(err(at, "E290", "empty bind source"));
        }
        if dst.is_empty() {
            return Err(err(at, "E290", "empty bind destination"));
        }
        let src_n = normalise_path(src).map_err(|()| {
            err(
                at,
                "E292",
                format!("'..' not allowed in bind source: '{src}'"),
            )
        })?;
        if !dst.starts_with('/') {
            return Err(err(
                at,
                "E291",
                format!("bind destination must be an absolute path: '{dst}'"),
            ));
        }
        let dst_n = normalise_path(dst).map_err(|()| {
            err(
                at,
                "E292",
                format!("'..' not allowed in bind destination: '{dst}'"),
            )
        })?;
        if dst_n == "/" {
            return Err(err(at, "E304", "bind destination must not be '/'"));
        }
        let bind = Bind {
            src: src_n.clone(),
            dst: dst_n.clone(),
            line: kw_pos.0,
            col: kw_pos.1,
        };
        self.binds.push(bind.clone());
        self.state.binds.push(bind);
        self.instructions.push(Instruction::Bind(src_n, dst_n));
        Ok(())
    }

    fn user(&mut self, ll: &LogicalLine, args: usize) -> Result<()> {
        let text = ll.text(args, ll.chars.len());
        let parsed = match text.split_once(':') {
            Some((u, g)) => parse_uint(u).zip(parse_uint(g).map(Some)),
            None => parse_uint(&text).map(|u| (u, None)),
        };
        let Some((uid, gid)) = parsed else {
            return Err(err(
                ll.at(args),
                "E311",
                format!("USER requires numeric UID[:GID]: '{text}'"),
            ));
        };
        (self.state.uid, self.state.gid) = (Some(uid), gid);
        self.instructions.push(Instruction::User(uid, gid));
        Ok(())
    }

    fn step(&mut self, ll: &LogicalLine, args: usize, kw_pos: Pos, kind: StepKind) -> Result<()> {
        let kw = if kind == StepKind::Run { "RUN" } else { "CMD" };
        let form = if ll.chars[args] == '[' {
            Form::Exec(exec_form(ll, args, kw)?)
        } else {
            if ll.chars.get(args + 1) == Some(&'<') && ll.chars[args] == '<' {
                return Err(err(ll.at(args), "E344", "heredocs are not supported"));
            }
            Form::Shell(ll.text(args, ll.chars.len()))
        };
        let mut argv = match (kind, &self.state.entrypoint) {
            (StepKind::Cmd, Some((ep, _))) => ep.clone(),
            _ => Vec::new(),
        };
        match &form {
            Form::Exec(v) => argv.extend(v.iter().cloned()),
            Form::Shell(text) => {
                argv.extend(self.state.shell.iter().cloned());
                argv.push(text.clone());
            }
        }
        let st = &self.state;
        self.steps.push(Step {
            line: kw_pos.0,
            col: kw_pos.1,
            kind,
            argv,
            workdir: st.workdir.clone(),
            binds: st.binds.clone(),
            uid: st.uid,
            gid: st.gid,
            env_ops: st.env_ops.clone(),
            passenv: st.passenv.clone(),
        });
        if kind == StepKind::Cmd {
            self.cmd_line = Some(kw_pos.0);
            self.instructions.push(Instruction::Cmd(form));
        } else {
            self.instructions.push(Instruction::Run(form));
        }
        Ok(())
    }
}

/// The HWS-separated words starting at `i`, as `(start, end)` indices.
fn words(ll: &LogicalLine, mut i: usize) -> Vec<(usize, usize)> {
    let n = ll.chars.len();
    let mut out = Vec::new();
    i = ll.skip_hws(i);
    while i < n {
        let s = i;
        while i < n && !is_hws(ll.chars[i]) {
            i += 1;
        }
        out.push((s, i));
        i = ll.skip_hws(i);
    }
    out
}

/// `bare? | json-string` at `i` (a `value` or `path-token`); returns the
/// operand and the index after it, which is HWS or the end of the line.
fn value_operand(ll: &LogicalLine, i: usize) -> Result<(Operand, usize)> {
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

/// The JSON exec form making up the rest of the line from `args` (`[`).
fn exec_form(ll: &LogicalLine, args: usize, kw: &str) -> Result<Vec<String>> {
    let rest = ll.chars.get(args..).unwrap_or_default();
    let value = json::parse_document(rest).map_err(|e| match e {
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
    })?;
    let not_strings = || {
        err(
            ll.at(args),
            "E342",
            format!("{kw} exec form must be a non-empty JSON array of strings"),
        )
    };
    let Value::Array(items) = value else {
        return Err(not_strings());
    };
    let mut argv = Vec::with_capacity(items.len());
    for item in items {
        match item {
            Value::Str(s) => argv.push(s),
            _ => return Err(not_strings()),
        }
    }
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

/// SHELL/ENTRYPOINT: exec form only.
fn exec_only(ll: &LogicalLine, args: usize, kw: &str, code: &'static str) -> Result<Vec<String>> {
    if ll.chars[args] != '[' {
        return Err(err(
            ll.at(args),
            code,
            format!("{kw} must use the JSON exec form"),
        ));
    }
    exec_form(ll, args, kw)
}
