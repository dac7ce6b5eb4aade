//! The record workflow: the consumer plugin through a [`Terminal`] into
//! every given store, as `dsi record` does it.
//!
//! * dsi's own store files (an SQLite database with its `-wal`, `-shm` and
//!   `-journal`, a dataset directory) never make the repository dirty and
//!   are never committed or packed;
//! * recording what is already recorded — the same commit, the same packed
//!   repository and the same image identity — stores nothing and returns
//!   the existing record ([`Recorded::existing`]), unless `again` asks for
//!   a deliberate new one.

use std::path::PathBuf;

use dsi_core::{Driver, Error, Interaction, Location, Result, Terminal};

use crate::consumer::{Consumer, RecordConfig};
use crate::records::{Function, RunRecord, query};

/// What to record.
#[derive(Debug, Clone)]
pub struct RecordRequest {
    /// The consumer's configuration.
    pub config: RecordConfig,
    /// Store a new record even if an identical one exists.
    pub again: bool,
}

/// What a record produced.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct Recorded {
    /// The record (the existing one when nothing new was stored).
    pub record: RunRecord,
    /// Whether an identical record existed, so nothing was stored.
    pub existing: bool,
    /// The stores written (`driver location`), empty when existing.
    pub stores: Vec<String>,
}

/// The files of a store, as absolute canonical paths, for exclusion from
/// the recorded repository.
pub fn store_files(drivers: &[Box<dyn Driver>]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for d in drivers {
        match d.location() {
            Location::File { path } => {
                let abs = std::path::absolute(&path).unwrap_or(path);
                let dir = abs.parent().map(PathBuf::from).unwrap_or_default();
                let dir = std::fs::canonicalize(&dir).unwrap_or(dir);
                let name = abs
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned();
                for suffix in ["", "-wal", "-shm", "-journal"] {
                    out.push(dir.join(format!("{name}{suffix}")));
                }
            }
            Location::Directory { path } => {
                out.push(std::fs::canonicalize(&path).unwrap_or(path));
            }
            _ => {}
        }
    }
    out
}

/// Whether two records are of the same repository content (the commit's
/// tree where both have one, else the commit and its packed repository)
/// with the Runfile at the same path and the same image identity.
fn same_thing(a: &RunRecord, b: &RunRecord) -> bool {
    let same_content = match (&a.commit_tree, &b.commit_tree) {
        (Some(x), Some(y)) => x == y,
        _ => a.commit == b.commit && a.repository == b.repository,
    };
    same_content
        && a.runfile.path == b.runfile.path
        && a.image.reference == b.image.reference
        && a.image.digest == b.image.digest
        && a.image.manifest_digest == b.image.manifest_digest
        && a.image.tree_digest == b.image.tree_digest
}

/// Records into every store of `drivers`.
pub fn record(drivers: Vec<Box<dyn Driver>>, mut request: RecordRequest) -> Result<Recorded> {
    request.config.exclude.extend(store_files(&drivers));
    let mut terminal = Terminal::new();
    terminal.load_plugin(Box::new(Consumer::new(request.config)?))?;
    for d in drivers {
        terminal.load_driver(d)?;
    }
    terminal.transload()?;
    let table = terminal
        .middleware()
        .table(crate::records::RUNS)
        .ok_or_else(|| Error::InvalidData("the consumer wrote no record".into()))?;
    let record = RunRecord::from_row(table, 0)?;
    let candidates = match (&record.runfile.sha256, &record.commit) {
        (Some(sha), _) => Some(query::records_of_runfile(sha)),
        (None, Some(commit)) => Some(query::by_commit_prefix(commit, Some(Function::Consumer))),
        (None, None) => None,
    };
    if !request.again
        && let Some(q) = candidates
        && let Some(t) = terminal.stores().rows(&q, query::KEY)?
        && let Some(existing) = RunRecord::from_table(&t)?
            .into_iter()
            .find(|r| same_thing(r, &record))
    {
        tracing::info!(
            "this repository content and image are already recorded as run {} (commit {}): nothing stored (--again records it anew)",
            existing.run_id,
            existing.commit.as_deref().unwrap_or_default()
        );
        return Ok(Recorded {
            record: existing,
            existing: true,
            stores: Vec::new(),
        });
    }
    terminal.artifact_handler(Interaction::Put)?;
    let stores: Vec<String> = terminal
        .drivers()
        .iter()
        .map(|d| format!("{} {}", d.name(), d.location()))
        .collect();
    for s in &stores {
        tracing::info!("stored run {} in {s}", record.run_id);
    }
    Ok(Recorded {
        record,
        existing: false,
        stores,
    })
}
