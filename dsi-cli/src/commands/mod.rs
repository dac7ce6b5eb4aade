//! One module per command; [`run`] dispatches.

mod collect;
mod modules;
mod runfile;

use crate::cli::{Cli, Command, RunfileCommand};
use crate::exit::ExitStatus;

/// Runs the parsed command.
pub(crate) fn run(cli: &Cli) -> anyhow::Result<ExitStatus> {
    match &cli.command {
        Command::Plugins => modules::plugins(&cli.global),
        Command::Drivers => modules::drivers(&cli.global),
        Command::Collect(args) => collect::run(&cli.global, args),
        Command::Runfile {
            command: RunfileCommand::Check(args),
        } => runfile::check(&cli.global, args),
    }
}
