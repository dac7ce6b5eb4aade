//! Developer tasks for the dsi workspace (`cargo xtask <task>`).
//!
//! * `setup` — install the Debian packages and tools the tests and the demo
//!   need (idempotent; root only, otherwise it says what to install);
//! * `ci` — everything CI checks: setup, `cargo fmt --check`, clippy with
//!   `-D warnings` (all features, then `features`), docs with `-D warnings`,
//!   every test with the test services running, and `reliability --quick`;
//! * `features` — clippy on `dsi` with no back-end and with each alone (see
//!   [`features`]);
//! * `services start|stop` — the example image, an OCI registry on loopback
//!   (see [`services`]);
//! * `man` — the man pages of `dsi`, into `target/man`;
//! * `fuzz [--seconds N]` — fuzz the Runfile parser longer (see [`fuzz`]);
//! * `demo` — the main job end to end on `./dsi.db` (see [`demo`]);
//! * `bench [--quick]` — every benchmark, written to `bench/REPORT.md` (see
//!   [`mod@bench`]);
//! * `reliability [--quick]` — crash safety, concurrency, hostile input,
//!   faults and fuzzing on every driver, written to `bench/RELIABILITY.md` (see
//!   [`reliability`]).

mod bench;
mod ci;
mod demo;
mod features;
mod fuzz;
mod json;
mod moto;
mod mpi_image;
mod python;
mod reliability;
mod s3;
mod services;
mod setup;
mod slurm;
mod tidy;
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
    /// Record an example Runfile into ./dsi.db and replay it with Charliecloud.
    Demo,
    /// Check the dsi binary with no back-end and with each back-end alone.
    Features,
    /// Code-base rules the compiler does not check (//! docs, runs columns only in records).
    Tidy,
    /// Write the man pages of `dsi` (from its clap definitions) into target/man.
    Man,
    /// Fuzz the Runfile parser (cargo fuzz, stable toolchain, no sanitizer).
    Fuzz {
        /// How long to run.
        #[arg(long, default_value_t = 60)]
        seconds: u32,
    },
    /// Start or stop the test services (image, registry).
    Services {
        #[command(subcommand)]
        action: ServicesAction,
    },
    /// Run every benchmark and write bench/REPORT.md.
    Bench {
        /// Few iterations (a smoke run; numbers only indicative).
        #[arg(long)]
        quick: bool,
        /// Run only these sections (repeatable; default all).
        #[arg(long, value_enum)]
        only: Vec<bench::Section>,
        /// Write the report here instead of bench/REPORT.md.
        #[arg(long)]
        out: Option<std::path::PathBuf>,
        /// Time the release binaries already built (no `cargo build`).
        #[arg(long)]
        no_build: bool,
    },
    /// Crash safety, concurrency, hostile input and fuzzing; writes bench/RELIABILITY.md.
    Reliability {
        /// Fewer repetitions and 10 s per fuzz target (what CI runs); the
        /// report then goes to target/reliability/RELIABILITY.md.
        #[arg(long)]
        quick: bool,
        /// Run only these sections (repeatable; default all); the report
        /// then goes to target/reliability/RELIABILITY.md.
        #[arg(long, value_enum)]
        only: Vec<reliability::Section>,
        /// Write the report here.
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum ServicesAction {
    /// Build the image, start the registry, push, write target/dsi-services/env.
    Start,
    /// Stop everything `start` started.
    Stop,
}

/// `cargo xtask man`: builds `dsi` and has it write its man pages.
fn man() -> anyhow::Result<()> {
    let dir = util::project_root().join("target/man");
    util::run(
        util::cargo()
            .args(["run", "--quiet", "-p", "dsi-cli", "--", "generate-man"])
            .arg(&dir),
    )?;
    eprintln!(
        "xtask: man pages in {} (try: man -l {}/dsi.1)",
        dir.display(),
        dir.display()
    );
    Ok(())
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let result = match args.task {
        Task::Setup => setup::run(),
        Task::Ci => ci::run(),
        Task::Demo => demo::run(),
        Task::Features => features::run(),
        Task::Man => man(),
        Task::Tidy => tidy::run(),
        Task::Fuzz { seconds } => fuzz::run(seconds),
        Task::Services {
            action: ServicesAction::Start,
        } => services::start().map(|_| ()),
        Task::Services {
            action: ServicesAction::Stop,
        } => services::stop(),
        Task::Bench {
            quick,
            only,
            out,
            no_build,
        } => bench::run(&bench::Options {
            quick,
            only,
            out,
            no_build,
        }),
        Task::Reliability { quick, only, out } => {
            reliability::run(&reliability::Options { quick, only, out })
        }
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
