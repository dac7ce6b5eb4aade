//! `dsi ingest csv FILE --table NAME`: other data into the store through a
//! consumer plugin (`csv`, the library's `collect::ingest_csv`), as the DSI
//! readers do. The tables dsi reserves (`runs`, `_dsi…`) are refused.

use dsi_core::Access;
use dsi_core::collect::ingest_csv;

use crate::cli::{GlobalArgs, IngestCsvArgs};
use crate::exit::ExitStatus;
use crate::output::{outln, print_json};
use crate::stores;

/// `dsi ingest csv`.
pub(crate) fn csv(global: &GlobalArgs, args: &IngestCsvArgs) -> anyhow::Result<ExitStatus> {
    let done = ingest_csv(
        stores::open(global, Access::ReadWrite)?,
        &args.file,
        &args.table,
        args.delimiter.as_deref(),
    )?;
    if global.json {
        print_json(&done)?;
    } else {
        let types: Vec<String> = done
            .columns
            .iter()
            .map(|c| format!("{} {}", c.name, c.data_type))
            .collect();
        outln!(
            "stored {} row{} in table {} ({})",
            done.rows,
            if done.rows == 1 { "" } else { "s" },
            done.table,
            types.join(", ")
        )?;
    }
    Ok(ExitStatus::Ok)
}
