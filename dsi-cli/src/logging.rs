//! Logs and progress on stderr.
//!
//! Libraries report through `tracing`: events for what happened, spans for
//! long operations (verifying or pulling an image, packing and unpacking a
//! repository, uploading a blob, reading a CSV file). Here they become lines
//! at the level `-q`/`-v`/`-vv`/`-vvv` selects (default: warnings): a
//! warning is `warning: …`, an error `error: …`, what dsi does (`-v`) a
//! plain line. Every message is escaped for the terminal (it may quote a
//! record). When stderr is a terminal, a live progress display shows the
//! running spans (`tracing-indicatif`). On a pipe or file there is no
//! progress display and no colour; `NO_COLOR` turns colour off on a
//! terminal too.

use std::fmt;
use std::io::IsTerminal;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, fmt as tfmt};

/// Whether stdout gets colour: a terminal, and `NO_COLOR` not set.
pub(crate) fn colour_stdout() -> bool {
    std::io::stdout().is_terminal() && no_color_unset()
}

fn no_color_unset() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// `warning: message`, escaped for the terminal.
struct Human {
    ansi: bool,
}

/// Collects an event's message (and other fields as `key=value`).
#[derive(Default)]
struct Message(String);

impl tracing::field::Visit for Message {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
        if !self.0.is_empty() {
            self.0.push(' ');
        }
        if field.name() == "message" {
            self.0.push_str(&format!("{value:?}"));
        } else {
            self.0.push_str(&format!("{}={value:?}", field.name()));
        }
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "message" {
            if !self.0.is_empty() {
                self.0.push(' ');
            }
            self.0.push_str(value);
        } else {
            self.record_debug(field, &value);
        }
    }
}

impl<S, N> FormatEvent<S, N> for Human
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut m = Message::default();
        event.record(&mut m);
        let (label, colour) = match *event.metadata().level() {
            Level::ERROR => (Some("error"), "31"),
            Level::WARN => (Some("warning"), "33"),
            Level::INFO => (None, ""),
            Level::DEBUG => (Some("debug"), "2"),
            Level::TRACE => (Some("trace"), "2"),
        };
        if let Some(l) = label {
            if self.ansi {
                write!(writer, "\x1b[{colour}m{l}:\x1b[0m ")?;
            } else {
                write!(writer, "{l}: ")?;
            }
        }
        writeln!(writer, "{}", dsi_core::text::for_terminal(&m.0))
    }
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
    // The Delta libraries log what dsi handles (a table that does not
    // exist yet is "Invalid table location" at error level): their lines
    // are shown from -vv on.
    let libraries = if verbose >= 2 {
        level
    } else {
        LevelFilter::OFF
    };
    let quiet_libraries = |default: LevelFilter, libraries: LevelFilter| {
        Targets::new()
            .with_default(default)
            .with_target("deltalake_core", libraries)
            .with_target("buoyant_kernel", libraries)
            .with_target("delta_kernel", libraries)
    };
    let level = quiet_libraries(level, libraries);
    let terminal = std::io::stderr().is_terminal();
    let ansi = terminal && no_color_unset();
    let lines = tfmt::layer().event_format(Human { ansi }).with_ansi(ansi);
    // A second subscriber cannot be installed; errors only in tests that call init twice.
    if terminal && !quiet {
        let progress = tracing_indicatif::IndicatifLayer::new();
        let _ = tracing_subscriber::registry()
            .with(
                lines
                    .with_writer(progress.get_stderr_writer())
                    .with_filter(level.clone()),
            )
            .with(progress.with_filter(quiet_libraries(LevelFilter::INFO, LevelFilter::OFF)))
            .try_init();
    } else {
        let _ = tracing_subscriber::registry()
            .with(lines.with_writer(std::io::stderr).with_filter(level))
            .try_init();
    }
}
