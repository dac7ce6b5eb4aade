//! One module per command; [`run`] dispatches.

mod collect;
mod modules;

use crate::cli::{Cli, Command};
use crate::exit::ExitStatus;

/// Runs the parsed command.
pub(crate) fn run(cli: &Cli) -> anyhow::Result<ExitStatus> {
    match &cli.command {
        Command::Plugins => modules::plugins(&cli.global),
        Command::Drivers => modules::drivers(&cli.global),
        Command::Collect(args) => collect::run(&cli.global, args),
    }
}
