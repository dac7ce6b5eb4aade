//! Queries on `runs`, built here so that no other module names a column.

use dsi_core::{Error, Filter, FilterOp, Result, TableQuery, Timestamp};

use super::Function;
use super::columns::{
    CAMPAIGN_ID, CAMPAIGN_TASK, COMMIT, FUNCTION, HOSTNAME, IMAGE_REF, JSON_COLUMNS, PARENT_RUN_ID,
    RECORDED_AT, RUN_ID, RUNFILE_SHA256, RUNS, RUNS_SCHEMA, VERDICT,
};

/// The column that identifies a row (for [`dsi_core::Stores`]' de-duplication).
pub const KEY: &str = RUN_ID;

/// The columns a listing needs ([`crate::listing::RunSummary`]).
pub const SUMMARY_COLUMNS: &[&str] = &[
    RUN_ID,
    FUNCTION,
    RECORDED_AT,
    PARENT_RUN_ID,
    COMMIT,
    IMAGE_REF,
    "image_digest",
    "image_manifest_digest",
    "image_config_digest",
    "image_tree_digest",
    "image_checks",
    "exit_code",
    "duration_ms",
    VERDICT,
    "verification",
    HOSTNAME,
    "moniker",
];

/// The columns that name a run and its commit: what resolving a reference
/// (a run id or commit prefix) reads before it reads one whole row.
pub const KEY_COLUMNS: &[&str] = &[RUN_ID, FUNCTION, RECORDED_AT, COMMIT];

/// The columns that say whether a replay may be a reference (its exit
/// status and verdict), besides [`KEY_COLUMNS`].
pub const REFERENCE_COLUMNS: &[&str] = &[
    RUN_ID,
    FUNCTION,
    RECORDED_AT,
    COMMIT,
    "exit_code",
    "signal",
    VERDICT,
];

/// A replay as a reference candidate: its id, exit status and verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The run id.
    pub run_id: String,
    /// When it was made.
    pub recorded_at: Option<Timestamp>,
    /// Its exit status and signal.
    pub exit: (Option<i64>, Option<i64>),
    /// Its verdict, as stored (absent in rows made before verdicts).
    pub verdict: Option<String>,
}

/// The replays of exactly `commit`, oldest first, read as [`Candidate`]s
/// (a few columns per row, whatever the rows hold).
pub fn replay_candidates(stores: dsi_core::Stores<'_>, commit: &str) -> Result<Vec<Candidate>> {
    let q = by_commit_prefix(commit, Some(Function::Producer))
        .select(REFERENCE_COLUMNS.iter().copied());
    let Some(t) = stores.rows(&q, KEY)? else {
        return Ok(Vec::new());
    };
    let text = |r: usize, c: &str| match t.get(r, c) {
        Some(dsi_core::Value::Text(s)) => Some(s.clone()),
        _ => None,
    };
    let int = |r: usize, c: &str| match t.get(r, c) {
        Some(dsi_core::Value::Int(i)) => Some(*i),
        _ => None,
    };
    let mut out: Vec<Candidate> = (0..t.num_rows())
        .filter(|&r| text(r, COMMIT).as_deref() == Some(commit))
        .filter_map(|r| {
            Some(Candidate {
                run_id: text(r, RUN_ID)?,
                recorded_at: match t.get(r, RECORDED_AT) {
                    Some(dsi_core::Value::Timestamp(ts)) => Some(*ts),
                    _ => None,
                },
                exit: (int(r, "exit_code"), int(r, "signal")),
                verdict: text(r, VERDICT),
            })
        })
        .collect();
    out.sort_by(|a, b| (a.recorded_at, &a.run_id).cmp(&(b.recorded_at, &b.run_id)));
    Ok(out)
}

/// Runs whose id starts with `prefix` (run ids are upper case; the prefix
/// is compared case-insensitively).
pub fn by_id_prefix(prefix: &str) -> TableQuery {
    TableQuery::new(RUNS).filter(Filter::new(
        RUN_ID,
        FilterOp::StartsWith,
        prefix.to_ascii_uppercase(),
    ))
}

/// The run with exactly this id.
pub fn by_id(id: &str) -> TableQuery {
    TableQuery::new(RUNS).filter(Filter::new(RUN_ID, FilterOp::Eq, id))
}

/// Rows of commits starting with `prefix`, of one function if given, newest first.
pub fn by_commit_prefix(prefix: &str, function: Option<Function>) -> TableQuery {
    let mut q = TableQuery::new(RUNS)
        .filter(Filter::new(
            COMMIT,
            FilterOp::StartsWith,
            prefix.to_ascii_lowercase(),
        ))
        .order_by(RECORDED_AT, true);
    if let Some(f) = function {
        q = q.filter(Filter::new(FUNCTION, FilterOp::Eq, f.as_str()));
    }
    q
}

/// The records (function `consumer`) of a Runfile with this SHA-256,
/// newest first: the candidates a new record may duplicate.
pub fn records_of_runfile(sha256: &str) -> TableQuery {
    TableQuery::new(RUNS)
        .filter(Filter::new(RUNFILE_SHA256, FilterOp::Eq, sha256))
        .filter(Filter::new(
            FUNCTION,
            FilterOp::Eq,
            Function::Consumer.as_str(),
        ))
        .order_by(RECORDED_AT, true)
}

/// The replays of a record, oldest first.
pub fn replays_of(parent_id: &str) -> TableQuery {
    TableQuery::new(RUNS)
        .filter(Filter::new(PARENT_RUN_ID, FilterOp::Eq, parent_id))
        .filter(Filter::new(
            FUNCTION,
            FilterOp::Eq,
            Function::Producer.as_str(),
        ))
        .order_by(RECORDED_AT, false)
}

/// The replays of a campaign ([`crate::campaign`]), oldest first.
pub fn replays_of_campaign(campaign_id: &str) -> TableQuery {
    TableQuery::new(RUNS)
        .filter(Filter::new(CAMPAIGN_ID, FilterOp::Eq, campaign_id))
        .filter(Filter::new(
            FUNCTION,
            FilterOp::Eq,
            Function::Producer.as_str(),
        ))
        .order_by(RECORDED_AT, false)
}

/// The replays of one task of a campaign (normally none or one).
pub fn replays_of_campaign_task(campaign_id: &str, task: &str) -> TableQuery {
    replays_of_campaign(campaign_id).filter(Filter::new(CAMPAIGN_TASK, FilterOp::Eq, task))
}

/// Every row of the table, in stored order.
pub fn all() -> TableQuery {
    TableQuery::new(RUNS)
}

/// A condition on one typed column (`--where exit_code!=0`,
/// `--where kernel_release^=6.1`): the column's name, an operator (`=`,
/// `!=`, `<`, `<=`, `>`, `>=`, `^=` for "starts with") and a value of the
/// column's type. Columns holding JSON documents and blobs cannot be
/// compared.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// The column.
    pub column: String,
    /// The comparison.
    pub op: FilterOp,
    /// The value, of the column's type.
    pub value: dsi_core::Value,
}

impl Condition {
    /// Parses `COLUMN OP VALUE` (no spaces needed), typing the value by
    /// the column; an unknown column, a JSON column or a value that is not
    /// of the column's type is an error naming it.
    pub fn parse(s: &str) -> Result<Self> {
        let bad = |why: String| Error::InvalidData(format!("--where '{s}': {why}"));
        let end = s
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .ok_or_else(|| {
                bad(
                    "expected COLUMN OP VALUE, e.g. exit_code!=0 (operators = != < <= > >= ^=)"
                        .into(),
                )
            })?;
        let (column, rest) = s.split_at(end);
        let (op, value) = [
            ("!=", FilterOp::Ne),
            ("<=", FilterOp::Le),
            (">=", FilterOp::Ge),
            ("^=", FilterOp::StartsWith),
            ("=", FilterOp::Eq),
            ("<", FilterOp::Lt),
            (">", FilterOp::Gt),
        ]
        .into_iter()
        .find_map(|(t, op)| rest.strip_prefix(t).map(|v| (op, v)))
        .ok_or_else(|| bad("expected an operator: = != < <= > >= ^=".into()))?;
        let column = column.to_ascii_lowercase();
        let Some((_, data_type)) = RUNS_SCHEMA.iter().find(|(c, _)| *c == column) else {
            let names: Vec<&str> = RUNS_SCHEMA
                .iter()
                .filter(|(c, t)| comparable(c, *t))
                .map(|(c, _)| *c)
                .collect();
            return Err(bad(format!(
                "no column '{column}' (columns: {})",
                names.join(", ")
            )));
        };
        if !comparable(&column, *data_type) {
            return Err(bad(format!(
                "column '{column}' holds JSON or a blob and cannot be compared"
            )));
        }
        let value = match data_type {
            dsi_core::DataType::Int => value
                .parse::<i64>()
                .map(dsi_core::Value::Int)
                .map_err(|_| bad(format!("'{value}' is not an integer")))?,
            dsi_core::DataType::Timestamp => parse_since(value, Timestamp::now())
                .map(dsi_core::Value::Timestamp)
                .map_err(|_| bad(format!("'{value}' is not a date, time or age")))?,
            _ => dsi_core::Value::Text(value.to_owned()),
        };
        if op == FilterOp::StartsWith && !matches!(value, dsi_core::Value::Text(_)) {
            return Err(bad(format!("^= compares text, and '{column}' is not text")));
        }
        Ok(Condition { column, op, value })
    }
}

/// Whether `--where` can compare a column.
fn comparable(column: &str, t: dsi_core::DataType) -> bool {
    !JSON_COLUMNS.contains(&column) && t != dsi_core::DataType::Blob
}

/// The filters of a listing (`dsi list`, the web page): all optional, all
/// must hold; newest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListFilter {
    /// Image reference starts with this.
    pub image: Option<String>,
    /// Recorded on this host.
    pub host: Option<String>,
    /// Commit starts with this.
    pub commit: Option<String>,
    /// Records or replays only.
    pub function: Option<Function>,
    /// Recorded at or after this time.
    pub since: Option<Timestamp>,
    /// Recorded before this time (a page cursor).
    pub before: Option<Timestamp>,
    /// The replays of this record.
    pub parent: Option<String>,
    /// Replays with this verdict.
    pub verdict: Option<crate::verify::Verdict>,
    /// Conditions on typed columns (`--where`).
    pub conditions: Vec<Condition>,
}

impl ListFilter {
    /// The query, newest first, at most `limit` rows when given.
    pub fn query(&self, limit: Option<u64>) -> TableQuery {
        let mut q = TableQuery::new(RUNS).order_by(RECORDED_AT, true);
        if let Some(i) = &self.image {
            q = q.filter(Filter::new(IMAGE_REF, FilterOp::StartsWith, i.as_str()));
        }
        if let Some(h) = &self.host {
            q = q.filter(Filter::new(HOSTNAME, FilterOp::Eq, h.as_str()));
        }
        if let Some(c) = &self.commit {
            q = q.filter(Filter::new(
                COMMIT,
                FilterOp::StartsWith,
                c.to_ascii_lowercase(),
            ));
        }
        if let Some(f) = self.function {
            q = q.filter(Filter::new(FUNCTION, FilterOp::Eq, f.as_str()));
        }
        if let Some(t) = self.since {
            q = q.filter(Filter::new(RECORDED_AT, FilterOp::Ge, t));
        }
        if let Some(t) = self.before {
            q = q.filter(Filter::new(RECORDED_AT, FilterOp::Lt, t));
        }
        if let Some(p) = &self.parent {
            q = q.filter(Filter::new(PARENT_RUN_ID, FilterOp::Eq, p.as_str()));
        }
        if let Some(v) = self.verdict {
            q = q.filter(Filter::new(VERDICT, FilterOp::Eq, v.as_str()));
        }
        for c in &self.conditions {
            q = q.filter(Filter::new(c.column.as_str(), c.op, c.value.clone()));
        }
        if let Some(n) = limit {
            q = q.limit(n);
        }
        q
    }
}

/// `--since`: an RFC 3339 time, a date (`2026-11-29`), or an age (`90m`,
/// `12h`, `7d`) before `now`.
pub fn parse_since(s: &str, now: Timestamp) -> Result<Timestamp> {
    if let Ok(t) = Timestamp::parse_rfc3339(s) {
        return Ok(t);
    }
    if let Ok(t) = Timestamp::parse_rfc3339(&format!("{s}T00:00:00Z")) {
        return Ok(t);
    }
    let bad = || {
        Error::InvalidData(format!(
            "--since '{s}': expected a date (2026-11-29), a time (RFC 3339) or an age (90m, 12h, 7d)"
        ))
    };
    let (num, unit) = s.split_at(s.len().saturating_sub(1));
    let n: i64 = num.parse().map_err(|_| bad())?;
    let per: i64 = match unit {
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    let micros = n
        .checked_mul(per)
        .and_then(|s| s.checked_mul(1_000_000))
        .filter(|m| *m >= 0)
        .ok_or_else(|| {
            Error::InvalidData(format!("--since '{s}': an age that long is out of range"))
        })?;
    now.as_micros()
        .checked_sub(micros)
        .map(Timestamp::from_micros)
        .ok_or_else(|| {
            Error::InvalidData(format!("--since '{s}': an age that long is out of range"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_dates_times_and_ages_and_refuses_overflow() {
        let now = Timestamp::parse_rfc3339("2026-12-01T00:00:00Z").unwrap();
        assert_eq!(
            parse_since("2d", now).unwrap(),
            Timestamp::parse_rfc3339("2026-11-29T00:00:00Z").unwrap()
        );
        assert_eq!(
            parse_since("2026-11-29", now).unwrap(),
            Timestamp::parse_rfc3339("2026-11-29T00:00:00Z").unwrap()
        );
        let e = parse_since("99999999999d", now).unwrap_err().to_string();
        assert_eq!(
            e,
            "--since '99999999999d': an age that long is out of range"
        );
        assert!(parse_since("-5d", now).is_err());
        assert!(parse_since("soon", now).is_err());
    }
}
