//! The Runfile (v1 and 1.1): a Dockerfile-like file that pins a Charliecloud
//! image by digest and describes how to run and verify it (see
//! `docs/RUNFILE.md` and `docs/RUNFILE-1.1.md`).
//!
//! [`parse`] turns raw bytes into a [`Runfile`] (or the first static error,
//! §10), [`Runfile::canonical`] and [`Runfile::digest`] give its
//! layout-independent identity (§6), and [`Runfile::to_ch_run_argv`] maps
//! each step to a `ch-run` command line (§7).
//!
//! ```
//! use dsi_plugins_charliecloud::runfile::{parse, ArgvContext};
//!
//! let src = b"# runfile=1\n\
//! FROM 127.0.0.1:5000/rf-base@sha256:14d210e7a9e06824ac3ec275952f8e625fd2f4d91e107fa4cab109663d31b155\n\
//! env  GREETING=hi\n\
//! BIND data:/mnt/0\n\
//! CMD echo $GREETING\n";
//! let parsed = parse(src).expect("valid Runfile");
//! let rf = parsed.runfile;
//! assert!(rf.canonical().starts_with("FROM 127.0.0.1:5000/rf-base@sha256:14d2"));
//! assert!(rf.canonical().contains("ENV GREETING=\"hi\"\n"));
//! assert!(rf.digest().starts_with("runfile1+sha256:"));
//!
//! let argv = rf.to_ch_run_argv(0, &ArgvContext::new("/work/ctx"));
//! assert_eq!(argv[0], "ch-run");
//! assert!(argv.contains(&"--set-env=GREETING='hi'".to_string()));
//! assert!(argv.contains(&"--bind=/work/ctx/data:/mnt/0".to_string()));
//! assert_eq!(argv[argv.len() - 3..], ["/bin/sh", "-c", "echo $GREETING"]);
//!
//! let e = parse(b"FROM 127.0.0.1:5000/rf-base:v1\nCMD true\n").unwrap_err();
//! assert_eq!(
//!     e.render("Runfile"),
//!     "Runfile:1:6: error: E245: image reference must be pinned: '127.0.0.1:5000/rf-base:v1'\n  \
//!      hint: `dsi runfile pin 127.0.0.1:5000/rf-base:v1` prints the FROM line with the digest \
//!      its registry serves"
//! );
//! ```
//!
//! RUNFILE-1.1 adds path images (`FROM ./x.sqfs@sha256:…`,
//! `FROM --tree=D /dir`), `LAUNCH` and the verification instructions
//! `INPUT`, `OUTPUT`, `METRIC`, `EXPECT` with their options, numbers
//! ([`Number`]) and RE1 expressions ([`Re1`]); [`Report`] is the static
//! report of `dsi runfile check --json`.
//!
//! Exactly one static error is reported, chosen by the precedence rule of
//! RUNFILE-1.1 §8.1 (smallest (line, column) key, then the tie order); see
//! `precedence`. [`diagnose`] gives what a linter prints: the warnings in
//! position order, then at most one error.
//!
//! Modules: `lexer` (§3: encoding, directives, continuation), `parser` (§4,
//! §5), `operand` (values, paths, exec forms), `image_ref` (FROM references,
//! `for_path`, path images), `launch` (LAUNCH, W304), `options` (option
//! syntax and value types), `verify` (INPUT, OUTPUT, METRIC, EXPECT),
//! `declared` (their duplicate check), `number` (numbers and their canonical
//! text), `re1` (RE1 validator and translation), `precedence` (§1.1-8.1),
//! `canonical` (§6), `argv` (§7, §1.1-4.1), `report`, `diagnostic` (§10),
//! `json` (RFC 8259 reader with positions).
//!
//! Readings of the specification where it is not explicit (each is also a
//! comment at the code that implements it; `docs/RUNFILE-1.1.md` lists them
//! all):
//!
//! * Encoding (§3.1) is checked over the whole file before anything else.
//! * An empty file (E210) is shown at 1:1 and a missing `CMD` (E351) at the
//!   keyword of the last instruction; both are keyed at the end of the file.
//! * After `CMD`, a second `CMD` is E352 and anything else E353; both are
//!   checked before FROM/ENTRYPOINT duplicates and before the operands.
//! * Exec-form errors (E341) use CPython 3.11's `json` messages without the
//!   position suffix (`Expecting value`, `Expecting ',' delimiter`,
//!   `Unterminated string starting at`, …); JSON nested deeper than 128 is
//!   rejected; `NaN`/`Infinity` are not JSON (RFC 8259).
//! * A raw TAB inside a JSON string value is E256; `\u0000` anywhere is E259.
//! * The canonical JSON encoder also escapes DEL, the C1 and the bidi
//!   controls (`\u007f`, `\u202e`): §3.1 forbids them raw, so Python's raw
//!   output would not re-parse.
//! * Run-time positions of `BIND`, `WORKDIR` and `PASSENV` are their keywords
//!   (§11.3 shows `3:1`).

mod argv;
mod canonical;
mod declared;
mod diagnostic;
mod image_ref;
mod json;
mod launch;
mod lexer;
mod model;
mod number;
mod operand;
mod options;
mod parser;
mod precedence;
mod re1;
mod report;
mod verify;

pub use argv::{ArgvContext, MOUNT_PLACEHOLDER, PathImageKind};
pub(crate) use canonical::push_python_json_string;
pub use diagnostic::{Diagnostic, Severity};
pub use image_ref::{ImageRef, NameParts, for_path, name_parts};
pub use model::{
    Bind, Compare, EnvOp, Expect, ExpectTest, Input, Launch, MatchMode, Metric, Output, PassEnv,
    Runfile, Step, StepKind, Target, Workdir,
};
pub use number::Number;
pub use re1::{MetricGroup, Re1, Re1Error};
pub use report::{
    ExpectReport, ImageReport, InputReport, LaunchReport, MetricReport, OutputReport, Report,
    StepReport,
};

/// A successfully parsed Runfile and its warnings (W301–W305).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parsed {
    /// The program.
    pub runfile: Runfile,
    /// Warnings in position order; they do not stop parsing.
    pub warnings: Vec<Diagnostic>,
}

/// Parse a Runfile from raw bytes. Exactly one static error is reported,
/// chosen by the precedence rule (RUNFILE-1.1 §8.1); the returned
/// [`Diagnostic`] has severity [`Severity::Error`].
///
/// Never panics, whatever the input.
pub fn parse(source: &[u8]) -> Result<Parsed, Diagnostic> {
    parser::parse(source).1
}

/// Everything a linter prints for `source`, in order: the warnings in
/// position order, then the static error if there is one. With an error, the
/// warnings are those of the instructions before it (the whole-file warnings
/// W304 and W305 need a valid Runfile).
///
/// ```
/// use dsi_plugins_charliecloud::runfile::diagnose;
///
/// let d = diagnose(b"FROM ./x@sha256:24cf73d045ac311b323a08e59cf91e083f4d08041ee636c72581a2398a2acee6\n\
/// ENV P=$HOME\nOUTPUT --compare=fuzzy x\nCMD true\n");
/// let shown: Vec<String> = d.iter().map(|d| d.to_string()).collect();
/// assert_eq!(shown, [
///     "2:7: warning: W301: '$' is literal; Runfiles do not substitute variables",
///     "3:18: error: E373: invalid value for --compare: 'fuzzy' (exact, lines or numbers)",
/// ]);
/// ```
pub fn diagnose(source: &[u8]) -> Vec<Diagnostic> {
    match parser::parse(source) {
        (_, Ok(parsed)) => parsed.warnings,
        (mut warnings, Err(e)) => {
            warnings.push(e);
            warnings
        }
    }
}

impl Runfile {
    /// [`parse`] a string and drop the warnings.
    pub fn parse_str(source: &str) -> Result<Runfile, Diagnostic> {
        parse(source.as_bytes()).map(|p| p.runfile)
    }
}

/// `Runfile::parse_str`.
impl std::str::FromStr for Runfile {
    type Err = Diagnostic;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Runfile::parse_str(s)
    }
}
