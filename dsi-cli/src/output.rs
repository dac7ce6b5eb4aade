//! Output helpers: aligned text tables for people, JSON for scripts.

use std::io::{self, Write};

use dsi_core::Collection;
use serde::Serialize;

/// Writes rows as left-aligned columns separated by two spaces, with a header.
pub(crate) fn print_table(header: &[&str], rows: &[Vec<String>]) -> io::Result<()> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = io::stdout().lock();
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

/// Writes a value as pretty JSON followed by a newline.
pub(crate) fn print_json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
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
    let mut out = io::stdout().lock();
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
                let text = col.values()[r].to_string();
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
