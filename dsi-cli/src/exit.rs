//! Exit statuses and the one-line error report.
//!
//! Every error is printed as one `error: …` line (the causes joined with
//! `: `), followed by a `hint: …` line where dsi knows what to do about it;
//! with `--json`, as one JSON object on stderr instead:
//! `{"error": {"code": …, "status": …, "message": …, "hint": …}}`, where
//! `code` is the Runfile diagnostic's code (`E406`) or the kind of error
//! (`not_found`, `invalid_data`, …). Text that may come from a store is
//! escaped for the terminal. The status is chosen from the first
//! [`dsi_core::Error`] in the chain.

use std::io::Write;

use dsi_core::Error;
use dsi_plugins_charliecloud::RunfileError;
use dsi_plugins_charliecloud::artifact::repo::GitError;

/// Static Runfile errors are invalid input (65); image and pre-flight errors
/// mean something is unavailable (69); a failed step passes its status on.
fn runfile_status(r: &RunfileError) -> ExitStatus {
    if let Some(code) = r.exit_status {
        return ExitStatus::Code(u8::try_from(code.clamp(1, 255)).unwrap_or(1));
    }
    if r.is_static() {
        ExitStatus::DataErr
    } else {
        ExitStatus::Unavailable
    }
}

/// The documented exit statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// 0: success.
    Ok,
    /// 1: a run failed, or its verdict is not-reproduced or failed.
    Failed,
    /// 2: usage error.
    Usage,
    /// 65: invalid Runfile or input data.
    DataErr,
    /// 69: an image or service is unavailable.
    Unavailable,
    /// 74: an I/O or store error.
    IoErr,
    /// The exit status of a failed container step (E501).
    Code(u8),
}

impl ExitStatus {
    /// The numeric code.
    pub fn code(self) -> u8 {
        match self {
            ExitStatus::Ok => 0,
            ExitStatus::Failed => 1,
            ExitStatus::Usage => 2,
            ExitStatus::DataErr => 65,
            ExitStatus::Unavailable => 69,
            ExitStatus::IoErr => 74,
            ExitStatus::Code(c) => c,
        }
    }
}

impl From<ExitStatus> for std::process::ExitCode {
    fn from(s: ExitStatus) -> Self {
        std::process::ExitCode::from(s.code())
    }
}

/// An error already rendered in its own format (e.g. a Runfile diagnostic
/// `FILE:LINE:COL: error: CODE: message`), printed as is, with its status.
#[derive(Debug)]
pub(crate) struct Diagnosed {
    text: String,
    status: ExitStatus,
}

impl Diagnosed {
    pub(crate) fn new(text: String, status: ExitStatus) -> Self {
        Diagnosed { text, status }
    }
}

impl std::fmt::Display for Diagnosed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::error::Error for Diagnosed {}

/// The exit status for an error: the most specific cause decides.
pub(crate) fn status_of(e: &anyhow::Error) -> ExitStatus {
    for cause in e.chain() {
        if let Some(d) = cause.downcast_ref::<Diagnosed>() {
            return d.status;
        }
        if let Some(r) = cause.downcast_ref::<RunfileError>() {
            return runfile_status(r);
        }
        if cause.downcast_ref::<GitError>().is_some() {
            return ExitStatus::Unavailable;
        }
    }
    for cause in e.chain() {
        if let Some(err) = cause.downcast_ref::<Error>() {
            return match err {
                Error::UnknownModule { .. } | Error::InvalidConfig { .. } => ExitStatus::Usage,
                Error::InvalidData(_)
                | Error::NotFound { .. }
                | Error::Ambiguous { .. }
                | Error::AlreadyExists { .. }
                | Error::Refused(_) => ExitStatus::DataErr,
                Error::NotSupported { .. } => ExitStatus::Usage,
                Error::Corrupt(_)
                | Error::IncompatibleStore(_)
                | Error::Io { .. }
                | Error::Backend { .. } => ExitStatus::IoErr,
                _ => ExitStatus::Failed,
            };
        }
        if cause.downcast_ref::<std::io::Error>().is_some() {
            return ExitStatus::IoErr;
        }
    }
    ExitStatus::Failed
}

/// A hint for errors dsi knows how to help with.
fn hint_of(e: &anyhow::Error) -> Option<String> {
    e.chain()
        .find_map(|cause| match cause.downcast_ref::<Error>()? {
            Error::UnknownModule { kind, .. } => {
                Some(format!("`dsi {kind}s` lists what this build contains"))
            }
            Error::IncompatibleStore(_) => {
                Some("point --store at a dsi store, or at a new file".into())
            }
            Error::NotFound { kind: "store", .. } => Some(
                "read commands never create a store: check --store (or DSI_STORE, dsi.toml); dsi record creates one"
                    .into(),
            ),
            Error::NotFound { kind: "run or commit", .. } => {
                Some("`dsi list` shows the runs and `dsi log` the commits".into())
            }
            _ => None,
        })
}

/// The machine-readable kind of an error, for `--json`.
fn code_of(e: &anyhow::Error) -> String {
    if let Some(r) = e.chain().find_map(|c| c.downcast_ref::<RunfileError>()) {
        return r.diagnostic.code.to_owned();
    }
    e.chain()
        .find_map(|c| c.downcast_ref::<Error>())
        .map_or("error", |err| match err {
            Error::NotFound { .. } => "not_found",
            Error::Ambiguous { .. } => "ambiguous",
            Error::AlreadyExists { .. } => "already_exists",
            Error::NotSupported { .. } => "not_supported",
            Error::UnknownModule { .. } => "unknown_module",
            Error::InvalidConfig { .. } => "invalid_config",
            Error::InvalidData(_) => "invalid_data",
            Error::Refused(_) => "refused",
            Error::Corrupt(_) => "corrupt",
            Error::IncompatibleStore(_) => "incompatible_store",
            Error::Io { .. } => "io",
            _ => "error",
        })
        .to_owned()
}

/// Prints the error (and hint) to stderr — as JSON with `--json` — and
/// returns its exit status.
pub(crate) fn report(e: &anyhow::Error, json: bool) -> ExitStatus {
    let status = match e.downcast_ref::<Diagnosed>() {
        Some(d) => d.status,
        None => match e.chain().find_map(|c| c.downcast_ref::<RunfileError>()) {
            Some(r) => runfile_status(r),
            None => status_of(e),
        },
    };
    let mut err = std::io::stderr().lock();
    if json {
        let (message, hint) = match e.chain().find_map(|c| c.downcast_ref::<RunfileError>()) {
            Some(r) => (
                r.diagnostic
                    .render(&r.file)
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_owned(),
                r.diagnostic.hint.clone(),
            ),
            None => (one_line(e), hint_of(e)),
        };
        let doc = crate::json::ErrorDoc {
            error: crate::json::ErrorBody {
                code: code_of(e),
                status: status.code(),
                message,
                hint,
            },
        };
        let _ = writeln!(
            err,
            "{}",
            serde_json::to_string(&doc).expect("an error document serialises")
        );
        return status;
    }
    // Line by line: a diagnostic's hint is on a line of its own.
    let shown = |t: &str| {
        t.lines()
            .map(|l| dsi_core::text::for_terminal(l).into_owned())
            .collect::<Vec<_>>()
            .join("\n")
    };
    if let Some(d) = e.downcast_ref::<Diagnosed>() {
        let _ = writeln!(err, "{}", shown(&d.text));
        return status;
    }
    // A Runfile diagnostic is printed in the spec's own format.
    if let Some(r) = e.chain().find_map(|c| c.downcast_ref::<RunfileError>()) {
        let _ = writeln!(err, "{}", shown(&r.to_string()));
        return status;
    }
    let _ = writeln!(err, "error: {}", shown(&one_line(e)));
    if let Some(h) = hint_of(e) {
        let _ = writeln!(err, "hint: {h}");
    }
    status
}

/// The error and its causes on one line, without repeating a cause that the
/// message already contains.
pub(crate) fn one_line(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string().replace('\n', " ");
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}
