//! Fuzzing the Runfile parser with `cargo fuzz` (libFuzzer): `cargo xtask
//! fuzz [--seconds N]` builds the target and runs it from the committed seeds
//! (`fuzz/seeds/runfile/`) for N seconds; CI does a short run. Builds on
//! stable Rust without a sanitizer (`-s none`), so no nightly toolchain is
//! needed; crashes are written to `fuzz/artifacts/` and fail the task.

use std::process::Command;

use crate::util::{cargo, have, run as sh};

/// Installs cargo-fuzz when missing.
pub(crate) fn install() -> anyhow::Result<()> {
    if have("cargo-fuzz") {
        return Ok(());
    }
    sh(cargo().args(["install", "cargo-fuzz", "--locked"]))
}

/// Builds the target and fuzzes it for `seconds`.
pub(crate) fn run(seconds: u32) -> anyhow::Result<()> {
    install()?;
    sh(cargo().args(["fuzz", "build", "-s", "none", "runfile_parse"]))?;
    let corpus = crate::util::project_root().join("fuzz/corpus/runfile_parse");
    std::fs::create_dir_all(&corpus)?;
    sh(
        Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["fuzz", "run", "-s", "none", "runfile_parse"])
            .arg(&corpus)
            .arg("fuzz/seeds/runfile")
            .args([
                "--",
                &format!("-max_total_time={seconds}"),
                "-dict=fuzz/runfile.dict",
            ]),
    )
}
