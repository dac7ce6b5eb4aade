//! Logs and progress on stderr.
//!
//! Libraries report through `tracing`: events for what happened, spans for
//! long operations (verifying or pulling an image, packing and unpacking a
//! repository, uploading a blob, reading a CSV file). Here they become log
//! lines at the level `-q`/`-v`/`-vv`/`-vvv` selects (default: warnings), and,
//! when stderr is a terminal, a live progress display of the running spans
//! (`tracing-indicatif`). On a pipe or file there is no progress display and
//! no colour; `NO_COLOR` turns colour off on a terminal too.

use std::io::IsTerminal;

use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, fmt};

/// Whether stdout gets colour: a terminal, and `NO_COLOR` not set.
pub(crate) fn colour_stdout() -> bool {
    std::io::stdout().is_terminal() && no_color_unset()
}

fn no_color_unset() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Installs the subscriber for this process.
pub(crate) fn init(verbose: u8, quiet: bool) {
    let level = match (quiet, verbose) {
        (true, _) => LevelFilter::ERROR,
        (false, 0) => LevelFilter::WARN,
        (false, 1) => LevelFilter::INFO,
        (false, 2) => LevelFilter::DEBUG,
        (false, _) => LevelFilter::TRACE,
    };
    let terminal = std::io::stderr().is_terminal();
    let ansi = terminal && no_color_unset();
    let lines = fmt::layer()
        .with_target(false)
        .without_time()
        .with_ansi(ansi);
    // A second subscriber cannot be installed; errors only in tests that call init twice.
    if terminal && !quiet {
        let progress = tracing_indicatif::IndicatifLayer::new();
        let _ = tracing_subscriber::registry()
            .with(
                lines
                    .with_writer(progress.get_stderr_writer())
                    .with_filter(level),
            )
            .with(progress.with_filter(LevelFilter::INFO))
            .try_init();
    } else {
        let _ = tracing_subscriber::registry()
            .with(lines.with_writer(std::io::stderr).with_filter(level))
            .try_init();
    }
}
