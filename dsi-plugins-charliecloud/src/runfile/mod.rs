//! The Runfile v1: a Dockerfile-like file that pins a Charliecloud image by
//! digest and describes how to run it (see `RUNFILE.md`).
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
//!     "Runfile:1:6: error: E245: image reference must be pinned: '127.0.0.1:5000/rf-base:v1'"
//! );
//! ```
//!
//! Modules: `lexer` (§3: encoding, directives, continuation), `parser` (§4,
//! §5), `image_ref` (FROM references, `for_path`), `canonical` (§6),
//! `argv` (§7), `diagnostic` (§10), `json` (RFC 8259 reader with positions).
//!
//! Readings of the specification where it is not explicit (each is also a
//! comment at the code that implements it):
//!
//! * Encoding (§3.1) is checked over the whole file before anything else.
//! * A missing `FROM` (empty file, E210) or `CMD` (E351) is reported at the
//!   end of the file: the line after a final LF, column 1.
//! * After `CMD`, a second `CMD` is E352 and anything else E353; both are
//!   checked before FROM/ENTRYPOINT duplicates and before the operands.
//! * Exec-form errors (E341) use CPython 3.11's `json` messages without the
//!   position suffix (`Expecting value`, `Expecting ',' delimiter`,
//!   `Unterminated string starting at`, …); JSON nested deeper than 128 is
//!   rejected; `NaN`/`Infinity` are not JSON (RFC 8259).
//! * A raw TAB inside a JSON string value is E256; `\u0000` anywhere is E259.
//! * The canonical JSON encoder also escapes DEL as `\u007f` (a raw DEL is
//!   forbidden by §3.1, so Python's raw output would not re-parse).
//! * Run-time positions of `BIND`, `WORKDIR` and `PASSENV` are their keywords
//!   (§11.3 shows `3:1`).

mod argv;
mod canonical;
mod diagnostic;
mod image_ref;
mod json;
mod lexer;
mod model;
mod parser;

pub use argv::ArgvContext;
pub(crate) use canonical::push_python_json_string;
pub use diagnostic::{Diagnostic, Severity};
pub use image_ref::{ImageRef, for_path};
pub use model::{Bind, EnvOp, PassEnv, Runfile, Step, StepKind, Workdir};

/// A successfully parsed Runfile and its warnings (W301–W303).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parsed {
    /// The program.
    pub runfile: Runfile,
    /// Warnings in file order; they do not stop parsing.
    pub warnings: Vec<Diagnostic>,
}

/// Parse a Runfile from raw bytes. Static errors stop at the first error
/// (§10); the returned [`Diagnostic`] has severity [`Severity::Error`].
///
/// Never panics, whatever the input.
pub fn parse(source: &[u8]) -> Result<Parsed, Diagnostic> {
    parser::parse(source)
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
