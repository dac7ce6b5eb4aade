//! `dsi ingest csv FILE --table NAME`: other data into the store through a
//! consumer plugin (`csv`), as the DSI readers do.

use dsi_core::{Interaction, ModuleKind, Options, Terminal};
use dsi_plugins_charliecloud::records::RUNS;
use serde_json::json;

use crate::backends;
use crate::cli::{GlobalArgs, IngestCsvArgs};
use crate::exit::ExitStatus;
use crate::output::outln;
use crate::output::print_json;

/// `dsi ingest csv`.
pub(crate) fn csv(global: &GlobalArgs, args: &IngestCsvArgs) -> anyhow::Result<ExitStatus> {
    // The records' table: foreign rows there would have no run id and no
    // repository, and fsck would fail on the store from then on (a Parquet
    // or S3 dataset never rewrites a file, so they could not be removed).
    if args.table.eq_ignore_ascii_case(RUNS) {
        anyhow::bail!(dsi_core::Error::InvalidData(format!(
            "table '{}' holds dsi's records (written by dsi record and dsi replay); ingest into another table",
            args.table
        )));
    }
    let mut o = Options::new()
        .with("path", args.file.display().to_string())
        .with("table", args.table.clone());
    if let Some(d) = &args.delimiter {
        o.set("delimiter", d.clone());
    }
    let mut terminal = Terminal::new();
    terminal.load_module(ModuleKind::Plugin, dsi_core::ingest::NAME, &o)?;
    for d in backends::open(global)? {
        terminal.load_driver(d)?;
    }
    terminal.transload()?;
    terminal.artifact_handler(Interaction::Put)?;
    let t = terminal
        .middleware()
        .table(&args.table)
        .expect("the csv plugin writes the named table");
    let columns: Vec<serde_json::Value> = t
        .columns()
        .iter()
        .map(|c| json!({"name": c.name(), "type": c.data_type()}))
        .collect();
    if global.json {
        print_json(&json!({"table": args.table, "rows": t.num_rows(), "columns": columns}))?;
    } else {
        let types: Vec<String> = t
            .columns()
            .iter()
            .map(|c| format!("{} {}", c.name(), c.data_type()))
            .collect();
        outln!(
            "stored {} rows in table {} ({})",
            t.num_rows(),
            args.table,
            types.join(", ")
        )?;
    }
    Ok(ExitStatus::Ok)
}
