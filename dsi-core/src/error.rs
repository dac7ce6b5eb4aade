//! The one error type of dsi-core, shared by every plugin and driver.
//!
//! Variants are semantic (what went wrong), not tied to one back-end, so that the
//! command line can map them to exit codes and hints without knowing which crate
//! produced them. Back-end crates keep their own private error enums and convert
//! into [`Error`] with `From`.

use std::fmt;

/// Result alias used throughout dsi.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Boxed source error carried by the generic variants.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong in the DSI core, its plugins and its drivers.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A named thing (table, run, blob, commit, …) does not exist.
    ///
    /// Callers match on `kind` (never on the message): `table`, `column`,
    /// `run`, `commit`, `blob`, `image`, `store`, `module`, ….
    #[error("{kind} '{key}' not found{}", place.as_ref().map(|p| format!(" in {p}")).unwrap_or_default())]
    NotFound {
        /// What kind of thing, e.g. `table`.
        kind: &'static str,
        /// The name or key that was looked for, e.g. `runs`.
        key: String,
        /// Where it was looked for, e.g. `table 'runs'` for a column.
        place: Option<String>,
    },

    /// A prefix or name that matches more than one thing.
    #[error("{kind} '{key}' is ambiguous: it matches {}; give more characters", list_candidates(.candidates))]
    Ambiguous {
        /// What kind of thing, e.g. `run`.
        kind: &'static str,
        /// The prefix given.
        key: String,
        /// Some of the things it matches (at least two).
        candidates: Vec<String>,
    },

    /// A thing that must be unique already exists.
    #[error("{what} already exists")]
    AlreadyExists {
        /// Description of the duplicate.
        what: String,
    },

    /// The driver or plugin does not offer this operation.
    #[error("{operation} is not supported by {module}")]
    NotSupported {
        /// The operation that was asked for, e.g. `put`.
        operation: &'static str,
        /// The module that does not support it.
        module: String,
    },

    /// A module name that is not registered.
    #[error("unknown {kind} '{name}'; available: {}", list_or_none(.available))]
    UnknownModule {
        /// `plugin` or `driver`.
        kind: ModuleKind,
        /// The name that was asked for.
        name: String,
        /// The registered names of that kind.
        available: Vec<String>,
    },

    /// Options or configuration that a module refuses.
    #[error("{module}: {message}")]
    InvalidConfig {
        /// The module whose options are at fault.
        module: String,
        /// What is wrong, naming the key.
        message: String,
    },

    /// Data that breaks the model's rules (unequal columns, type mismatch, …).
    #[error("{0}")]
    InvalidData(String),

    /// An operation that the Terminal refuses in its current state.
    #[error("{0}")]
    Refused(String),

    /// Stored data that fails verification (digest or length mismatch).
    #[error("corrupt data: {0}")]
    Corrupt(String),

    /// The store was written by a newer dsi, or is not a dsi store at all.
    #[error("incompatible store: {0}")]
    IncompatibleStore(String),

    /// An I/O error, with what was being done.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, naming the file.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// A back-end specific failure.
    #[error("{driver}: {source}")]
    Backend {
        /// The driver that failed.
        driver: String,
        /// The underlying error.
        #[source]
        source: BoxError,
    },

    /// A plugin specific failure.
    #[error("{plugin}: {source}")]
    Plugin {
        /// The plugin that failed.
        plugin: String,
        /// The underlying error.
        #[source]
        source: BoxError,
    },
}

impl Error {
    /// Wraps an I/O error with what was being done.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// Builds [`Error::NotFound`] with no place.
    pub fn not_found(kind: &'static str, key: impl Into<String>) -> Self {
        Error::NotFound {
            kind,
            key: key.into(),
            place: None,
        }
    }

    /// Builds [`Error::NotFound`] naming where it was looked for.
    pub fn not_found_in(
        kind: &'static str,
        key: impl Into<String>,
        place: impl Into<String>,
    ) -> Self {
        Error::NotFound {
            kind,
            key: key.into(),
            place: Some(place.into()),
        }
    }

    /// Whether this is [`Error::NotFound`] of the given kind.
    pub fn is_not_found(&self, of: &str) -> bool {
        matches!(self, Error::NotFound { kind, .. } if *kind == of)
    }

    /// Builds [`Error::NotSupported`].
    pub fn not_supported(operation: &'static str, module: impl Into<String>) -> Self {
        Error::NotSupported {
            operation,
            module: module.into(),
        }
    }

    /// Builds [`Error::Backend`] from any error.
    pub fn backend(driver: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Error::Backend {
            driver: driver.into(),
            source: source.into(),
        }
    }

    /// Builds [`Error::Plugin`] from any error.
    pub fn plugin(plugin: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Error::Plugin {
            plugin: plugin.into(),
            source: source.into(),
        }
    }

    /// Builds [`Error::InvalidConfig`].
    pub fn config(module: impl Into<String>, message: impl Into<String>) -> Self {
        Error::InvalidConfig {
            module: module.into(),
            message: message.into(),
        }
    }
}

/// The two kinds of module a Terminal loads.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum ModuleKind {
    /// A plugin (consumer or producer of rows).
    Plugin,
    /// A driver (back-end or front-end).
    Driver,
}

impl fmt::Display for ModuleKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ModuleKind::Plugin => "plugin",
            ModuleKind::Driver => "driver",
        })
    }
}

fn list_candidates(names: &[String]) -> String {
    names.join(", ")
}

fn list_or_none(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_module_lists_available() {
        let e = Error::UnknownModule {
            kind: ModuleKind::Driver,
            name: "postgres".into(),
            available: vec!["memory".into(), "sqlite".into()],
        };
        assert_eq!(
            e.to_string(),
            "unknown driver 'postgres'; available: memory, sqlite"
        );
        let e = Error::UnknownModule {
            kind: ModuleKind::Plugin,
            name: "x".into(),
            available: vec![],
        };
        assert_eq!(e.to_string(), "unknown plugin 'x'; available: none");
    }

    #[test]
    fn not_found_and_ambiguous_are_structured() {
        let e = Error::not_found_in("column", "zz", "table 't'");
        assert_eq!(e.to_string(), "column 'zz' not found in table 't'");
        assert!(e.is_not_found("column") && !e.is_not_found("table"));
        assert_eq!(
            Error::not_found("table", "runs").to_string(),
            "table 'runs' not found"
        );
        let e = Error::Ambiguous {
            kind: "run",
            key: "01M".into(),
            candidates: vec!["01MA".into(), "01MB".into()],
        };
        assert_eq!(
            e.to_string(),
            "run '01M' is ambiguous: it matches 01MA, 01MB; give more characters"
        );
    }
}
