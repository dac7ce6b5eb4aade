//! Diagnostics: positioned errors and warnings in the format of RUNFILE.md §10.
//!
//! ```text
//! FILE:LINE:COL: error: CODE: message
//!   hint: text
//! FILE:LINE:COL: warning: CODE: message
//! ```

use std::fmt;

/// Whether a [`Diagnostic`] stops processing. Serialised as `"error"` or
/// `"warning"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// A static error stops parsing (exit 65); a run-time error stops the replay.
    Error,
    /// A warning is reported and processing goes on.
    Warning,
}

impl Severity {
    /// `"error"` or `"warning"`, as written in a rendered diagnostic.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A positioned message about a Runfile (RUNFILE.md §10).
///
/// `line` is the 1-based physical line, `col` the 1-based index of the Unicode
/// scalar value within that line (§3.2). Serialised as
/// `{line, col, severity, code, message, hint}`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, schemars::JsonSchema)]
pub struct Diagnostic {
    /// 1-based physical line number.
    pub line: usize,
    /// 1-based column, counted in Unicode scalar values.
    pub col: usize,
    /// Error or warning.
    pub severity: Severity,
    /// The code of §10, e.g. `"E245"` or `"W301"`.
    pub code: &'static str,
    /// The message, without position, severity or code.
    pub message: String,
    /// An optional hint, rendered on a second, indented line.
    pub hint: Option<String>,
}

impl Diagnostic {
    /// Build an error, e.g. a run-time diagnostic (E401–E411, E501) positioned
    /// at an instruction.
    pub fn error(line: usize, col: usize, code: &'static str, message: impl Into<String>) -> Self {
        Diagnostic {
            line,
            col,
            severity: Severity::Error,
            code,
            message: message.into(),
            hint: None,
        }
    }

    /// Build a warning (W301–W303, W401).
    pub fn warning(
        line: usize,
        col: usize,
        code: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(line, col, code, message)
        }
    }

    /// Attach a hint.
    #[must_use]
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// `FILE:LINE:COL: error: CODE: message` and, if there is a hint, a second
    /// line `  hint: text` (no trailing newline).
    pub fn render(&self, file: &str) -> String {
        let mut out = format!("{file}:{self}");
        if let Some(hint) = &self.hint {
            out.push_str("\n  hint: ");
            out.push_str(hint);
        }
        out
    }
}

/// `LINE:COL: error: CODE: message` (no file name, no hint).
impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {}: {}: {}",
            self.line, self.col, self.severity, self.code, self.message
        )
    }
}

impl std::error::Error for Diagnostic {}
