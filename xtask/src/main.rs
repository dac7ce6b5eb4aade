//! Developer tasks for the dsi workspace (`cargo xtask <task>`).
//!
//! * `setup` — install the Debian packages and tools the tests and the demo
//!   need (idempotent; root only, otherwise it says what to install);
//! * `ci` — everything CI checks: setup, `cargo fmt --check`, clippy with
//!   `-D warnings`, docs with `-D warnings`, and every test, with the test
//!   services running;
//! * `services start|stop` — the example image, an OCI registry on loopback
//!   (see [`services`]).

mod ci;
mod services;
mod setup;
mod util;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "cargo xtask", about = "Developer tasks for the dsi workspace")]
struct Args {
    #[command(subcommand)]
    task: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Install the system packages and tools the tests and the demo need.
    Setup,
    /// Run every check CI runs: setup, fmt, clippy, docs, all tests.
    Ci,
    /// Start or stop the test services (image, registry).
    Services {
        #[command(subcommand)]
        action: ServicesAction,
    },
}

#[derive(Debug, Subcommand)]
enum ServicesAction {
    /// Build the image, start the registry, push, write target/dsi-services/env.
    Start,
    /// Stop everything `start` started.
    Stop,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let result = match args.task {
        Task::Setup => setup::run(),
        Task::Ci => ci::run(),
        Task::Services {
            action: ServicesAction::Start,
        } => services::start().map(|_| ()),
        Task::Services {
            action: ServicesAction::Stop,
        } => services::stop(),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
