//! The parsed program: [`Runfile`], its [`Step`]s and the state they
//! snapshot (RUNFILE.md §5).

use super::image_ref::ImageRef;

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
    Bind(String, String),
    User(u32, Option<u32>),
    Shell(Vec<String>),
    Entrypoint(Vec<String>),
    Run(Form),
    Cmd(Form),
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
}

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
        r
    }
}
