//! `dsi ingest csv FILE --table NAME`: other data into the store through a
//! consumer plugin (`csv`), as the DSI readers do. The Terminal refuses the
//! tables dsi reserves (`runs`, `_dsi…`).

use dsi_core::{Access, Interaction, ModuleKind, Options, Terminal};

use crate::cli::{GlobalArgs, IngestCsvArgs};
use crate::exit::ExitStatus;
use crate::output::{outln, print_json};
use crate::stores;

/// `dsi ingest csv`.
pub(crate) fn csv(global: &GlobalArgs, args: &IngestCsvArgs) -> anyhow::Result<ExitStatus> {
    let path = args.file.to_str().ok_or_else(|| {
        dsi_core::Error::InvalidData(format!("{} is not a UTF-8 path", args.file.display()))
    })?;
    let mut o = Options::new()
        .with("path", path)
        .with("table", args.table.clone());
    if let Some(d) = &args.delimiter {
        o.set("delimiter", d.clone());
    }
    let mut terminal = Terminal::new();
    terminal.load_module(ModuleKind::Plugin, dsi_core::ingest::NAME, &o)?;
    for d in stores::open(global, Access::ReadWrite)? {
        terminal.load_driver(d)?;
    }
    terminal.transload()?;
    terminal.artifact_handler(Interaction::Put)?;
    let t = terminal
        .middleware()
        .table(&args.table)
        .expect("the csv plugin writes the named table");
    if global.json {
        print_json(&crate::json::Ingested {
            table: args.table.clone(),
            rows: t.num_rows(),
            columns: t
                .columns()
                .iter()
                .map(|c| dsi_core::ColumnInfo {
                    name: c.name().to_owned(),
                    data_type: c.data_type(),
                })
                .collect(),
        })?;
    } else {
        let types: Vec<String> = t
            .columns()
            .iter()
            .map(|c| format!("{} {}", c.name(), c.data_type()))
            .collect();
        let n = t.num_rows();
        outln!(
            "stored {n} row{} in table {} ({})",
            if n == 1 { "" } else { "s" },
            args.table,
            types.join(", ")
        )?;
    }
    Ok(ExitStatus::Ok)
}
