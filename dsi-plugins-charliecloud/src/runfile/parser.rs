//! Instructions (RUNFILE.md §4, §5; RUNFILE-1.1 §2, §4, §5): keywords,
//! operands, ordering rules and the state that `RUN`/`CMD` snapshot.
//!
//! The precedence rule of §1.1-8.1 (see `precedence`): logical lines are
//! parsed in order and the first instruction with an error ends the parse.
//! Within an instruction, the keyword checks come first in the spec's tie
//! order (E200, E203, E201, E352/E353, E210, E211, E332, E202), then the
//! operands in position order (a key before its value, a reference before
//! the text after it, a path before an extra operand).

use std::borrow::Cow;
use std::collections::HashMap;

use super::Parsed;
use super::declared::Declared;
use super::diagnostic::Diagnostic;
use super::image_ref::{is_tree_digest, parse_image_ref, unpinned_hint};
use super::launch;
use super::lexer::{Lexer, LogicalLine, Pos, decode, is_hws};
use super::model::{
    Bind, CanonicalText, EnvOp, Expect, Form, Input, Instruction, Launch, Metric, Output, PassEnv,
    Runfile, Step, StepKind, Workdir,
};
use super::operand::{Operand, Result, err, exec_form, normalise_path, value_operand, words};
use super::verify;

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
    "LAUNCH",
    "INPUT",
    "OUTPUT",
    "METRIC",
    "EXPECT",
];

/// The LABEL key naming legacy output files (dsi, run records).
const DSI_OUTPUTS: &str = "dsi.outputs";

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

/// `LABEL dsi.outputs` (a dsi amendment, from the untrusted-records issue):
/// its space/TAB-separated words name output files relative to the context
/// directory. An absolute word is E383, a `..` component E292, both at the
/// value; every word is checked for E383 before any for E292 (the tie order
/// of §1.1-8.1 at a value).
fn check_dsi_outputs(value: &Operand) -> Result<()> {
    let words = || value.value.split([' ', '\t']).filter(|w| !w.is_empty());
    if let Some(w) = words().find(|w| w.starts_with('/')) {
        return Err(err(
            value.pos,
            "E383",
            format!("dsi.outputs path must be relative to the context directory: '{w}'"),
        ));
    }
    if let Some(w) = words().find(|w| w.split('/').any(|c| c == "..")) {
        return Err(err(
            value.pos,
            "E292",
            format!("'..' not allowed in dsi.outputs: '{w}'"),
        ));
    }
    Ok(())
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
    launch: Option<Launch>,
}

/// Builds a [`Runfile`] one logical line at a time.
struct Parser {
    state: State,
    image: Option<(super::ImageRef, Pos)>,
    cmd_line: Option<usize>,
    last_keyword: Option<Pos>,
    instructions: Vec<Instruction>,
    labels: Vec<(String, String)>,
    label_lines: HashMap<String, usize>,
    dsi_outputs_at: Option<Pos>,
    steps: Vec<Step>,
    workdirs: Vec<Workdir>,
    binds: Vec<Bind>,
    passenv: Vec<PassEnv>,
    launches: Vec<Launch>,
    inputs: Declared<Input>,
    outputs: Declared<Output>,
    metrics: Declared<Metric>,
    expects: Vec<Expect>,
    warnings: Vec<Diagnostic>,
}

/// Parse a Runfile (see [`super::parse`]). On an error, also the warnings of
/// the instructions before it, in position order (on success they are in
/// [`Parsed::warnings`] and the vector is empty).
pub(crate) fn parse(source: &[u8]) -> (Vec<Diagnostic>, Result<Parsed>) {
    let text = match decode(source) {
        Ok(t) => t,
        Err(e) => return (Vec::new(), Err(e)),
    };
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
            launch: None,
        },
        image: None,
        cmd_line: None,
        last_keyword: None,
        instructions: Vec::new(),
        labels: Vec::new(),
        label_lines: HashMap::new(),
        dsi_outputs_at: None,
        steps: Vec::new(),
        workdirs: Vec::new(),
        binds: Vec::new(),
        passenv: Vec::new(),
        launches: Vec::new(),
        inputs: Declared::new(),
        outputs: Declared::new(),
        metrics: Declared::new(),
        expects: Vec::new(),
        warnings: Vec::new(),
    };
    let mut failure = None;
    loop {
        match lexer.next_logical() {
            Ok(Some(line)) => {
                let kept = p.warnings.len();
                if let Err(e) = p.instruction(&line) {
                    // An instruction with an error contributes no warnings.
                    p.warnings.truncate(kept);
                    failure = Some(e);
                    break;
                }
            }
            Ok(None) => break,
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    if let Some(e) = failure {
        p.warnings.sort_by_key(|w| (w.line, w.col));
        return (p.warnings, Err(e));
    }
    (Vec::new(), p.finish())
}

impl Parser {
    /// The end of the file: E210 (empty), E351, then the whole-file
    /// warnings W304 and W305.
    fn finish(mut self) -> Result<Parsed> {
        // E210 for an empty file and E351 are keyed at the end of the file,
        // so any other error wins (every other error has already stopped the
        // parse). E210 is shown at 1:1, E351 at the keyword of the last
        // instruction (§1.1-8.1).
        let Some((image, from_pos)) = self.image else {
            return Err(err(
                (1, 1),
                "E210",
                "Runfile has no instructions; first instruction must be FROM",
            ));
        };
        if self.cmd_line.is_none() {
            let at = self.last_keyword.unwrap_or(from_pos);
            return Err(err(at, "E351", "Runfile has no CMD"));
        }
        for (line, col) in launch::w304_positions(&self.steps) {
            self.warnings
                .push(Diagnostic::warning(line, col, "W304", launch::W304));
        }
        if let Some((line, col)) = self.dsi_outputs_at
            && (!self.outputs.is_empty() || !self.metrics.is_empty())
        {
            self.warnings.push(Diagnostic::warning(
                line,
                col,
                "W305",
                "LABEL dsi.outputs is ignored: the Runfile declares OUTPUT or METRIC",
            ));
        }
        self.warnings.sort_by_key(|w| (w.line, w.col));
        Ok(Parsed {
            runfile: Runfile {
                image,
                from_pos,
                instructions: self.instructions,
                labels: self.labels,
                steps: self.steps,
                workdirs: self.workdirs,
                binds: self.binds,
                passenv: self.passenv,
                launches: self.launches,
                inputs: self.inputs.into_vec(),
                outputs: self.outputs.into_vec(),
                metrics: self.metrics.into_vec(),
                expects: self.expects,
                canonical: CanonicalText::default(),
            },
            warnings: self.warnings,
        })
    }

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
        // The checks at the keyword, in the tie order of §1.1-8.1; E200 for a
        // missing space after the keyword is at a later position, so it
        // comes after them (`COPY"x" /y` is E203 at the keyword).
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
        if i < n && !is_hws(ll.chars[i]) {
            return Err(err(
                ll.at(i),
                "E200",
                format!("whitespace expected after keyword {kw}"),
            ));
        }
        let args = ll.skip_hws(i);
        if args == n {
            return Err(err(kw_pos, "E202", format!("{kw} requires arguments")));
        }
        match kw.as_str() {
            "FROM" => self.from(ll, args, kw_pos)?,
            "LABEL" => self.label(ll, args)?,
            "ENV" => self.env(ll, args)?,
            "UNSETENV" => self.unsetenv(ll, args)?,
            "PASSENV" => self.passenv(ll, args, kw_pos)?,
            "WORKDIR" => self.workdir(ll, args, kw_pos)?,
            "BIND" => self.bind(ll, args, kw_pos)?,
            "USER" => self.user(ll, args)?,
            "SHELL" => {
                let v = exec_only(ll, args, "SHELL", "E321")?;
                self.state.shell.clone_from(&v);
                self.instructions.push(Instruction::Shell(v));
            }
            "ENTRYPOINT" => {
                let v = exec_only(ll, args, "ENTRYPOINT", "E331")?;
                self.state.entrypoint = Some((v.clone(), kw_pos.0));
                self.instructions.push(Instruction::Entrypoint(v));
            }
            "RUN" => self.step(ll, args, kw_pos, StepKind::Run)?,
            "CMD" => self.step(ll, args, kw_pos, StepKind::Cmd)?,
            "LAUNCH" => self.launch(ll, args, kw_pos)?,
            "INPUT" => {
                let input = verify::input(ll, args, kw_pos, &self.inputs)?;
                self.instructions
                    .push(Instruction::Input(self.inputs.len()));
                self.inputs.push(input);
            }
            "OUTPUT" => {
                let output = verify::output(ll, args, kw_pos, &self.outputs)?;
                self.instructions
                    .push(Instruction::Output(self.outputs.len()));
                self.outputs.push(output);
            }
            "METRIC" => {
                let metric = verify::metric(ll, args, kw_pos, &self.metrics)?;
                self.instructions
                    .push(Instruction::Metric(self.metrics.len()));
                self.metrics.push(metric);
            }
            _ => {
                let expect = verify::expect(ll, args, kw_pos)?;
                self.instructions
                    .push(Instruction::Expect(self.expects.len()));
                self.expects.push(expect);
            }
        }
        self.last_keyword = Some(kw_pos);
        Ok(())
    }

    fn from(&mut self, ll: &LogicalLine, args: usize, kw_pos: Pos) -> Result<()> {
        let tokens = words(ll, args);
        let is_option = |&(s, _): &(usize, usize)| ll.chars.get(s..s + 2) == Some(&['-', '-']);
        // A missing reference is E202 at the keyword, which precedes every
        // operand error.
        let Some(k) = tokens.iter().position(|t| !is_option(t)) else {
            return Err(err(kw_pos, "E202", "FROM requires an image reference"));
        };
        let mut tree: Option<String> = None;
        for &(s, e) in &tokens[..k] {
            let tok = ll.text(s, e);
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
        }
        let (s, e) = tokens[k];
        let reference = ll.text(s, e);
        // The reference before the text after it (`FROM rf@sha256:abc AS x`
        // is E244 at the reference).
        let image = parse_image_ref(&reference, tree).map_err(|(code, msg)| {
            let d = err(ll.at(s), code, msg);
            if code == "E245" {
                d.with_hint(unpinned_hint(&reference))
            } else {
                d
            }
        })?;
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
        self.image = Some((image, kw_pos));
        self.instructions.push(Instruction::From);
        Ok(())
    }

    /// The `KEY=` of a LABEL/ENV pair at `i` (not HWS, not the end); returns
    /// the key and the index of its value.
    fn key(ll: &LogicalLine, mut i: usize, kw: &str, key_word: &str) -> Result<(Operand, usize)> {
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
        Ok((key, i + 1))
    }

    fn label(&mut self, ll: &LogicalLine, mut i: usize) -> Result<()> {
        while i < ll.chars.len() {
            let (key, value_at) = Self::key(ll, i, "LABEL", "KEY")?;
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
            let (value, next) = value_operand(ll, value_at)?;
            i = ll.skip_hws(next);
            if key.value == DSI_OUTPUTS {
                check_dsi_outputs(&value)?;
                self.dsi_outputs_at = Some(key.pos);
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
            // The name before its value (`ENV 1X='a'` is E251 at the name).
            let (key, value_at) = Self::key(ll, i, "ENV", "NAME")?;
            if !is_name(&key.value) {
                return Err(err(
                    key.pos,
                    "E251",
                    format!("invalid variable name '{}'", key.value),
                ));
            }
            let (value, next) = value_operand(ll, value_at)?;
            i = ll.skip_hws(next);
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

    /// The path operand of WORKDIR/BIND and the index of a second operand,
    /// if any; the caller checks the path before the second operand.
    fn path_operand(ll: &LogicalLine, args: usize) -> Result<(Operand, Option<usize>)> {
        let (op, next) = value_operand(ll, args)?;
        let rest = ll.skip_hws(next);
        Ok((op, (rest < ll.chars.len()).then_some(rest)))
    }

    fn workdir(&mut self, ll: &LogicalLine, args: usize, kw_pos: Pos) -> Result<()> {
        let (op, extra) = Self::path_operand(ll, args)?;
        if op.value.is_empty() {
            return Err(err(op.pos, "E290", "empty path"));
        }
        if !op.value.starts_with('/') {
            return Err(err(
                op.pos,
                "E291",
                format!("WORKDIR must be an absolute path: '{}'", op.value),
            ));
        }
        let path = normalise_path(&op.value)
            .map_err(|()| {
                err(
                    op.pos,
                    "E292",
                    format!("'..' not allowed in WORKDIR: '{}'", op.value),
                )
            })?
            .into_owned();
        if let Some(rest) = extra {
            return Err(err(
                ll.at(rest),
                "E293",
                "WORKDIR takes exactly one operand",
            ));
        }
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
        let (mut op, extra) = Self::path_operand(ll, args)?;
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
        if let Some(rest) = extra {
            return Err(err(ll.at(rest), "E306", "BIND takes exactly one operand"));
        }
        let dst_n = dst_n.into_owned();
        // A normal source is the operand's own text up to the ':'.
        let src_n = match src_n {
            Cow::Borrowed(_) => {
                let colon = src.len();
                op.value.truncate(colon);
                op.value
            }
            Cow::Owned(s) => s,
        };
        let bind = Bind {
            src: src_n,
            dst: dst_n,
            line: kw_pos.0,
            col: kw_pos.1,
        };
        self.state.binds.push(bind.clone());
        self.instructions.push(Instruction::Bind(self.binds.len()));
        self.binds.push(bind);
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

    fn launch(&mut self, ll: &LogicalLine, args: usize, kw_pos: Pos) -> Result<()> {
        let launcher = launch::parse(ll, args)?;
        self.state.launch = launcher.as_ref().map(|(join, argv)| Launch {
            argv: argv.clone(),
            join: *join,
            line: kw_pos.0,
            col: kw_pos.1,
        });
        self.launches.extend(self.state.launch.clone());
        self.instructions.push(Instruction::Launch(launcher));
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
        // CMD is the last instruction (any other after it is E353), so
        // its step takes the state instead of copying it.
        let last = kind == StepKind::Cmd;
        let st = &mut self.state;
        self.steps.push(Step {
            line: kw_pos.0,
            col: kw_pos.1,
            kind,
            argv,
            workdir: taken(&mut st.workdir, last),
            binds: taken(&mut st.binds, last),
            uid: st.uid,
            gid: st.gid,
            env_ops: taken(&mut st.env_ops, last),
            passenv: taken(&mut st.passenv, last),
            launch: taken(&mut st.launch, last),
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

/// `v` itself if `take` (leaving the default), else a copy.
fn taken<T: Clone + Default>(v: &mut T, take: bool) -> T {
    if take { std::mem::take(v) } else { v.clone() }
}
