//! `cargo xtask ci`: what CI runs, in order, stopping at the first failure:
//! setup, fmt, tidy, clippy (all features, then the site feature sets of
//! [`crate::features`]), docs, the tests with the services running, and the
//! quick reliability suite.

use std::collections::BTreeMap;

use crate::services;
use crate::util::{cargo, have, run as sh};

/// Wall time per phase, printed when CI ends (passed or not), so that what
/// each phase costs (the services' start included) is in every CI log.
#[derive(Default)]
struct Phases(Vec<(&'static str, f64)>);

impl Phases {
    fn time<T>(
        &mut self,
        name: &'static str,
        f: impl FnOnce() -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        let t0 = std::time::Instant::now();
        let r = f();
        self.0.push((name, t0.elapsed().as_secs_f64()));
        r
    }

    fn print(&self) {
        let total: f64 = self.0.iter().map(|(_, s)| s).sum();
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|(n, s)| format!("{n} {s:.0} s"))
            .collect();
        eprintln!(
            "xtask: ci phases: {} (total {:.1} min)",
            parts.join(", "),
            total / 60.0
        );
    }
}

/// `cargo xtask ci`.
pub(crate) fn run() -> anyhow::Result<()> {
    let mut phases = Phases::default();
    let result = run_phases(&mut phases);
    phases.print();
    result?;
    eprintln!("xtask: ci passed");
    Ok(())
}

fn run_phases(p: &mut Phases) -> anyhow::Result<()> {
    p.time("setup", crate::setup::run)?;
    p.time("fmt+tidy", || {
        sh(cargo().args(["fmt", "--all", "--check"]))?;
        crate::tidy::run()
    })?;
    p.time("clippy", || {
        sh(cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--all-features",
            "--",
            "-D",
            "warnings",
        ]))?;
        crate::features::run()
    })?;
    p.time("doc", || {
        sh(cargo()
            .args(["doc", "--workspace", "--no-deps", "--all-features"])
            .env("RUSTDOCFLAGS", "-D warnings"))
    })?;
    // Build the tests before starting services, so a compile error fails fast.
    p.time("build tests", || {
        sh(cargo().args(["test", "--workspace", "--all-features", "--no-run"]))
    })?;
    let mut env = p.time("services start", services::start)?;
    let python = p.time("python venv", crate::python::ensure);
    let python = match python {
        Ok(py) => py,
        Err(e) => {
            services::stop()?;
            return Err(e);
        }
    };
    env.insert("DSI_TEST_PYTHON".into(), python.display().to_string());
    // The quick reliability suite reuses the running services; its fuzzing
    // section builds every fuzz target and runs each for 10 s.
    let result = p
        .time("tests", || test(&env))
        .and_then(|()| p.time("embedding example", || embedding_example(&env)))
        .and_then(|()| p.time("reliability (quick)", crate::reliability::quick));
    services::stop()?;
    result
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
/// abbreviated commit twice, verify, export PROV with library crates only) on the
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
        doc["activity"].as_object().is_some_and(|a| a.len() == 2)
            && stderr.contains(": reproduced"),
        "the embedding example did not verify a replay and export both runs:\n{stderr}"
    );
    eprintln!("xtask: the embedding example recorded, replayed, verified and exported");
    Ok(())
}
