//! Logs and progress on stderr.
//!
//! Libraries report through `tracing`: events for what happened, spans for
//! long operations (verifying or pulling an image, packing and unpacking a
//! repository, uploading a blob, reading a CSV file). Here they become lines
//! at the level `-q`/`-v`/`-vv`/`-vvv` selects (default: warnings): a
//! warning is `warning: …`, an error `error: …`, what dsi does (`-v`) a
//! plain line. Every message is escaped for the terminal (it may quote a
//! record). When stderr is a terminal, a live progress display shows the
//! running spans (`tracing-indicatif`); an operation that reports bytes
//! leaves its last line (bytes, rate, time) when it ends. On a pipe or file there is no
//! progress display and no colour; `NO_COLOR` turns colour off on a
//! terminal too.

use std::fmt;
use std::io::IsTerminal;

use tracing::{Event, Level, Subscriber};
use tracing_indicatif::span_ext::IndicatifSpanExt;
use tracing_indicatif::style::ProgressStyle;
use tracing_subscriber::field::MakeExt;
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
    // Progress events are for the progress display only.
    let level =
        quiet_libraries(level, libraries).with_target(dsi_core::progress::TARGET, LevelFilter::OFF);
    let terminal = std::io::stderr().is_terminal();
    let ansi = terminal && no_color_unset();
    let lines = tfmt::layer().event_format(Human { ansi }).with_ansi(ansi);
    // A second subscriber cannot be installed; errors only in tests that call init twice.
    if terminal && !quiet {
        let progress = tracing_indicatif::IndicatifLayer::new()
            .with_progress_style(spinner_style())
            .with_span_field_formatter(values_only());
        let _ = tracing_subscriber::registry()
            .with(
                lines
                    .with_writer(progress.get_stderr_writer())
                    .with_filter(level.clone()),
            )
            .with(progress.with_filter(quiet_libraries(LevelFilter::INFO, LevelFilter::OFF)))
            // It needs the spans (those the progress display shows) as well
            // as the progress events, and nothing else.
            .with(
                ProgressBytes.with_filter(tracing_subscriber::filter::filter_fn(|m| {
                    if m.is_span() {
                        *m.level() <= Level::INFO
                    } else {
                        m.target() == dsi_core::progress::TARGET
                    }
                })),
            )
            .try_init();
    } else {
        let _ = tracing_subscriber::registry()
            .with(lines.with_writer(std::io::stderr).with_filter(level))
            .try_init();
    }
}

/// A running operation: what it is and on what (`verifying image NAME`),
/// and how long it has been running.
fn spinner_style() -> ProgressStyle {
    ProgressStyle::with_template(
        "{span_child_prefix}{spinner} {span_name} {span_fields} {elapsed:.dim}",
    )
    .expect("a valid template")
}

/// An operation that reports its bytes ([`dsi_core::progress`]): bytes so
/// far (of the total, when known) and the rate.
fn bytes_style(total: bool) -> ProgressStyle {
    ProgressStyle::with_template(if total {
        "{span_child_prefix}{spinner} {span_name} {span_fields} \
         {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} {elapsed:.dim}"
    } else {
        "{span_child_prefix}{spinner} {span_name} {span_fields} \
         {binary_bytes} {binary_bytes_per_sec} {elapsed:.dim}"
    })
    .expect("a valid template")
}

/// Span fields as their values only (`/var/tmp/x`, not `dir=/var/tmp/x`).
fn values_only() -> impl for<'w> FormatFields<'w> + 'static {
    tracing_subscriber::fmt::format::debug_fn(|w, field, value| {
        if field.name() == "message" {
            Ok(())
        } else {
            write!(w, "{value:?}")
        }
    })
    .delimited(" ")
}

/// Puts the bytes of [`dsi_core::progress`] events on the progress bar of
/// the span they were reported in.
struct ProgressBytes;

/// The `total` and `done` fields of a progress event.
#[derive(Default)]
struct Bytes {
    total: Option<u64>,
    done: Option<u64>,
}

impl tracing::field::Visit for Bytes {
    fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
        match field.name() {
            "total" => self.total = Some(value),
            "done" => self.done = Some(value),
            _ => {}
        }
    }

    fn record_debug(&mut self, _: &tracing::field::Field, _: &dyn fmt::Debug) {}
}

/// Marks a span whose progress bar shows bytes.
struct ShowsBytes;

impl<S> Layer<S> for ProgressBytes
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_event(&self, event: &Event<'_>, ctx: tracing_subscriber::layer::Context<'_, S>) {
        let Some(span_ref) = ctx.event_span(event) else {
            return;
        };
        let mut bytes = Bytes::default();
        event.record(&mut bytes);
        // The first report decides the style; the lock is released before
        // the progress display (which keeps its state in the same span's
        // extensions) is called.
        let first = {
            let mut ext = span_ref.extensions_mut();
            let first = ext.get_mut::<ShowsBytes>().is_none();
            if first {
                ext.insert(ShowsBytes);
            }
            first
        };
        // The event's span is the one entered on this thread.
        let span = tracing::Span::current();
        if first || bytes.total.is_some() {
            span.pb_set_style(&bytes_style(bytes.total.is_some()));
        }
        if first {
            // The bar is redrawn on a tick (every 100 ms), so an operation
            // shorter than that would never show its bytes: when the span
            // closes, its last state (bytes, rate, time) stays on screen.
            span.pb_set_finish_message("");
        }
        if let Some(total) = bytes.total {
            span.pb_set_length(total);
        }
        if let Some(done) = bytes.done {
            span.pb_set_position(done);
        }
    }
}
