//! `dsi query SQL`: a read-only SQL query on the first back-end (SQLite
//! natively; Parquet and S3 through DataFusion when built with it).

use dsi_core::{Access, Query};

use crate::cli::{GlobalArgs, QueryArgs};
use crate::exit::ExitStatus;
use crate::output::{collection_json, print_json, print_table};
use crate::stores;

/// `dsi query`.
pub(crate) fn run(global: &GlobalArgs, args: &QueryArgs) -> anyhow::Result<ExitStatus> {
    let stores = stores::open(global, Access::ReadOnly)?;
    let store = stores
        .first()
        .expect("at least one driver is always selected");
    let result = store.get(&Query::Sql(args.sql.clone()))?;
    if global.json {
        let v = collection_json(&result);
        print_json(&v["tables"][0]["rows"])?;
        return Ok(ExitStatus::Ok);
    }
    let Some(t) = result.tables().first() else {
        return Ok(ExitStatus::Ok);
    };
    let header: Vec<&str> = t.columns().iter().map(|c| c.name()).collect();
    let rows: Vec<Vec<String>> = (0..t.num_rows())
        .map(|r| {
            t.columns()
                .iter()
                .map(|c| c.values()[r].to_string())
                .collect()
        })
        .collect();
    print_table(&header, &rows)?;
    Ok(ExitStatus::Ok)
}
