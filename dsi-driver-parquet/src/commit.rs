//! Committing a put: one Delta commit per table, idempotent, with jittered
//! back-off under contention, and all-or-nothing across tables for dsi
//! readers.
//!
//! # One table
//!
//! The put's data file `<put ULID>.parquet` is written first (invisible
//! until committed), then one commit adds it, together with the table's new
//! schema when the put adds columns. Before every retry the writer reads the
//! commits it has not seen: if one adds a file named after the put (its own,
//! or a compaction's whose first put it is) the put is done (a lost reply)
//! and nothing is applied twice. The file name is the put's identity in the
//! log, so a put leaves nothing in the table state besides its file: no
//! application transaction (`txn`) per put, which Delta keeps in every
//! checkpoint for good and which would make every read grow with the number
//! of puts ever made. delta-rs itself retries a lost
//! race immediately and 15 times; here it is told to try once
//! (`max_retries = 0`) and dsi retries with full-jitter exponential
//! back-off ([`Backoff`]: 10 ms doubling to 2 s, for up to 10 minutes), re-reading
//! the snapshot each time, so 64 writers racing for one log spread out
//! instead of colliding again.
//!
//! # Several tables
//!
//! A put that spans tables writes a put record `_dsi/puts/<ULID>.json`
//! (its tables in commit order), then commits the tables in that order,
//! each file tagged `dsi.put = <ULID>` and `dsi.last = <last table>`, then
//! deletes the record. The commit to the last table also holds the
//! application transaction `txn { appId: <ULID>, version: 1 }`, which
//! survives the compaction of the file. **The put is complete exactly when
//! its last table holds `txn(<ULID>) = 1`**; dsi readers show a tagged file of an earlier
//! table only then (the last table's own files are visible from their
//! commit, which is the completing one). So dsi readers see all of a put
//! or none of it, at any moment and after any failure.
//!
//! A put that fails between its commits aborts ([`Dataset::abort_put`]):
//! it *fences* every table that does not hold its file yet, by committing
//! `txn(<ULID>) = 0` there (a later attempt of the same put then finds the
//! fence and gives up: the put can never complete), and removes its files
//! from the tables that had committed them, so that other engines do not
//! see half of it either; then the record is deleted. If the fence finds
//! the last table already committed (a reply lost on the way), the put is
//! complete and is reported so. A writer that dies between its commits
//! leaves its record behind: the next put into the dataset (or `compact`)
//! aborts records older than [`ABANDON_AFTER`] the same way. Until then
//! dsi readers see nothing of it and other engines see the tables that
//! were committed.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use deltalake_core::errors::DeltaTableError;
use deltalake_core::kernel::transaction::{CommitBuilder, CommitProperties, TransactionError};
use deltalake_core::kernel::{Action, Add, Metadata, Protocol, Remove, Snapshot, Transaction};
use deltalake_core::logstore::CommitOrBytes;
use deltalake_core::protocol::{DeltaOperation, SaveMode};
use deltalake_core::table::state::DeltaTableState;
use dsi_core::{Error, Result};
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutMode, PutOptions};
use serde::{Deserialize, Serialize};

use crate::Dataset;
use crate::layout;
use crate::schema::{self, Columns};

/// The transaction version of a committed put.
pub(crate) const COMMITTED: i64 = 1;
/// The transaction version of a fence (an aborted put).
pub(crate) const FENCED: i64 = 0;
/// Put records older than this are taken for abandoned and aborted by
/// other writers.
pub const ABANDON_AFTER: Duration = Duration::from_secs(600);
/// Tag naming the put of a file of a multi-table put.
pub(crate) const TAG_PUT: &str = "dsi.put";
/// Tag naming the table whose commit completes that put.
pub(crate) const TAG_LAST: &str = "dsi.last";
/// Table properties of every table dsi creates: statistics for every
/// column (dsi writes them itself), checkpoints every 100 commits, and the
/// tombstones of removed files kept in checkpoints for one hour (not
/// Delta's 7 days): every open reads them, and each compaction leaves one
/// per merged file, so a day's tombstones would make every read of a busy
/// table slower (about 2 ms per 1,000). A removed file stays protected from
/// dsi's (full-mode) vacuum while its tombstone lasts, and afterwards until
/// it is [`crate::CompactOptions::DEFAULT_RETENTION`] old: at least one
/// hour ([`crate::CompactOptions::MIN_RETENTION`]) after its removal,
/// longer than any read keeps a snapshot. Other engines' vacuum takes this
/// as its default retention.
const TABLE_PROPERTIES: &[(&str, &str)] = &[
    ("delta.dataSkippingNumIndexedCols", "-1"),
    ("delta.checkpointInterval", "100"),
    ("delta.deletedFileRetentionDuration", "interval 1 hours"),
];

/// Full-jitter exponential back-off for commit races.
#[derive(Debug)]
pub(crate) struct Backoff {
    attempt: u32,
    started: Instant,
    base: Duration,
    cap: Duration,
    limit: Duration,
}

impl Backoff {
    /// The back-off of one commit.
    pub(crate) fn new() -> Self {
        Backoff {
            attempt: 0,
            started: Instant::now(),
            base: Duration::from_millis(10),
            cap: Duration::from_secs(2),
            limit: Duration::from_secs(600),
        }
    }

    /// How long to wait before the next attempt, `None` once the time
    /// limit is spent.
    pub(crate) fn next(&mut self) -> Option<Duration> {
        if self.started.elapsed() >= self.limit {
            return None;
        }
        let ceiling = self
            .base
            .saturating_mul(1u32 << self.attempt.min(16))
            .min(self.cap);
        self.attempt += 1;
        let mut r = [0u8; 8];
        let _ = rustix::rand::getrandom(&mut r, rustix::rand::GetRandomFlags::empty());
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX).max(1);
        Some(Duration::from_nanos(u64::from_le_bytes(r) % nanos))
    }

    /// Attempts made so far.
    pub(crate) fn attempts(&self) -> u32 {
        self.attempt + 1
    }
}

/// Whether a failed commit lost a race (and may be retried).
fn is_conflict(e: &DeltaTableError) -> bool {
    matches!(
        e,
        DeltaTableError::VersionAlreadyExists(_)
            | DeltaTableError::Transaction {
                source: TransactionError::VersionAlreadyExists(_)
                    | TransactionError::MaxCommitAttempts(_)
                    | TransactionError::CommitConflict(_)
            }
    )
}

/// What one table's commit came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Committed now, or by an earlier attempt of the same put.
    Committed,
    /// The put's id is fenced in this table: it was aborted.
    Fenced,
}

/// What a writer knows of a table's log.
#[derive(Debug, Clone)]
pub(crate) struct LogHead {
    /// The latest version seen.
    pub(crate) version: u64,
    /// The table's metadata at that version.
    pub(crate) metadata: Metadata,
    /// Its columns.
    pub(crate) columns: Columns,
    /// Commits between checkpoints (`delta.checkpointInterval`, default 100).
    pub(crate) checkpoint_interval: u64,
}

impl LogHead {
    fn new(table: &str, version: u64, metadata: Metadata) -> Result<Self> {
        let json = serde_json::to_value(&metadata)
            .map_err(|e| Error::InvalidData(format!("table '{table}': its metadata: {e}")))?;
        let schema: deltalake_core::kernel::StructType =
            serde_json::from_str(json["schemaString"].as_str().unwrap_or("{}"))
                .map_err(|e| Error::InvalidData(format!("table '{table}': its schema: {e}")))?;
        let checkpoint_interval = json["configuration"]["delta.checkpointInterval"]
            .as_str()
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|v| *v > 0)
            .unwrap_or(100);
        Ok(LogHead {
            version,
            columns: schema::dsi_columns(table, &schema)?,
            metadata,
            checkpoint_interval,
        })
    }
}

/// A commit's JSON lines: commit info first, then the actions.
fn commit_body(actions: &[Action], create: bool) -> Result<bytes::Bytes> {
    let info = serde_json::json!({"commitInfo": {
        "timestamp": now_ms(),
        "operation": if create { "CREATE TABLE" } else { "WRITE" },
        "operationParameters": {"mode": "Append"},
        "isBlindAppend": true,
        "clientVersion": format!("dsi-{}", env!("CARGO_PKG_VERSION")),
    }});
    let mut out = serde_json::to_string(&info).map_err(|e| Error::InvalidData(e.to_string()))?;
    for a in actions {
        out.push('\n');
        out.push_str(&serde_json::to_string(a).map_err(|e| Error::InvalidData(e.to_string()))?);
    }
    out.push('\n');
    Ok(bytes::Bytes::from(out))
}

/// The record of a multi-table put in progress.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct PutRecord {
    /// The put's id.
    pub(crate) id: String,
    /// Its tables, in commit order (the last one completes it).
    pub(crate) tables: Vec<String>,
}

/// The protocol of every table dsi creates: reader 1, writer 2 (no table
/// features, readable by every Delta reader).
pub(crate) fn protocol() -> Result<Protocol> {
    serde_json::from_value(serde_json::json!({"minReaderVersion": 1, "minWriterVersion": 2}))
        .map_err(|e| Error::InvalidData(format!("building a Delta protocol: {e}")))
}

/// The metadata of a table with these columns (keeping an existing table's
/// id and configuration).
pub(crate) fn metadata(columns: &Columns, existing: Option<&Metadata>) -> Result<Metadata> {
    let schema = schema::delta_schema(columns)?;
    let fail = |e: deltalake_core::kernel::Error| {
        Error::InvalidData(format!("building Delta metadata: {e}"))
    };
    match existing {
        Some(m) => {
            use deltalake_core::kernel::MetadataExt as _;
            m.clone().with_schema(&schema).map_err(fail)
        }
        None => deltalake_core::kernel::new_metadata(
            &schema,
            Vec::<String>::new(),
            TABLE_PROPERTIES.iter().copied(),
        )
        .map_err(fail),
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A Remove of a file by its Add.
pub(crate) fn remove_of(add: &Add, data_change: bool) -> Remove {
    Remove {
        path: add.path.clone(),
        data_change,
        deletion_timestamp: Some(now_ms()),
        extended_file_metadata: Some(true),
        partition_values: Some(add.partition_values.clone()),
        size: Some(add.size),
        tags: None,
        deletion_vector: None,
        base_row_id: None,
        default_row_commit_version: None,
    }
}

impl Dataset {
    /// Commits `actions` to a table once, against `state` (its snapshot, or
    /// `None` to create it); `Ok(false)` when another commit won the race.
    pub(crate) async fn try_commit(
        &self,
        table: &str,
        state: Option<&DeltaTableState>,
        actions: Vec<Action>,
        operation: DeltaOperation,
    ) -> Result<bool> {
        let log = self.log_store(table)?;
        let builder: CommitBuilder = CommitProperties::default()
            .with_create_checkpoint(true)
            .into();
        let result = builder
            .with_actions(actions)
            .with_max_retries(0)
            .build(
                state.map(|s| s as &dyn deltalake_core::kernel::transaction::TableReference),
                log,
                operation,
            )
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if is_conflict(&e) => Ok(false),
            Err(e) => Err(self.delta_err(&format!("committing to table '{table}'"), &e)),
        }
    }

    /// What this writer knows of a table's log, brought up to date by
    /// reading only the commits it has not seen (`None`: no table yet).
    /// With `watch`, also the version of that application transaction if
    /// one of those commits holds it.
    pub(crate) async fn log_head(
        &self,
        table: &str,
        watch: Option<&str>,
    ) -> Result<(Option<LogHead>, Option<i64>)> {
        let log = self.log_store(table)?;
        let what = format!("reading the log of table '{table}'");
        let cached = self
            .heads
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(table)
            .cloned();
        let mut head = match cached {
            Some(h) => h,
            None => match self.lazy_snapshot(&log).await {
                Ok(s) => {
                    let h = LogHead::new(table, s.version(), s.metadata().clone())?;
                    // Only a retry after losing the race to create the
                    // table gets here with `watch`: look at every commit.
                    let mut seen = None;
                    if watch.is_some() {
                        let mut newest = None;
                        self.scan_commits(
                            table,
                            &log,
                            0,
                            s.version(),
                            watch,
                            &mut newest,
                            &mut seen,
                        )
                        .await?;
                    }
                    self.remember_head(table, &h);
                    return Ok((Some(h), seen));
                }
                Err(e) if crate::delta::is_missing_table(&e) => {
                    if watch.is_none() {
                        return Ok((None, None));
                    }
                    // A retry of the creating commit: look at version 0.
                    match log.read_commit_entry(0).await {
                        Ok(None) => return Ok((None, None)),
                        Ok(Some(_)) => {
                            let s = self
                                .lazy_snapshot(&log)
                                .await
                                .map_err(|e| self.delta_err(&what, &e))?;
                            let mut seen = None;
                            let mut newest = None;
                            self.scan_commits(
                                table,
                                &log,
                                0,
                                s.version(),
                                watch,
                                &mut newest,
                                &mut seen,
                            )
                            .await?;
                            let h = LogHead::new(table, s.version(), s.metadata().clone())?;
                            self.remember_head(table, &h);
                            return Ok((Some(h), seen));
                        }
                        Err(e) => return Err(self.delta_err(&what, &e)),
                    }
                }
                Err(e) => return Err(self.delta_err(&what, &e)),
            },
        };
        let mut attempt = 0;
        let latest = loop {
            match log.get_latest_version(head.version).await {
                Ok(v) => break v,
                Err(e)
                    if crate::delta::is_listing_race(&e)
                        && attempt < crate::delta::LISTING_ATTEMPTS =>
                {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(u64::from(attempt) * 5)).await;
                }
                Err(e) => return Err(self.delta_err(&what, &e)),
            }
        };
        let mut metadata = None;
        let mut seen = None;
        if latest > head.version {
            self.scan_commits(
                table,
                &log,
                head.version + 1,
                latest,
                watch,
                &mut metadata,
                &mut seen,
            )
            .await?;
            head = match metadata {
                Some(m) => LogHead::new(table, latest, m)?,
                None => LogHead {
                    version: latest,
                    ..head
                },
            };
            self.remember_head(table, &head);
        }
        Ok((Some(head), seen))
    }

    /// The latest lazy snapshot of a table, retried when its listing
    /// raced with writers.
    async fn lazy_snapshot(
        &self,
        log: &deltalake_core::logstore::LogStoreRef,
    ) -> std::result::Result<Snapshot, DeltaTableError> {
        let mut attempt = 0;
        loop {
            match Snapshot::try_new(log.as_ref(), None).await {
                Err(e)
                    if crate::delta::is_listing_race(&e)
                        && attempt < crate::delta::LISTING_ATTEMPTS =>
                {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(u64::from(attempt) * 5)).await;
                }
                other => return other,
            }
        }
    }

    fn remember_head(&self, table: &str, head: &LogHead) {
        self.heads
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(table.to_owned(), head.clone());
    }

    /// Reads commits `first..=last`: the newest metadata among them, and
    /// what they say of put `watch`: [`COMMITTED`] if one adds a file named
    /// after it (see the module documentation) or holds its transaction,
    /// [`FENCED`] if one fences it.
    #[allow(clippy::too_many_arguments, reason = "one scan fills both answers")]
    async fn scan_commits(
        &self,
        table: &str,
        log: &deltalake_core::logstore::LogStoreRef,
        first: u64,
        last: u64,
        watch: Option<&str>,
        metadata: &mut Option<Metadata>,
        seen: &mut Option<i64>,
    ) -> Result<()> {
        let what = format!("reading the log of table '{table}'");
        for v in first..=last {
            let Some(bytes) = log
                .read_commit_entry(v)
                .await
                .map_err(|e| self.delta_err(&what, &e))?
            else {
                continue;
            };
            for line in String::from_utf8_lossy(&bytes).lines() {
                let interesting = line.starts_with("{\"metaData\"")
                    || watch.is_some_and(|w| {
                        (line.starts_with("{\"txn\"") || line.starts_with("{\"add\""))
                            && line.contains(w)
                    });
                if !interesting {
                    continue;
                }
                let j: serde_json::Value = serde_json::from_str(line)
                    .map_err(|e| self.err(what.clone(), format!("version {v}: {e}")))?;
                if let Some(m) = j.get("metaData") {
                    *metadata = Some(
                        serde_json::from_value(m.clone())
                            .map_err(|e| self.err(what.clone(), format!("version {v}: {e}")))?,
                    );
                } else if let (Some(w), Some(t)) = (watch, j.get("txn"))
                    && t["appId"].as_str() == Some(w)
                {
                    *seen = t["version"].as_i64();
                } else if let (Some(w), Some(path)) = (watch, j["add"]["path"].as_str())
                    && layout::file_of_put(path, w)
                {
                    *seen = Some(COMMITTED);
                }
            }
        }
        Ok(())
    }

    /// Commits a put's files to one table: see the module documentation.
    /// `columns` are the put's columns for the table; `completing` for the
    /// last table of a multi-table put, whose commit also holds the put's
    /// transaction. Writes the commit itself (delta-rs's commit builder
    /// would replay the log after every commit) and a checkpoint at every
    /// checkpoint interval.
    pub(crate) async fn commit_put(
        &self,
        table: &str,
        put: &str,
        columns: &Columns,
        adds: &[Add],
        completing: bool,
    ) -> Result<Outcome> {
        let log = self.log_store(table)?;
        let mut backoff = Backoff::new();
        let mut retry = false;
        loop {
            let (head, seen) = self.log_head(table, retry.then_some(put)).await?;
            match seen {
                Some(COMMITTED) => return Ok(Outcome::Committed),
                Some(_) => return Ok(Outcome::Fenced),
                None => {}
            }
            let mut actions: Vec<Action> = Vec::with_capacity(adds.len() + 4);
            let mut new_metadata = None;
            match &head {
                Some(h) => {
                    if let Some(merged) = schema::evolve(table, &h.columns, columns)? {
                        new_metadata = Some(metadata(&merged, Some(&h.metadata))?);
                    }
                }
                None => {
                    actions.push(Action::Protocol(protocol()?));
                    new_metadata = Some(metadata(columns, None)?);
                }
            }
            if let Some(m) = &new_metadata {
                actions.push(Action::Metadata(m.clone()));
            }
            actions.extend(adds.iter().cloned().map(Action::Add));
            if completing {
                actions.push(Action::Txn(Transaction::new_with_last_update(
                    put,
                    COMMITTED,
                    Some(now_ms()),
                )));
            }
            let version = head.as_ref().map_or(0, |h| h.version + 1);
            let body = commit_body(&actions, version == 0)?;
            match log
                .write_commit_entry(version, CommitOrBytes::LogBytes(body), uuid::Uuid::new_v4())
                .await
            {
                Ok(()) => {
                    let h = match (head, new_metadata) {
                        (_, Some(m)) => LogHead::new(table, version, m)?,
                        (Some(h), None) => LogHead { version, ..h },
                        (None, None) => unreachable!("a new table always has metadata"),
                    };
                    self.remember_head(table, &h);
                    if version > 0 && version % h.checkpoint_interval == 0 {
                        self.checkpoint_quietly(table).await;
                    }
                    return Ok(Outcome::Committed);
                }
                Err(TransactionError::VersionAlreadyExists(_)) => {}
                Err(e) => {
                    return Err(self.err(
                        format!("committing to table '{table}'"),
                        crate::error::one_line(&e),
                    ));
                }
            }
            retry = true;
            match backoff.next() {
                Some(wait) => tokio::time::sleep(wait).await,
                None => {
                    return Err(self.err(
                        format!("committing to table '{table}'"),
                        format!(
                            "gave up after {} attempts lost to concurrent writers",
                            backoff.attempts()
                        ),
                    ));
                }
            }
        }
    }

    /// Writes a checkpoint of a table's latest version; a failure only
    /// costs readers time, so it is logged, not returned.
    async fn checkpoint_quietly(&self, table: &str) {
        let result = async {
            let mut t = deltalake_core::DeltaTable::new(self.log_store(table)?);
            t.load()
                .await
                .map_err(|e| self.delta_err(&format!("reading the log of table '{table}'"), &e))?;
            deltalake_core::checkpoints::create_checkpoint(&t, None)
                .await
                .map_err(|e| {
                    self.delta_err(&format!("writing a checkpoint of table '{table}'"), &e)
                })
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(store = %self.location, table, error = %e, "checkpoint not written");
        }
    }

    /// Fences a put in a table (if it has not committed there) and tells
    /// whether it had committed: the table holds its transaction (the last
    /// table) or a file of it (an earlier table, whose files of an
    /// incomplete put are never compacted).
    async fn fence(&self, table: &str, put: &str) -> Result<Outcome> {
        let mut backoff = Backoff::new();
        loop {
            let Some(state) = self.snapshot(table).await? else {
                // No table: nothing of the put is there, and a later
                // creation by the put itself is the only way in; fence it
                // by creating nothing (its commit would find no fence, but
                // its writer is the one aborting or has been gone for
                // ABANDON_AFTER).
                return Ok(Outcome::Fenced);
            };
            match self.txn_version(table, &state, put).await? {
                Some(COMMITTED) => return Ok(Outcome::Committed),
                Some(_) => return Ok(Outcome::Fenced),
                None => {}
            }
            if state
                .log_data()
                .iter()
                .any(|f| layout::file_of_put(&f.path(), put))
            {
                return Ok(Outcome::Committed);
            }
            let actions = vec![Action::Txn(Transaction::new_with_last_update(
                put,
                FENCED,
                Some(now_ms()),
            ))];
            let op = DeltaOperation::Write {
                mode: SaveMode::Append,
                partition_by: None,
                predicate: None,
            };
            if self.try_commit(table, Some(&state), actions, op).await? {
                return Ok(Outcome::Fenced);
            }
            let Some(wait) = backoff.next() else {
                return Err(self.err(
                    format!("aborting put {put} in table '{table}'"),
                    "gave up after too many attempts lost to concurrent writers",
                ));
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// Removes a put's files from a table (those still there).
    async fn remove_put_files(&self, table: &str, put: &str) -> Result<()> {
        let mut backoff = Backoff::new();
        loop {
            let Some(state) = self.snapshot(table).await? else {
                return Ok(());
            };
            let mine: Vec<Add> = self
                .tagged_files(&state)
                .into_iter()
                .filter(|(_, tags)| tags.get(TAG_PUT).is_some_and(|p| p == put))
                .map(|(add, _)| add)
                .collect();
            if mine.is_empty() {
                return Ok(());
            }
            let actions = mine
                .iter()
                .map(|a| Action::Remove(remove_of(a, true)))
                .collect();
            let op = DeltaOperation::Delete {
                predicate: Some(format!("{TAG_PUT} = '{put}' (aborted put)")),
            };
            if self.try_commit(table, Some(&state), actions, op).await? {
                return Ok(());
            }
            let Some(wait) = backoff.next() else {
                return Err(self.err(
                    format!("aborting put {put} in table '{table}'"),
                    "gave up after too many attempts lost to concurrent writers",
                ));
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// Aborts a multi-table put (see the module documentation). Returns
    /// `true` if the put turned out to be complete instead.
    pub(crate) async fn abort_put(&self, record: &PutRecord) -> Result<bool> {
        let Some(last) = record.tables.last() else {
            return Ok(false);
        };
        let decided = match self.fence(last, &record.id).await {
            Ok(o) => o,
            // The last table cannot be written: read it to decide.
            Err(e) => match self.snapshot(last).await {
                Ok(Some(s)) => match self.txn_version(last, &s, &record.id).await? {
                    Some(COMMITTED) => Outcome::Committed,
                    _ => Outcome::Fenced,
                },
                Ok(None) => Outcome::Fenced,
                Err(_) => return Err(e),
            },
        };
        if decided == Outcome::Committed {
            self.delete_put_record(&record.id).await;
            return Ok(true);
        }
        for table in &record.tables[..record.tables.len() - 1] {
            // A table the put did reach: take its files out again.
            if self.fence(table, &record.id).await? == Outcome::Committed {
                self.remove_put_files(table, &record.id).await?;
            }
        }
        self.delete_put_record(&record.id).await;
        Ok(false)
    }

    /// The path of a put record.
    pub(crate) fn put_record_path(&self, id: &str) -> Path {
        layout::puts_dir(&self.prefix).join(format!("{id}.json").as_str())
    }

    /// Writes a put record (create-if-absent).
    pub(crate) async fn write_put_record(&self, record: &PutRecord) -> Result<()> {
        let body = serde_json::to_vec(record).map_err(|e| Error::InvalidData(e.to_string()))?;
        self.store
            .put_opts(
                &self.put_record_path(&record.id),
                body.into(),
                PutOptions::from(PutMode::Create),
            )
            .await
            .map_err(|e| self.store_err("writing a put record", &e))?;
        Ok(())
    }

    /// Deletes a put record (best effort: a leftover record of a finished
    /// put is found complete and deleted by the next writer).
    pub(crate) async fn delete_put_record(&self, id: &str) {
        let _ = self.store.delete(&self.put_record_path(id)).await;
    }

    /// Aborts the put records older than `min_age` (abandoned by writers
    /// that died between their commits). Returns how many were settled.
    pub(crate) async fn settle_abandoned(&self, min_age: Duration) -> Result<usize> {
        use futures_util::TryStreamExt as _;
        let dir = layout::puts_dir(&self.prefix);
        let listed: Vec<object_store::ObjectMeta> = self
            .store
            .list(Some(&dir))
            .try_collect()
            .await
            .map_err(|e| self.store_err("listing put records", &e))?;
        let now = now_ms();
        let min_age_ms = i64::try_from(min_age.as_millis()).unwrap_or(i64::MAX);
        let mut settled = 0;
        for meta in listed {
            let Some(id) = meta
                .location
                .filename()
                .and_then(|f| f.strip_suffix(".json"))
                .map(str::to_owned)
            else {
                continue;
            };
            let born = layout::id_millis(&id)
                .and_then(|ms| i64::try_from(ms).ok())
                .unwrap_or(0);
            if now.saturating_sub(born) < min_age_ms {
                continue;
            }
            let bytes = match self.store.get(&meta.location).await {
                Ok(r) => r
                    .bytes()
                    .await
                    .map_err(|e| self.store_err("reading a put record", &e))?,
                Err(object_store::Error::NotFound { .. }) => continue,
                Err(e) => return Err(self.store_err("reading a put record", &e)),
            };
            let record: PutRecord = serde_json::from_slice(&bytes)
                .map_err(|e| self.err("reading a put record", format!("{}: {e}", meta.location)))?;
            self.abort_put(&record).await?;
            settled += 1;
        }
        Ok(settled)
    }

    /// The files of a snapshot that carry tags, with their tags.
    pub(crate) fn tagged_files(
        &self,
        state: &DeltaTableState,
    ) -> Vec<(Add, HashMap<String, String>)> {
        let mut out = Vec::new();
        for f in state.log_data().iter() {
            if !crate::layout::is_multi_put_file(&f.path()) {
                continue;
            }
            #[allow(
                deprecated,
                reason = "the only public way to a file's tags in delta-rs 1.1"
            )]
            let add = f.add_action();
            let tags: HashMap<String, String> = add
                .tags
                .clone()
                .unwrap_or_default()
                .into_iter()
                .filter_map(|(k, v)| v.map(|v| (k, v)))
                .collect();
            out.push((add, tags));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_jittered_and_bounded() {
        let mut b = Backoff::new();
        let waits: Vec<Duration> = (0..12).filter_map(|_| b.next()).collect();
        assert_eq!(waits.len(), 12);
        assert!(waits.iter().all(|w| *w <= Duration::from_secs(2)));
        assert!(waits[0] <= Duration::from_millis(10));
        assert_eq!(b.attempts(), 13);
    }

    #[test]
    fn the_protocol_needs_no_table_features() {
        let p = serde_json::to_value(protocol().unwrap()).unwrap();
        assert_eq!(p["minReaderVersion"], 1);
        assert_eq!(p["minWriterVersion"], 2);
    }
}
