//! [`RunfileError`]: a positioned Runfile diagnostic carried through
//! `dsi_core::Error`, so that the command line can print it in the spec's
//! format (`FILE:LINE:COL: error: CODE: message`) and choose the exit status
//! from its code.

use crate::runfile::Diagnostic;

/// A Runfile diagnostic and the file it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunfileError {
    /// The file name shown in the diagnostic.
    pub file: String,
    /// The diagnostic.
    pub diagnostic: Diagnostic,
    /// For E501: the failing step's exit status (the process exits with it).
    pub exit_status: Option<i32>,
}

impl RunfileError {
    /// Wraps a diagnostic about `file`.
    pub fn new(file: impl Into<String>, diagnostic: Diagnostic) -> Self {
        RunfileError {
            file: file.into(),
            diagnostic,
            exit_status: None,
        }
    }

    /// As a `dsi_core::Error` from `plugin`.
    pub fn into_error(self, plugin: &str) -> dsi_core::Error {
        dsi_core::Error::plugin(plugin, self)
    }

    /// Whether this is a static error of the Runfile itself (E1xx–E3xx).
    pub fn is_static(&self) -> bool {
        matches!(
            self.diagnostic.code.as_bytes().get(1),
            Some(b'1' | b'2' | b'3')
        )
    }
}

impl std::fmt::Display for RunfileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.diagnostic.render(&self.file))
    }
}

impl std::error::Error for RunfileError {}
