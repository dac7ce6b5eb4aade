//! `cargo xtask ci`: what CI runs, in order, stopping at the first failure:
//! setup, fmt, tidy, clippy (all features, then the site feature sets of
//! [`crate::features`]), docs, the tests with the services running, and the
//! quick reliability suite.

use std::collections::BTreeMap;

use crate::services;
use crate::util::{cargo, have, run as sh};

/// `cargo xtask ci`.
pub(crate) fn run() -> anyhow::Result<()> {
    crate::setup::run()?;
    sh(cargo().args(["fmt", "--all", "--check"]))?;
    crate::tidy::run()?;
    sh(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--all-features",
        "--",
        "-D",
        "warnings",
    ]))?;
    crate::features::run()?;
    sh(cargo()
        .args(["doc", "--workspace", "--no-deps", "--all-features"])
        .env("RUSTDOCFLAGS", "-D warnings"))?;
    // Build the tests before starting services, so a compile error fails fast.
    sh(cargo().args(["test", "--workspace", "--all-features", "--no-run"]))?;
    let mut env = services::start()?;
    env.insert(
        "DSI_TEST_PYTHON".into(),
        crate::python::ensure()?.display().to_string(),
    );
    // The quick reliability suite reuses the running services; its fuzzing
    // section builds every fuzz target and runs each for 10 s.
    let result = test(&env).and_then(|()| crate::reliability::quick());
    services::stop()?;
    result?;
    eprintln!("xtask: ci passed");
    Ok(())
}

fn test(env: &BTreeMap<String, String>) -> anyhow::Result<()> {
    if have("cargo-nextest") {
        sh(cargo()
            .args([
                "nextest",
                "run",
                "--workspace",
                "--all-features",
                "--no-fail-fast",
            ])
            .envs(env))?;
    } else {
        sh(cargo()
            .args([
                "test",
                "--workspace",
                "--all-features",
                "--lib",
                "--bins",
                "--tests",
            ])
            .envs(env))?;
    }
    // nextest does not run doctests.
    sh(cargo()
        .args(["test", "--workspace", "--all-features", "--doc"])
        .envs(env))
}
