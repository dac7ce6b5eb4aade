//! Developer tasks for the dsi workspace (`cargo xtask <task>`).
//!
//! * `setup` — install the Debian packages and tools the tests and the demo
//!   need (idempotent; root only, otherwise it says what to install);
//! * `ci` — everything CI checks: setup, `cargo fmt --check`, clippy with
//!   `-D warnings`, docs with `-D warnings`, and every test.

mod ci;
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
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let result = match args.task {
        Task::Setup => setup::run(),
        Task::Ci => ci::run(),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
