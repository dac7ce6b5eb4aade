//! `dsi completions SHELL` (dynamic completion's registration) and the man pages (`dsi generate-man DIR`, used by
//! `cargo xtask man`), both generated from the clap definitions.

use std::path::Path;

use anyhow::Context;
use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::Cli;
use crate::exit::ExitStatus;

/// `dsi completions SHELL`: the shell's registration of dynamic completion
/// on stdout. The shell then asks `dsi` itself (`COMPLETE=SHELL dsi -- …`)
/// at every <TAB>, so run ids, commits and driver names come from the
/// store and the build (see `crate::complete`).
pub(crate) fn completions(shell: Shell) -> anyhow::Result<ExitStatus> {
    let name = shell.to_string();
    let shells = clap_complete::env::Shells::builtins();
    let completer = shells
        .completer(&name)
        .with_context(|| format!("no dynamic completion for {name}"))?;
    // Whichever way dsi was started is how the shell will call it.
    let program = std::env::args_os()
        .next()
        .and_then(|p| {
            let p = std::path::PathBuf::from(p);
            if p.components().count() > 1 {
                std::path::absolute(&p).ok()
            } else {
                Some(p)
            }
        })
        .map_or_else(|| "dsi".to_owned(), |p| p.to_string_lossy().into_owned());
    let mut script = Vec::new();
    completer.write_registration("COMPLETE", "dsi", "dsi", &program, &mut script)?;
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
