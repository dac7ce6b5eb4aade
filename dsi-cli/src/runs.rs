//! Finding records in the back-ends: run ids accept unique prefixes, like
//! git hashes.

use anyhow::bail;
use dsi_core::{Driver, Error, Filter, FilterOp, Query, Table, TableQuery};
use dsi_plugins_charliecloud::records::{RUNS, text_at};

/// One row of `runs`, and the back-end it came from.
pub(crate) struct FoundRun<'a> {
    /// A one-row table.
    pub(crate) row: Table,
    /// The back-end holding it (and its blobs).
    pub(crate) driver: &'a dyn Driver,
}

impl FoundRun<'_> {
    /// A text column of the row.
    pub(crate) fn text(&self, column: &str) -> Option<String> {
        text_at(&self.row, 0, column)
    }

    /// The full run id.
    pub(crate) fn id(&self) -> String {
        self.text("run_id").unwrap_or_default()
    }
}

/// Finds the run whose id starts with `prefix` (case-insensitive), in the
/// first back-end that has it.
pub(crate) fn find<'a>(
    backends: &'a [Box<dyn Driver>],
    prefix: &str,
) -> anyhow::Result<FoundRun<'a>> {
    let given = prefix.trim();
    if given.is_empty() || !given.bytes().all(|b| b.is_ascii_alphanumeric()) {
        bail!(Error::InvalidData(format!(
            "'{given}' is not a run id (26 letters and digits, or a prefix)"
        )));
    }
    let prefix = given.to_ascii_uppercase();
    let query = Query::Table(
        TableQuery::new(RUNS)
            .filter(Filter::new("run_id", FilterOp::StartsWith, prefix.as_str()))
            .limit(2),
    );
    let mut empty_stores = Vec::new();
    for d in backends {
        let table = match d.get(&query) {
            Ok(c) => c.into_tables().into_iter().next(),
            Err(Error::NotFound { .. }) => {
                empty_stores.push(d.name().to_owned());
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let Some(table) = table else { continue };
        match table.num_rows() {
            0 => continue,
            1 => {
                return Ok(FoundRun {
                    row: table,
                    driver: d.as_ref(),
                });
            }
            _ => {
                let ids: Vec<String> = (0..2)
                    .filter_map(|r| text_at(&table, r, "run_id"))
                    .collect();
                bail!(Error::InvalidData(format!(
                    "run id '{prefix}' is ambiguous ({}, …); give more characters",
                    ids.join(", ")
                )));
            }
        }
    }
    if !empty_stores.is_empty() && empty_stores.len() == backends.len() {
        bail!(Error::InvalidData(format!(
            "run '{given}' not found: no runs recorded yet in the {} store",
            empty_stores.join(", ")
        )));
    }
    bail!(Error::NotFound {
        what: format!("run '{given}'")
    })
}
