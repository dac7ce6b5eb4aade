//! `dsi fsck`: verify a store — every blob's content against its digest, and
//! every record's reference to its repository blob. Exits 74 on any problem.

use dsi_core::blob::copy_verified;
use dsi_core::{Error, Query, TableQuery, Value};
use dsi_plugins_charliecloud::records::{RUNS, text_at};
use serde_json::json;

use crate::backends;
use crate::cli::GlobalArgs;
use crate::exit::ExitStatus;
use crate::output::outln;
use crate::output::print_json;

/// `dsi fsck`.
pub(crate) fn run(global: &GlobalArgs) -> anyhow::Result<ExitStatus> {
    let stores = backends::open(global)?;
    let mut problems: Vec<String> = Vec::new();
    let mut checked_blobs = 0u64;
    let mut checked_rows = 0u64;
    for d in &stores {
        let blobs = d.list_blobs()?;
        for b in &blobs {
            checked_blobs += 1;
            let result = d
                .get_blob(b)
                .and_then(|r| copy_verified(r, &mut std::io::sink()));
            if let Err(e) = result {
                problems.push(format!("{}: blob {b}: {e}", d.name()));
            }
        }
        let rows = match d.get(&Query::Table(TableQuery::new(RUNS))) {
            Ok(c) => c.into_tables().into_iter().next(),
            Err(Error::NotFound { .. }) => None,
            Err(e) => return Err(e.into()),
        };
        if let Some(t) = rows {
            let mut seen = std::collections::BTreeSet::new();
            for r in 0..t.num_rows() {
                checked_rows += 1;
                let id = text_at(&t, r, "run_id").unwrap_or_default();
                if !seen.insert(id.clone()) {
                    problems.push(format!("{}: run {id} appears more than once", d.name()));
                }
                match t.get(r, "container_run_commands") {
                    Some(Value::Blob(b)) if !blobs.contains(b) => problems.push(format!(
                        "{}: run {id} refers to blob {b}, which is not stored",
                        d.name()
                    )),
                    Some(Value::Blob(_)) => {}
                    _ => problems.push(format!("{}: run {id} has no repository blob", d.name())),
                }
                if let Some(k) = text_at(&t, r, "kernel_info")
                    && let Err(e) = dsi_core::env::KernelInfo::from_json(&k)
                {
                    problems.push(format!("{}: run {id}: {e}", d.name()));
                }
            }
        }
    }
    if global.json {
        print_json(&json!({"blobs": checked_blobs, "runs": checked_rows, "problems": problems}))?;
    } else {
        for p in &problems {
            outln!("problem: {p}")?;
        }
        outln!(
            "checked {checked_blobs} blob{} and {checked_rows} run{}: {}",
            if checked_blobs == 1 { "" } else { "s" },
            if checked_rows == 1 { "" } else { "s" },
            if problems.is_empty() {
                "no problems".to_owned()
            } else {
                format!("{} problem(s)", problems.len())
            }
        )?;
    }
    Ok(if problems.is_empty() {
        ExitStatus::Ok
    } else {
        ExitStatus::IoErr
    })
}
