//! The workflows of `dsi ingest` and `dsi collect`: plugins run once
//! through a [`Terminal`] and what they produce stored in every given
//! store. The Terminal refuses the tables dsi reserves (`runs`, `_dsi…`).

use std::path::Path;

use serde::Serialize;

use crate::ModuleKind;
use crate::driver::{ColumnInfo, Driver};
use crate::error::{Error, Result};
use crate::options::Options;
use crate::table::Collection;
use crate::terminal::{HandlerOutput, Interaction, Terminal};

/// What [`ingest_csv`] stored (`dsi ingest csv --json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Ingested {
    /// The table written.
    pub table: String,
    /// Rows stored.
    pub rows: usize,
    /// Its columns and their inferred types.
    pub columns: Vec<ColumnInfo>,
}

/// What [`collect`] stored (`dsi collect --json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Collected {
    /// The tables written.
    pub tables: Vec<String>,
    /// The number of stores written to.
    pub backends: usize,
}

/// Reads a CSV file (the [`crate::ingest`] plugin) into `table` of every
/// store.
pub fn ingest_csv(
    drivers: Vec<Box<dyn Driver>>,
    path: &Path,
    table: &str,
    delimiter: Option<&str>,
) -> Result<Ingested> {
    let p = path
        .to_str()
        .ok_or_else(|| Error::InvalidData(format!("{} is not a UTF-8 path", path.display())))?;
    let mut o = Options::new().with("path", p).with("table", table);
    if let Some(d) = delimiter {
        o.set("delimiter", d);
    }
    let mut terminal = Terminal::new();
    terminal.load_module(ModuleKind::Plugin, crate::ingest::NAME, &o)?;
    for d in drivers {
        terminal.load_driver(d)?;
    }
    terminal.transload()?;
    terminal.artifact_handler(Interaction::Put)?;
    let t = terminal
        .middleware()
        .table(table)
        .ok_or_else(|| Error::InvalidData(format!("the csv plugin wrote no table {table}")))?;
    Ok(Ingested {
        table: table.to_owned(),
        rows: t.num_rows(),
        columns: t
            .columns()
            .iter()
            .map(|c| ColumnInfo {
                name: c.name().to_owned(),
                data_type: c.data_type(),
            })
            .collect(),
    })
}

/// Runs the named plugins once; stores what they collected in every store
/// of `drivers` (none: nothing is stored). Returns the collection and what
/// was stored.
pub fn collect(plugins: &[&str], drivers: Vec<Box<dyn Driver>>) -> Result<(Collection, Collected)> {
    let mut terminal = Terminal::new();
    for name in plugins {
        terminal.load_module(ModuleKind::Plugin, name, &Options::new())?;
    }
    let store = !drivers.is_empty();
    for d in drivers {
        terminal.load_driver(d)?;
    }
    terminal.transload()?;
    let backends = if store {
        match terminal.artifact_handler(Interaction::Put)? {
            HandlerOutput::Stored { backends } => backends,
            _ => 0,
        }
    } else {
        0
    };
    let c = terminal.middleware().clone();
    let tables = c.tables().iter().map(|t| t.name().to_owned()).collect();
    Ok((c, Collected { tables, backends }))
}
