//! # dsi-cli
//!
//! The `dsi` command line: composes any registered plugin with any registered
//! driver. The binary is a thin `main` over [`main`]; this library exists so
//! that the driver and plugin crates are linked (their `inventory`
//! registrations survive only in crates the binary names) and so that tests
//! can reach the command definitions.
//!
//! Exit codes (also in `dsi --help`): 0 success; 1 a run failed or a
//! verification did not match; 2 usage error; 65 invalid Runfile or input
//! data; 69 an image or service is unavailable; 74 an I/O or store error.

// One line per linked back-end or plugin crate: without a reference, the
// linker drops the crate and its registrations with it.
#[cfg(feature = "parquet")]
use dsi_driver_parquet as _;
#[cfg(feature = "s3")]
use dsi_driver_s3 as _;
#[cfg(feature = "sqlite")]
use dsi_driver_sqlite as _;
// The Charliecloud plugins are the point of the binary: always linked.
use dsi_plugins_charliecloud as _;

mod cli;
mod commands;
mod complete;
mod config;
mod exit;
pub mod json;
mod logging;
mod output;
pub mod schema;
mod stores;

pub use cli::Cli;
pub use exit::ExitStatus;

use clap::Parser;

/// The names of the drivers this build links: one per enabled driver
/// feature (git remotes are not back-ends: `dsi push`/`pull` use them).
pub const ENABLED_DRIVERS: &[&str] = &[
    #[cfg(feature = "parquet")]
    "parquet",
    #[cfg(feature = "s3")]
    "s3",
    #[cfg(feature = "sqlite")]
    "sqlite",
];

/// Runs `dsi` with the process's arguments and returns its exit code.
pub fn main() -> std::process::ExitCode {
    // `COMPLETE=SHELL dsi …`: print completions and exit.
    clap_complete::CompleteEnv::with_factory(<Cli as clap::CommandFactory>::command).complete();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                ExitStatus::Usage
            } else {
                ExitStatus::Ok
            };
            // clap prints help, version and usage errors itself.
            let _ = e.print();
            return code.into();
        }
    };
    logging::init(cli.global.verbose, cli.global.quiet);
    match commands::run(&cli) {
        Ok(status) => status.into(),
        // The reader of our output went away (`dsi list | head`): end
        // quietly with the status of a process killed by SIGPIPE.
        Err(e) if output::stdout_closed(&e) => std::process::ExitCode::from(141),
        Err(e) => exit::report(&e, cli.global.json).into(),
    }
}

/// The examples of this crate's README, run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
