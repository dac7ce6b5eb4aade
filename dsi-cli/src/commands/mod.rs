//! One module per command; [`run`] dispatches.

mod artifact;
mod collect;
mod diff;
mod export;
mod fsck;
mod generate;
mod ingest;
mod inspect;
mod list;
mod modules;
mod notebook;
mod query;
pub(crate) mod record;
mod replay;
mod runfile;
mod settings;
mod show;

use crate::cli::{Cli, Command, IngestFormat, RunfileCommand};
use crate::exit::ExitStatus;

/// Runs the parsed command.
pub(crate) fn run(cli: &Cli) -> anyhow::Result<ExitStatus> {
    match &cli.command {
        Command::Plugins => modules::plugins(&cli.global),
        Command::Drivers => modules::drivers(&cli.global),
        Command::Collect(args) => collect::run(&cli.global, args),
        Command::Record(args) => record::run(&cli.global, args),
        Command::Replay(args) => replay::replay(&cli.global, args),
        Command::Run(args) => replay::run(&cli.global, args),
        Command::Diff(args) => diff::run(&cli.global, args),
        Command::List(args) => list::run(&cli.global, args),
        Command::Query(args) => query::run(&cli.global, args),
        Command::Ingest {
            format: IngestFormat::Csv(args),
        } => ingest::csv(&cli.global, args),
        Command::Export(args) => export::run(&cli.global, args),
        Command::Inspect(args) => inspect::run(&cli.global, args),
        Command::Fsck => fsck::run(&cli.global),
        Command::Config => settings::show(&cli.global),
        Command::Completions { shell } => generate::completions(*shell),
        Command::GenerateMan { dir } => generate::man(dir),
        Command::Show(args) => show::run(&cli.global, args),
        Command::Checkout(args) => artifact::checkout(&cli.global, args),
        Command::Push(args) => artifact::push(&cli.global, args),
        Command::Pull(args) => artifact::pull(&cli.global, args),
        Command::Runfile {
            command: RunfileCommand::Check(args),
        } => runfile::check(&cli.global, args),
        Command::Runfile {
            command: RunfileCommand::Pin(args),
        } => runfile::pin(&cli.global, args),
    }
}
