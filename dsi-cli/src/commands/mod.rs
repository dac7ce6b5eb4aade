//! One module per command; [`run`] dispatches.

mod artifact;
mod campaign;
mod collect;
mod diff;
mod export;
mod fsck;
mod generate;
mod ingest;
mod inspect;
pub(crate) mod list;
mod log;
mod maintain;
mod modules;
mod query;
pub(crate) mod record;
mod replay;
mod runfile;
mod settings;
mod show;
mod why;

use dsi_plugins_charliecloud::settings::ImageSettings;

use crate::cli::{Cli, Command, ImageArgs, IngestFormat, RunfileCommand};
use crate::exit::ExitStatus;

/// The image settings of the `--ch-storage`, `--offline` and `--full` options.
pub(crate) fn image_settings(image: &ImageArgs) -> anyhow::Result<ImageSettings> {
    Ok(ImageSettings::new(
        image.ch_storage.clone(),
        !image.offline,
        image.full,
    ))
}

/// Runs the parsed command.
pub(crate) fn run(cli: &Cli) -> anyhow::Result<ExitStatus> {
    let g = &cli.global;
    match &cli.command {
        Command::Plugins => modules::plugins(g),
        Command::Drivers => modules::drivers(g),
        Command::Collect(args) => collect::run(g, args),
        Command::Record(args) => record::run(g, args),
        Command::Replay(args) => replay::replay(g, args),
        Command::Run(args) => replay::run(g, args),
        Command::Diff(args) => diff::run(g, args),
        Command::Why(args) => why::run(g, args),
        Command::List(args) => list::run(g, args),
        Command::Log(args) => log::run(g, args),
        Command::Query(args) => query::run(g, args),
        Command::Ingest {
            format: IngestFormat::Csv(args),
        } => ingest::csv(g, args),
        Command::Export(args) => export::run(g, args),
        Command::Inspect(args) => inspect::run(g, args),
        Command::Fsck => fsck::run(g),
        Command::Compact => maintain::compact(g),
        Command::Migrate => maintain::migrate(g),
        Command::Config => settings::show(g),
        Command::Completions { shell } => generate::completions(*shell),
        Command::GenerateMan { dir } => generate::man(dir),
        Command::Show(args) => show::run(g, args),
        Command::Checkout(args) => artifact::checkout(g, args),
        Command::Push(args) => artifact::push(g, args),
        Command::Pull(args) => artifact::pull(g, args),
        Command::Runfile {
            command: RunfileCommand::Check(args),
        } => runfile::check(g, args),
        Command::Runfile {
            command: RunfileCommand::Pin(args),
        } => runfile::pin(g, args),
        Command::Campaign { command } => campaign::run(g, command),
    }
}
