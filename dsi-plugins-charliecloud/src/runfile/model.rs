//! The parsed program: [`Runfile`], its [`Step`]s and the state they
//! snapshot (RUNFILE.md §5), and the verification items of RUNFILE-1.1 §5
//! ([`Input`], [`Output`], [`Metric`], [`Expect`]).

use std::borrow::Cow;

use super::image_ref::ImageRef;
use super::number::Number;
use super::re1::Re1;

/// Whether a step comes from `RUN` or `CMD`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StepKind {
    /// An extra step before `CMD`.
    Run,
    /// The main step, always the last one.
    Cmd,
}

/// One environment operation, in Runfile order (§5 `ENV`, `UNSETENV`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum EnvOp {
    /// `ENV NAME=VALUE`: `--set-env=NAME='VALUE'`.
    Set {
        /// Variable name.
        name: String,
        /// Literal value.
        value: String,
    },
    /// `UNSETENV NAME`: `--unset-env=NAME`.
    Unset {
        /// Variable name (exact, no glob).
        name: String,
    },
}

/// A `BIND SRC:DST` (§5).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Bind {
    /// Host source as written, normalised (`.` components and repeated `/`
    /// removed); relative to the context directory unless absolute.
    pub src: String,
    /// Absolute, normalised container destination (never `/`).
    pub dst: String,
    /// Line of the `BIND` keyword (run-time diagnostics E406/E407 point here).
    pub line: usize,
    /// Column of the `BIND` keyword.
    pub col: usize,
}

impl Bind {
    /// `ABS_SRC` of §7.1: `src` if absolute, else the normalised
    /// `context_dir/src` (textual, without touching the filesystem).
    pub fn abs_src(&self, context_dir: &std::path::Path) -> String {
        if self.src.starts_with('/') {
            self.src.clone()
        } else {
            super::argv::normpath(&format!("{}/{}", context_dir.to_string_lossy(), self.src))
        }
    }
}

/// A `WORKDIR` instruction (for pre-flight check E408).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Workdir {
    /// Absolute, normalised path.
    pub path: String,
    /// Line of the `WORKDIR` keyword.
    pub line: usize,
    /// Column of the `WORKDIR` keyword.
    pub col: usize,
}

/// One `PASSENV` pattern (for pre-flight check E411).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PassEnv {
    /// Glob pattern over `[A-Za-z0-9_*?]`.
    pub pattern: String,
    /// Line of the `PASSENV` keyword.
    pub line: usize,
    /// Column of the `PASSENV` keyword.
    pub col: usize,
}

/// A non-empty `LAUNCH` (RUNFILE-1.1 §4): the launcher that prefixes the
/// `ch-run` argv of later steps.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Launch {
    /// `L0 … Ln`; never empty, `L0` is a command name or an absolute path.
    pub argv: Vec<String>,
    /// `LAUNCH --join`: `ch-run --join`.
    pub join: bool,
    /// Line of the `LAUNCH` keyword (pre-flight E416/E417, W304).
    pub line: usize,
    /// Column of the `LAUNCH` keyword.
    pub col: usize,
}

/// One `RUN` or `CMD`: a `ch-run` invocation with the state snapshot at that
/// point of the Runfile (§5, §7).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Step {
    /// Line of the `RUN`/`CMD` keyword.
    pub line: usize,
    /// Column of the `RUN`/`CMD` keyword.
    pub col: usize,
    /// `RUN` or `CMD`.
    pub kind: StepKind,
    /// The container command: the exec array, or SHELL + \[text\] for the
    /// shell form; for `CMD` prefixed by ENTRYPOINT.
    pub argv: Vec<String>,
    /// Initial working directory (default `/`).
    pub workdir: String,
    /// Binds so far, in order.
    pub binds: Vec<Bind>,
    /// `USER` UID so far.
    pub uid: Option<u32>,
    /// `USER` GID so far.
    pub gid: Option<u32>,
    /// `ENV`/`UNSETENV` so far, in order.
    pub env_ops: Vec<EnvOp>,
    /// `PASSENV` patterns so far, in order.
    pub passenv: Vec<String>,
    /// The `LAUNCH` snapshot: the last `LAUNCH` before this step, `None`
    /// if there is none or it was `LAUNCH []`.
    pub launch: Option<Launch>,
}

/// An `INPUT P` (RUNFILE-1.1 §5.1): a host file or directory pinned by digest.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Input {
    /// Normalised like a BIND source: absolute, or relative to the context
    /// directory (`.` for the context directory itself).
    pub path: String,
    /// Line of the `INPUT` keyword (pre-flight E418, E419, W402).
    pub line: usize,
    /// Column of the `INPUT` keyword.
    pub col: usize,
}

/// What an `OUTPUT` compares or a `METRIC`/`EXPECT` reads (§1.1-5.2).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    /// `@stdout`: the concatenated standard output of all steps.
    Stdout,
    /// `@stderr`: the concatenated standard error of all steps.
    Stderr,
    /// A normalised path relative to the context directory (never
    /// absolute, no `..`; may begin with `@`, written `./@x`).
    Path(String),
}

impl Target {
    /// The canonical spelling without quoting: `@stdout`, `@stderr`, the
    /// path, or `./` + the path if it begins with `@` or `-` (§1.1-6).
    pub fn spelling(&self) -> Cow<'_, str> {
        match self {
            Target::Stdout => Cow::Borrowed("@stdout"),
            Target::Stderr => Cow::Borrowed("@stderr"),
            Target::Path(p) if p.starts_with(['@', '-']) => Cow::Owned(format!("./{p}")),
            Target::Path(p) => Cow::Borrowed(p),
        }
    }
}

/// `OUTPUT --compare` (§1.1-5.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Compare {
    /// Byte-identical (the default).
    Exact,
    /// Equal lines after dropping the `--ignore` lines.
    Lines,
    /// Equal tokens, numbers within `--rtol`/`--atol`.
    Numbers,
}

impl Compare {
    /// `exact`, `lines` or `numbers`.
    pub fn as_str(self) -> &'static str {
        match self {
            Compare::Exact => "exact",
            Compare::Lines => "lines",
            Compare::Numbers => "numbers",
        }
    }
}

/// An `OUTPUT [opts] T` (§1.1-5.2, §1.1-5.5).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Output {
    /// The compared text.
    pub target: Target,
    /// `--compare` (default exact).
    pub compare: Compare,
    /// `--rtol` (default 0); only with `--compare=numbers`.
    pub rtol: Number,
    /// `--atol` (default 0); only with `--compare=numbers`.
    pub atol: Number,
    /// `--ignore` expressions in order, duplicates kept; only with
    /// `--compare=lines` or `numbers`.
    pub ignore: Vec<Re1>,
    /// Line of the `OUTPUT` keyword.
    pub line: usize,
    /// Column of the `OUTPUT` keyword.
    pub col: usize,
}

/// `METRIC --match` (§1.1-5.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MatchMode {
    /// The first value.
    First,
    /// The last value (the default).
    Last,
    /// All values, as a list.
    All,
}

impl MatchMode {
    /// `first`, `last` or `all`.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchMode::First => "first",
            MatchMode::Last => "last",
            MatchMode::All => "all",
        }
    }
}

/// A `METRIC NAME opts` (§1.1-5.2, §1.1-5.6): a figure of merit.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Metric {
    /// `[A-Za-z_][A-Za-z0-9_.-]*`, at most 64 characters, unique.
    pub name: String,
    /// `--from` (default `@stdout`).
    pub from: Target,
    /// `--regex`, with a capture group (group `value`, else group 1).
    pub regex: Re1,
    /// `--match` (default last).
    pub match_mode: MatchMode,
    /// `--rtol` (default 0).
    pub rtol: Number,
    /// `--atol` (default 0).
    pub atol: Number,
    /// `--min`, if given.
    pub min: Option<Number>,
    /// `--max`, if given.
    pub max: Option<Number>,
    /// `--unit`, free text, if given.
    pub unit: Option<String>,
    /// `--report-only`: shown, not counted in the verdict.
    pub report_only: bool,
    /// Line of the `METRIC` keyword.
    pub line: usize,
    /// Column of the `METRIC` keyword.
    pub col: usize,
}

/// The test of an `EXPECT` (§1.1-5.6).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ExpectTest {
    /// `--regex=RE`: passes if some line matches.
    Regex(Re1),
    /// `--no-regex=RE`: passes if no line matches.
    NoRegex(Re1),
}

impl ExpectTest {
    /// The expression.
    pub fn re1(&self) -> &Re1 {
        match self {
            ExpectTest::Regex(r) | ExpectTest::NoRegex(r) => r,
        }
    }
}

/// An `EXPECT opts` (§1.1-5.6): a success criterion on one replay.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Expect {
    /// `--from` (default `@stdout`).
    pub from: Target,
    /// `--regex` or `--no-regex`.
    pub test: ExpectTest,
    /// Line of the `EXPECT` keyword.
    pub line: usize,
    /// Column of the `EXPECT` keyword.
    pub col: usize,
}

/// The arguments of `RUN`/`CMD`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Form {
    /// JSON exec form.
    Exec(Vec<String>),
    /// Shell form text (trimmed).
    Shell(String),
}

/// One canonical instruction (§6: multi-operand instructions are split).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Instruction {
    From,
    Label(String, String),
    Env(String, String),
    Unsetenv(String),
    Passenv(String),
    Workdir(String),
    /// Index into [`Runfile::binds`].
    Bind(usize),
    User(u32, Option<u32>),
    Shell(Vec<String>),
    Entrypoint(Vec<String>),
    Run(Form),
    Cmd(Form),
    /// `LAUNCH [--join] [...]` (`None`: `LAUNCH []`).
    Launch(Option<(bool, Vec<String>)>),
    /// Index into [`Runfile::inputs`].
    Input(usize),
    /// Index into [`Runfile::outputs`].
    Output(usize),
    /// Index into [`Runfile::metrics`].
    Metric(usize),
    /// Index into [`Runfile::expects`].
    Expect(usize),
}

/// A parsed, valid Runfile.
///
/// Equality compares positions too; use [`Runfile::without_positions`] to
/// compare programs independently of layout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Runfile {
    pub(crate) image: ImageRef,
    pub(crate) from_pos: (usize, usize),
    pub(crate) instructions: Vec<Instruction>,
    pub(crate) labels: Vec<(String, String)>,
    pub(crate) steps: Vec<Step>,
    pub(crate) workdirs: Vec<Workdir>,
    pub(crate) binds: Vec<Bind>,
    pub(crate) passenv: Vec<PassEnv>,
    pub(crate) launches: Vec<Launch>,
    pub(crate) inputs: Vec<Input>,
    pub(crate) outputs: Vec<Output>,
    pub(crate) metrics: Vec<Metric>,
    pub(crate) expects: Vec<Expect>,
    /// The canonical text, made on first use (positions do not enter it).
    pub(crate) canonical: CanonicalText,
}

/// The canonical text of a [`Runfile`], computed once: [`Runfile::digest`]
/// hashes the text [`Runfile::canonical`] made. It takes no part in
/// comparisons (it follows from the other fields).
#[derive(Clone, Debug, Default)]
pub(crate) struct CanonicalText(pub(crate) std::sync::OnceLock<String>);

impl PartialEq for CanonicalText {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for CanonicalText {}

impl Runfile {
    /// The pinned image (`FROM`).
    pub fn image(&self) -> &ImageRef {
        &self.image
    }

    /// Line of `FROM`; image diagnostics (E401–E405, E409, E410) point here.
    pub fn from_line(&self) -> usize {
        self.from_pos.0
    }

    /// Column of the `FROM` keyword.
    pub fn from_col(&self) -> usize {
        self.from_pos.1
    }

    /// `LABEL`s in order (keys are unique).
    pub fn labels(&self) -> &[(String, String)] {
        &self.labels
    }

    /// The steps: every `RUN` in order, then `CMD` (always last, never absent).
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// Every distinct `WORKDIR` path, with the position of its first
    /// occurrence (the default `/` is not listed).
    pub fn workdirs(&self) -> &[Workdir] {
        &self.workdirs
    }

    /// Every `BIND`, in order.
    pub fn binds(&self) -> &[Bind] {
        &self.binds
    }

    /// Every `PASSENV` pattern, in order; non-empty iff the Runfile needs
    /// `ch-run --feature=extglob` (E411).
    pub fn passenv(&self) -> &[PassEnv] {
        &self.passenv
    }

    /// Every non-empty `LAUNCH`, in order (`LAUNCH []` is not listed).
    pub fn launches(&self) -> &[Launch] {
        &self.launches
    }

    /// Every `INPUT`, in order (paths are unique).
    pub fn inputs(&self) -> &[Input] {
        &self.inputs
    }

    /// Every `OUTPUT`, in order (targets are unique).
    pub fn outputs(&self) -> &[Output] {
        &self.outputs
    }

    /// Every `METRIC`, in order (names are unique).
    pub fn metrics(&self) -> &[Metric] {
        &self.metrics
    }

    /// Every `EXPECT`, in order.
    pub fn expects(&self) -> &[Expect] {
        &self.expects
    }

    /// A copy with every line/column set to 0: two Runfiles are the same
    /// program iff their `without_positions()` are equal.
    #[must_use]
    pub fn without_positions(&self) -> Runfile {
        let mut r = self.clone();
        r.from_pos = (0, 0);
        let zero_bind = |b: &mut Bind| (b.line, b.col) = (0, 0);
        r.binds.iter_mut().for_each(zero_bind);
        for s in &mut r.steps {
            (s.line, s.col) = (0, 0);
            s.binds.iter_mut().for_each(zero_bind);
        }
        for w in &mut r.workdirs {
            (w.line, w.col) = (0, 0);
        }
        for p in &mut r.passenv {
            (p.line, p.col) = (0, 0);
        }
        for s in &mut r.steps {
            if let Some(l) = &mut s.launch {
                (l.line, l.col) = (0, 0);
            }
        }
        for l in &mut r.launches {
            (l.line, l.col) = (0, 0);
        }
        for i in &mut r.inputs {
            (i.line, i.col) = (0, 0);
        }
        for o in &mut r.outputs {
            (o.line, o.col) = (0, 0);
        }
        for m in &mut r.metrics {
            (m.line, m.col) = (0, 0);
        }
        for e in &mut r.expects {
            (e.line, e.col) = (0, 0);
        }
        r
    }
}
