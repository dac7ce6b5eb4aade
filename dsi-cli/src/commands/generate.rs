//! `dsi completions SHELL` and the man pages (`dsi generate-man DIR`, used by
//! `cargo xtask man`), both generated from the clap definitions.

use std::path::Path;

use anyhow::Context;
use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::Cli;
use crate::exit::ExitStatus;

/// `dsi completions SHELL`: the completion script on stdout.
pub(crate) fn completions(shell: Shell) -> anyhow::Result<ExitStatus> {
    let mut cmd = Cli::command();
    // Generated into memory: clap_complete panics on a failed write.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "dsi", &mut script);
    std::io::Write::write_all(&mut crate::output::stdout(), &script)?;
    Ok(ExitStatus::Ok)
}

/// `dsi generate-man DIR`: `dsi.1` and one page per command.
pub(crate) fn man(dir: &Path) -> anyhow::Result<ExitStatus> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    clap_mangen::generate_to(Cli::command(), dir)
        .with_context(|| format!("writing man pages to {}", dir.display()))?;
    Ok(ExitStatus::Ok)
}
