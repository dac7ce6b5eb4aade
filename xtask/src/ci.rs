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
    let result = test(&env)
        .and_then(|()| embedding_example(&env))
        .and_then(|()| crate::reliability::quick());
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

/// Runs `dsi-plugins-charliecloud/examples/embed.rs` (record, replay by an
/// abbreviated commit, verify, export PROV with library crates only) on the
/// local test image; it must verify and print a PROV document.
fn embedding_example(env: &BTreeMap<String, String>) -> anyhow::Result<()> {
    let storage = env
        .get("DSI_TEST_BUILD_STORAGE")
        .ok_or_else(|| anyhow::anyhow!("the services gave no DSI_TEST_BUILD_STORAGE"))?;
    let dir = crate::util::target_dir().join("embed-example");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    // Both programs were built by the test build (`cargo test` builds the
    // examples too).
    let debug = crate::util::target_dir().join("debug");
    let pin = std::process::Command::new(debug.join("dsi"))
        .args(["runfile", "pin", "dsi-test", "--ch-storage", storage])
        .envs(env)
        .output()?;
    anyhow::ensure!(
        pin.status.success(),
        "dsi runfile pin: {}",
        String::from_utf8_lossy(&pin.stderr)
    );
    let from = String::from_utf8(pin.stdout)?;
    let runfile = dir.join("Runfile");
    std::fs::write(
        &runfile,
        format!(
            "{}\nCMD [\"/opt/app/bin/hello\", \"embedded\"]\n",
            from.trim()
        ),
    )?;
    let out = std::process::Command::new(debug.join("examples/embed"))
        .arg("--storage")
        .arg(storage)
        .arg("--store")
        .arg(dir.join("embed.db"))
        .arg(&runfile)
        .envs(env)
        .output()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    anyhow::ensure!(
        out.status.success(),
        "the embedding example failed:\n{stderr}"
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    anyhow::ensure!(
        doc["activity"].as_object().is_some_and(|a| a.len() == 2) && stderr.contains(": verified"),
        "the embedding example did not verify a replay and export both runs:\n{stderr}"
    );
    eprintln!("xtask: the embedding example recorded, replayed, verified and exported");
    Ok(())
}
