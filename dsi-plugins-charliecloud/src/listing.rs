//! Listings of records and replays (`dsi list`, the web page, a project's
//! log): pages of [`RunSummary`]s, newest first, with the total that
//! matches, so a reader knows when a page was cut.

use dsi_core::{Result, Stores};
use schemars::JsonSchema;
use serde::Serialize;

use crate::records::query::{self, ListFilter};
use crate::records::{Function, ImageIdentity, RunRecord};

/// One row of a listing: the record without its bulky parts (steps,
/// system description), which `dsi show` gives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct RunSummary {
    /// ULID of the row.
    pub run_id: String,
    /// Record (consumer) or replay (producer).
    pub function: Function,
    /// When it was made (RFC 3339).
    pub recorded_at: Option<String>,
    /// The record a replay came from.
    pub parent_run_id: Option<String>,
    /// The commit.
    pub commit: Option<String>,
    /// The image.
    pub image: ImageIdentity,
    /// A replay's exit status.
    pub exit_code: Option<i64>,
    /// A replay's wall time.
    pub duration_ms: Option<i64>,
    /// A replay's verdict (RUNFILE-1.1 §7).
    pub verdict: Option<crate::verify::Verdict>,
    /// The host it was made on.
    pub hostname: Option<String>,
    /// The user who made it.
    pub moniker: Option<String>,
}

impl From<&RunRecord> for RunSummary {
    fn from(r: &RunRecord) -> Self {
        RunSummary {
            run_id: r.run_id.clone(),
            function: r.function,
            recorded_at: r.recorded_at.map(dsi_core::Timestamp::to_rfc3339),
            parent_run_id: r.parent_run_id.clone(),
            commit: r.commit.clone(),
            image: r.image.clone(),
            exit_code: r.exit_code(),
            duration_ms: r.outcome.as_ref().and_then(|o| o.duration_ms),
            verdict: r.verification.as_ref().map(|v| v.verdict),
            hostname: r.hostname().map(str::to_owned),
            moniker: r.user.as_ref().and_then(|u| u.moniker.clone()),
        }
    }
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct ListPage {
    /// The rows, newest first.
    pub runs: Vec<RunSummary>,
    /// How many rows match the filter in all (the page may be shorter).
    pub total: u64,
}

/// The rows `filter` selects, newest first, at most `limit`.
pub fn list(stores: Stores<'_>, filter: &ListFilter, limit: Option<u64>) -> Result<ListPage> {
    let q = filter
        .query(limit)
        .select(query::SUMMARY_COLUMNS.iter().copied());
    let runs = match stores.rows(&q, query::KEY)? {
        Some(t) => RunRecord::from_table(&t)?
            .iter()
            .map(RunSummary::from)
            .collect(),
        None => Vec::new(),
    };
    let total = match limit {
        Some(n) if (runs.len() as u64) < n => runs.len() as u64,
        None => runs.len() as u64,
        Some(_) => stores.count(&filter.query(None), query::KEY)?,
    };
    Ok(ListPage { runs, total })
}
