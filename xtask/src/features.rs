//! `cargo xtask features`: the `dsi` binary as sites build it, with a
//! subset of its back-ends. Each combination is checked with clippy
//! (`-D warnings`), so that code under a feature gate neither breaks nor
//! leaves unused imports behind when that feature is off. CI runs it.

use crate::util::{cargo, run as sh};

/// The feature sets of dsi-cli that are checked (besides all of them,
/// which the workspace clippy run covers).
pub(crate) const COMBINATIONS: &[&str] = &["", "sqlite", "parquet", "parquet,sql", "s3"];

/// Checks every combination.
pub(crate) fn run() -> anyhow::Result<()> {
    for features in COMBINATIONS {
        let mut c = cargo();
        c.args(["clippy", "-p", "dsi-cli", "--no-default-features"]);
        if !features.is_empty() {
            c.args(["--features", features]);
        }
        c.args(["--", "-D", "warnings"]);
        sh(&mut c)?;
    }
    eprintln!(
        "xtask: features: dsi-cli builds with no back-end and with each of {}",
        COMBINATIONS[1..].join(" | ")
    );
    Ok(())
}
