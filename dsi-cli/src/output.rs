//! Output helpers: aligned text tables for people, JSON for scripts, and
//! the one way to write to stdout ([`stdout`], [`outln!`]), which turns a
//! closed stdout (`dsi list | head`) into [`StdoutClosed`] so that dsi ends
//! quietly instead of panicking.
//!
//! dsi leaves SIGPIPE ignored, as Rust sets it up: with SIGPIPE's default
//! action, a write to a socket the S3 server had closed killed dsi without
//! a word (hyper writes with `writev`, which has no `MSG_NOSIGNAL`).

use std::io::{self, Write};

use dsi_core::Collection;
use serde::Serialize;

/// Why a write to stdout failed: its reader went away. [`crate::main`]
/// ends the process quietly on it, as a process killed by SIGPIPE would.
#[derive(Debug)]
pub(crate) struct StdoutClosed;

impl std::fmt::Display for StdoutClosed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("stdout was closed")
    }
}

impl std::error::Error for StdoutClosed {}

/// Whether an error chain ends in a closed stdout.
pub(crate) fn stdout_closed(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.is::<StdoutClosed>()
            || c.downcast_ref::<io::Error>()
                .and_then(|e| e.get_ref())
                .is_some_and(|inner| inner.is::<StdoutClosed>())
    })
}

/// Locked stdout whose broken-pipe errors carry [`StdoutClosed`].
pub(crate) struct Stdout(io::StdoutLock<'static>);

/// Locked stdout for a run of writes.
pub(crate) fn stdout() -> Stdout {
    Stdout(io::stdout().lock())
}

fn mark(e: io::Error) -> io::Error {
    if e.kind() == io::ErrorKind::BrokenPipe {
        io::Error::new(io::ErrorKind::BrokenPipe, StdoutClosed)
    } else {
        e
    }
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf).map_err(mark)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush().map_err(mark)
    }
}

/// `println!` that returns the write's error (see [`stdout`]) instead of
/// panicking.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!($crate::output::stdout(), $($arg)*)
    }};
}
pub(crate) use outln;

/// Writes rows as left-aligned columns separated by two spaces, with a
/// header. Cells are shown through [`dsi_core::text::for_terminal`]: they
/// hold what stores hold.
pub(crate) fn print_table(header: &[&str], rows: &[Vec<String>]) -> io::Result<()> {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            r.iter()
                .map(|c| dsi_core::text::for_terminal(c).into_owned())
                .collect()
        })
        .collect();
    let rows = &rows;
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = stdout();
    let line = |out: &mut dyn Write, cells: &mut dyn Iterator<Item = &str>| -> io::Result<()> {
        let mut text = String::new();
        for (i, (cell, w)) in cells.zip(&widths).enumerate() {
            if i > 0 {
                text.push_str("  ");
            }
            text.push_str(cell);
            text.extend(std::iter::repeat_n(
                ' ',
                w.saturating_sub(cell.chars().count()),
            ));
        }
        writeln!(out, "{}", text.trim_end())
    };
    // The header is bold on a colour terminal.
    let bold = crate::logging::colour_stdout();
    if bold {
        write!(out, "\x1b[1m")?;
    }
    line(&mut out, &mut header.iter().copied())?;
    if bold {
        // Reset after the header line (the line's newline is already written).
        write!(out, "\x1b[0m")?;
    }
    for r in rows {
        line(&mut out, &mut r.iter().map(String::as_str))?;
    }
    Ok(())
}

/// Writes a value as pretty JSON followed by a newline (serialised first,
/// so that a closed stdout is an I/O error [`stdout_closed`] recognises).
pub(crate) fn print_json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    let mut text = serde_json::to_vec_pretty(value)?;
    text.push(b'\n');
    stdout().write_all(&text)?;
    Ok(())
}

/// A collection as JSON: `{"tables": [{"name", "columns": [{"name", "type"}], "rows": [{column: value}]}]}`.
pub(crate) fn collection_json(c: &Collection) -> serde_json::Value {
    let tables: Vec<serde_json::Value> = c
        .tables()
        .iter()
        .map(|t| {
            let columns: Vec<serde_json::Value> = t
                .columns()
                .iter()
                .map(|c| serde_json::json!({"name": c.name(), "type": c.data_type()}))
                .collect();
            let rows: Vec<serde_json::Value> = (0..t.num_rows())
                .map(|r| {
                    let obj: serde_json::Map<String, serde_json::Value> = t
                        .columns()
                        .iter()
                        .map(|c| (c.name().to_owned(), c.values()[r].to_json()))
                        .collect();
                    serde_json::Value::Object(obj)
                })
                .collect();
            serde_json::json!({"name": t.name(), "columns": columns, "rows": rows})
        })
        .collect();
    serde_json::json!({ "tables": tables })
}

/// Longest value shown in full in human output.
const MAX_CELL: usize = 100;

/// Prints a collection: JSON, or one block per row with `column  value` lines.
pub(crate) fn print_collection(c: &Collection, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(&collection_json(c));
    }
    let mut out = stdout();
    for t in c.tables() {
        let n = t.num_rows();
        writeln!(
            out,
            "{} ({n} row{})",
            t.name(),
            if n == 1 { "" } else { "s" }
        )?;
        let width = t
            .columns()
            .iter()
            .map(|c| c.name().chars().count())
            .max()
            .unwrap_or(0);
        for r in 0..n {
            if r > 0 {
                writeln!(out)?;
            }
            for col in t.columns() {
                let text = dsi_core::text::for_terminal(&col.values()[r].to_string()).into_owned();
                let shown = if text.chars().count() > MAX_CELL {
                    let head: String = text.chars().take(MAX_CELL).collect();
                    format!("{head}… ({} bytes; --json shows all)", text.len())
                } else {
                    text
                };
                writeln!(out, "  {:width$}  {shown}", col.name())?;
            }
        }
    }
    Ok(())
}
