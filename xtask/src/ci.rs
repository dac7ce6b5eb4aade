//! `cargo xtask ci`: what CI runs, in order, stopping at the first failure.

use crate::util::{cargo, have, run as sh};

/// `cargo xtask ci`.
pub(crate) fn run() -> anyhow::Result<()> {
    crate::setup::run()?;
    sh(cargo().args(["fmt", "--all", "--check"]))?;
    sh(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--all-features",
        "--",
        "-D",
        "warnings",
    ]))?;
    sh(cargo()
        .args(["doc", "--workspace", "--no-deps", "--all-features"])
        .env("RUSTDOCFLAGS", "-D warnings"))?;
    test()?;
    eprintln!("xtask: ci passed");
    Ok(())
}

fn test() -> anyhow::Result<()> {
    if have("cargo-nextest") {
        sh(cargo().args([
            "nextest",
            "run",
            "--workspace",
            "--all-features",
            "--no-fail-fast",
        ]))?;
    } else {
        sh(cargo().args([
            "test",
            "--workspace",
            "--all-features",
            "--lib",
            "--bins",
            "--tests",
        ]))?;
    }
    // nextest does not run doctests.
    sh(cargo().args(["test", "--workspace", "--all-features", "--doc"]))
}
