//! Compaction (`dsi compact`): small files merged into large ones,
//! unreferenced files vacuumed, a checkpoint written.
//!
//! * **Bin-packing.** Runs of consecutive small files (in put order, so
//!   that rows keep their order) are merged, up to
//!   [`CompactOptions::target_file_bytes`] per new file, and swapped in by
//!   one commit per table that removes the old files and adds the new ones
//!   (`dataChange: false`: readers of the change feed see no new rows).
//!   The new file is named after the first put it holds. dsi merges files
//!   itself rather than through delta-rs's `optimize`, which needs
//!   DataFusion (six minutes of clean build that the driver does not
//!   otherwise need), and it merges only files of complete puts.
//! * **Safe while others record.** Puts only add files, so a concurrent
//!   put never conflicts with a compaction; the compaction's commit
//!   re-checks, against the latest snapshot, that every file it replaces
//!   is still there (another compaction may have won), and otherwise gives
//!   up cleanly: its new files are then unreferenced and a later vacuum
//!   deletes them.
//! * **Vacuum** (delta-rs's full mode) deletes files that the table no
//!   longer references, once their tombstone (kept one hour after the
//!   removal, `delta.deletedFileRetentionDuration`) has expired and they
//!   were written longer than [`CompactOptions::retention`] ago: 24 hours
//!   by default. A file a compaction removed thus stays at least an hour,
//!   far longer than any read holds a snapshot, and a file never committed
//!   stays 24 hours, far longer than any put takes to commit (a put gives
//!   up after [`crate::ABANDON_AFTER`] plus ten minutes of back-off). Blobs
//!   are outside the table roots and never vacuumed.
//! * **Checkpoint.** After the swap a checkpoint of the latest version is
//!   written, so that opening the table reads one small Parquet file and
//!   not the JSON commits of every put. (Every put also writes one each
//!   100 commits.)
//! * **Automatically**, the put that writes a table's checkpoint (every
//!   100th commit) compacts it, without vacuum, if it has more than
//!   [`CompactOptions::AUTO_COMPACT_FILES`] small files, so that listings
//!   stay fast between explicit compactions
//!   ([`crate::DatasetBuilder::with_auto_compact`]). It merges by size
//!   tiers ([`tiered_bins`]), without a second checkpoint (the put has just
//!   written one), rather than everything at once: merging every
//!   small file each time would rewrite all rows so far at every 100th put
//!   (quadratic; each `runs` row carries tens of KB of system description).

use std::time::Duration;

use deltalake_core::DeltaTable;
use deltalake_core::kernel::{Action, Add};
use deltalake_core::operations::vacuum::VacuumMode;
use deltalake_core::protocol::DeltaOperation;
use dsi_core::{DataType, Error, Result, Table};
use object_store::{ObjectStoreExt, PutPayload};
use parquet::arrow::ArrowWriter;
use serde::Serialize;

use crate::commit::{Backoff, remove_of};
use crate::read::{FileRef, Part};
use crate::{Dataset, layout, stats, write};

/// What `compact` does.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CompactOptions {
    /// Size a merged file grows to (default 128 MiB).
    pub target_file_bytes: u64,
    /// Files smaller than this are merged (default 32 MiB).
    pub small_file_bytes: u64,
    /// Whether to vacuum (default true).
    pub vacuum: bool,
    /// How long a file stays after it is no longer referenced (default
    /// 24 hours; at least one hour unless [`CompactOptions::unsafe_retention`]).
    pub retention: Duration,
    /// Whether to write a checkpoint (default true).
    pub checkpoint: bool,
    /// Only these tables (default: every table).
    pub tables: Option<Vec<String>>,
    /// Merge by size tiers of this fan-out instead of everything at once
    /// (automatic compaction; see [`tiered_bins`]).
    pub(crate) fanout: Option<u64>,
}

impl Default for CompactOptions {
    fn default() -> Self {
        CompactOptions {
            target_file_bytes: 128 << 20,
            small_file_bytes: 32 << 20,
            vacuum: true,
            retention: Self::DEFAULT_RETENTION,
            checkpoint: true,
            tables: None,
            fanout: None,
        }
    }
}

impl CompactOptions {
    /// The default retention of unreferenced files.
    pub const DEFAULT_RETENTION: Duration = Duration::from_secs(24 * 3600);
    /// The shortest retention accepted without [`CompactOptions::unsafe_retention`].
    pub const MIN_RETENTION: Duration = Duration::from_secs(3600);
    /// Small files after which a put compacts its table.
    pub const AUTO_COMPACT_FILES: usize = AUTO_COMPACT_FILES;

    /// Only these tables.
    pub fn with_tables<I: IntoIterator<Item = S>, S: Into<String>>(mut self, tables: I) -> Self {
        self.tables = Some(tables.into_iter().map(Into::into).collect());
        self
    }

    /// Sets the retention (refused below [`CompactOptions::MIN_RETENTION`]).
    pub fn with_retention(mut self, retention: Duration) -> Result<Self> {
        if retention < Self::MIN_RETENTION {
            return Err(Error::config(
                "compact",
                format!(
                    "a vacuum retention of {}s could delete files that a running read or put still uses \
                     (at least {}s)",
                    retention.as_secs(),
                    Self::MIN_RETENTION.as_secs()
                ),
            ));
        }
        self.retention = retention;
        Ok(self)
    }

    /// Sets any retention, even zero (tests and benchmarks that know no
    /// other process uses the dataset).
    pub fn unsafe_retention(mut self, retention: Duration) -> Self {
        self.retention = retention;
        self
    }

    /// Whether to vacuum.
    pub fn with_vacuum(mut self, vacuum: bool) -> Self {
        self.vacuum = vacuum;
        self
    }

    /// Sets the target and small-file sizes.
    pub fn with_file_sizes(mut self, target: u64, small: u64) -> Self {
        self.target_file_bytes = target.max(1);
        self.small_file_bytes = small;
        self
    }
}

/// Small files after which a put compacts its table.
pub(crate) const AUTO_COMPACT_FILES: usize = 200;
/// Files of one size tier that automatic compaction merges into one.
pub(crate) const AUTO_COMPACT_FANOUT: u64 = 10;

/// What compaction did to one table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct TableCompaction {
    /// The table.
    pub table: String,
    /// Files before.
    pub files_before: u64,
    /// Bytes of data files before.
    pub bytes_before: u64,
    /// Files after.
    pub files_after: u64,
    /// Bytes of data files after.
    pub bytes_after: u64,
    /// Files merged into new ones.
    pub files_merged: u64,
    /// Files written by merging.
    pub files_written: u64,
    /// Files deleted by the vacuum.
    pub files_vacuumed: u64,
    /// The version a checkpoint was written for, if one was.
    pub checkpoint_version: Option<u64>,
    /// Why nothing was merged, when another compaction won the race.
    pub skipped: Option<String>,
}

/// What compaction did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct CompactReport {
    /// Per table, in name order.
    pub tables: Vec<TableCompaction>,
    /// Abandoned multi-table puts that were settled first.
    pub abandoned_puts_settled: u64,
}

/// Consecutive runs of small files, cut into bins of at most `target`
/// bytes; only bins of two or more files are worth merging.
fn bins(files: &[FileRef], small: u64, target: u64) -> Vec<Vec<&FileRef>> {
    let mut out: Vec<Vec<&FileRef>> = Vec::new();
    let mut cur: Vec<&FileRef> = Vec::new();
    let mut bytes = 0u64;
    for f in files {
        if f.size >= small || bytes + f.size > target {
            if cur.len() > 1 {
                out.push(std::mem::take(&mut cur));
            }
            cur.clear();
            bytes = 0;
            if f.size >= small {
                continue;
            }
        }
        bytes += f.size;
        cur.push(f);
    }
    if cur.len() > 1 {
        out.push(cur);
    }
    out
}

/// The bins of an automatic compaction: size tiers, as in an LSM tree,
/// so that a row is rewritten about log_fanout(rows) times in all rather
/// than at every compaction. A file's tier is log_fanout of its rows; in
/// put order, whenever the newest `fanout` groups are of one tier (and
/// fit in `target` bytes) they become one group of the next tier, so one
/// plan cascades. A table stays at most about `fanout - 1` files per tier
/// plus the puts since the last compaction.
fn tiered_bins(files: &[FileRef], small: u64, target: u64, fanout: u64) -> Vec<Vec<&FileRef>> {
    struct Group<'a> {
        rows: u64,
        bytes: u64,
        files: Vec<&'a FileRef>,
    }
    let fanout = fanout.max(2);
    let width = usize::try_from(fanout).unwrap_or(usize::MAX);
    let tier = |rows: u64| rows.max(1).ilog(fanout);
    let mut out: Vec<Vec<&FileRef>> = Vec::new();
    let mut stack: Vec<Group<'_>> = Vec::new();
    fn flush<'a>(stack: &mut Vec<Group<'a>>, out: &mut Vec<Vec<&'a FileRef>>) {
        out.extend(
            stack
                .drain(..)
                .filter(|g| g.files.len() > 1)
                .map(|g| g.files),
        );
    }
    for f in files {
        if f.size >= small {
            flush(&mut stack, &mut out);
            continue;
        }
        stack.push(Group {
            rows: f.stats.records.unwrap_or(1),
            bytes: f.size,
            files: vec![f],
        });
        while stack.len() >= width {
            let top = &stack[stack.len() - width..];
            let t = tier(top[width - 1].rows);
            if top.iter().any(|g| tier(g.rows) != t)
                || top.iter().map(|g| g.bytes).sum::<u64>() > target
            {
                break;
            }
            let merged = stack.split_off(stack.len() - width);
            stack.push(Group {
                rows: merged.iter().map(|g| g.rows).sum(),
                bytes: merged.iter().map(|g| g.bytes).sum(),
                files: merged.into_iter().flat_map(|g| g.files).collect(),
            });
        }
    }
    flush(&mut stack, &mut out);
    out
}

impl Dataset {
    /// Compacts the dataset's tables (all, or [`CompactOptions::tables`]):
    /// merges small files, vacuums and writes checkpoints (see the crate
    /// documentation, "Compaction"). Safe while other processes record.
    /// Returns what it did per table.
    pub fn compact(&self, options: &CompactOptions) -> Result<CompactReport> {
        self.writable("compact")?;
        self.block_on(async {
            let settled = self.settle_abandoned(crate::ABANDON_AFTER).await?;
            let names = match &options.tables {
                Some(t) => t.clone(),
                None => self.table_names().await?,
            };
            let mut report = CompactReport {
                tables: Vec::new(),
                abandoned_puts_settled: settled as u64,
            };
            for name in names {
                match self.compact_table(&name, options).await? {
                    Some(t) => report.tables.push(t),
                    // Named explicitly but not there.
                    None if options.tables.is_some() => {
                        return Err(Error::not_found_in("table", name, self.location.clone()));
                    }
                    // A directory without a Delta table: nothing to do.
                    None => {}
                }
            }
            Ok(report)
        })
    }

    async fn compact_table(
        &self,
        table: &str,
        options: &CompactOptions,
    ) -> Result<Option<TableCompaction>> {
        let Some(view) = self.view(table).await? else {
            return Ok(None);
        };
        let mut report = TableCompaction {
            table: table.to_owned(),
            files_before: view.files.len() as u64,
            bytes_before: view.files.iter().map(|f| f.size).sum(),
            ..TableCompaction::default()
        };
        let bins = match options.fanout {
            None => bins(
                &view.files,
                options.small_file_bytes,
                options.target_file_bytes,
            ),
            Some(fanout) => tiered_bins(
                &view.files,
                options.small_file_bytes,
                options.target_file_bytes,
                fanout,
            ),
        };
        if !bins.is_empty() {
            let mut removed: Vec<&FileRef> = Vec::new();
            let mut added: Vec<Add> = Vec::new();
            for bin in &bins {
                added.push(self.merge(table, &view.columns, bin).await?);
                removed.extend(bin.iter().copied());
            }
            match self.swap(table, &removed, &added, options).await? {
                None => {
                    report.files_merged = removed.len() as u64;
                    report.files_written = added.len() as u64;
                }
                Some(why) => report.skipped = Some(why),
            }
        }
        // The automatic compaction (no vacuum, no checkpoint: the put has
        // just written one) loads nothing more: with many tombstones in
        // the checkpoint each load costs.
        if options.vacuum || options.checkpoint {
            let mut delta = DeltaTable::new(self.log_store(table)?);
            delta
                .load()
                .await
                .map_err(|e| self.delta_err(&format!("reading the log of table '{table}'"), &e))?;
            if options.vacuum {
                let retention = chrono::Duration::from_std(options.retention)
                    .map_err(|e| Error::config("compact", e.to_string()))?;
                let (vacuumed, metrics) = delta
                    .vacuum()
                    .with_retention_period(retention)
                    .with_enforce_retention_duration(false)
                    .with_mode(VacuumMode::Full)
                    .await
                    .map_err(|e| self.delta_err(&format!("vacuuming table '{table}'"), &e))?;
                report.files_vacuumed = metrics.files_deleted.len() as u64;
                delta = vacuumed;
            }
            if options.checkpoint {
                deltalake_core::checkpoints::create_checkpoint(&delta, None)
                    .await
                    .map_err(|e| {
                        self.delta_err(&format!("writing a checkpoint of table '{table}'"), &e)
                    })?;
                report.checkpoint_version = delta.version();
            }
        }
        if options.fanout.is_none()
            && let Some(after) = self.view(table).await?
        {
            report.files_after = after.files.len() as u64;
            report.bytes_after = after.files.iter().map(|f| f.size).sum();
        }
        Ok(Some(report))
    }

    /// Writes one file holding every row of `bin`, in order, and returns
    /// its `add` (not committed yet).
    async fn merge(
        &self,
        table: &str,
        columns: &[(String, DataType)],
        bin: &[&FileRef],
    ) -> Result<Add> {
        let schema: Vec<(&str, DataType)> = columns.iter().map(|(n, t)| (n.as_str(), *t)).collect();
        let empty = write::batch_of(&Table::with_schema(table, &schema)?)?;
        let fail = |e: parquet::errors::ParquetError| {
            self.err(format!("compacting table '{table}'"), e.to_string())
        };
        let mut out = Vec::new();
        let mut writer = ArrowWriter::try_new(&mut out, empty.schema(), Some(write::properties()))
            .map_err(fail)?;
        let mut acc = stats::Accumulator::default();
        for f in bin {
            let rows = self.decode(table, f, &Part::default()).await?;
            let mut full = Table::with_schema(table, &schema)?;
            full.append_rows(rows)?;
            acc.add(&full);
            writer.write(&write::batch_of(&full)?).map_err(fail)?;
        }
        writer.close().map_err(fail)?;
        let first = layout::file_order_key(&bin[0].relative).0.to_owned();
        let name = layout::compacted_file_name(&first, &layout::new_id());
        let path = layout::join(&layout::table_dir(&self.prefix, table), &[&name]);
        let size = out.len();
        self.store
            .put(&path, PutPayload::from(out))
            .await
            .map_err(|e| self.store_err("writing a compacted file", &e))?;
        let mut add = write::add_action(name, size, acc.to_json(), None);
        add.data_change = false;
        Ok(add)
    }

    /// Commits the swap of `removed` for `added`; `Some(reason)` when a
    /// file to remove is gone already (another compaction won).
    async fn swap(
        &self,
        table: &str,
        removed: &[&FileRef],
        added: &[Add],
        options: &CompactOptions,
    ) -> Result<Option<String>> {
        let mut backoff = Backoff::new();
        loop {
            let Some(state) = self.snapshot(table).await? else {
                return Ok(Some("the table disappeared".into()));
            };
            let active: std::collections::HashMap<String, Add> = state
                .log_data()
                .iter()
                .filter(|f| removed.iter().any(|r| r.relative == f.path()))
                .map(|f| {
                    #[allow(deprecated, reason = "the Add of an active file, for its Remove")]
                    let add = f.add_action();
                    (add.path.clone(), add)
                })
                .collect();
            if active.len() != removed.len() {
                return Ok(Some(
                    "another compaction replaced some of the same files first".into(),
                ));
            }
            let mut actions: Vec<Action> = removed
                .iter()
                .filter_map(|r| active.get(&r.relative))
                .map(|a| Action::Remove(remove_of(a, false)))
                .collect();
            actions.extend(added.iter().cloned().map(Action::Add));
            let op = DeltaOperation::Optimize {
                predicate: None,
                target_size: i64::try_from(options.target_file_bytes).unwrap_or(i64::MAX),
            };
            if self.try_commit(table, Some(&state), actions, op).await? {
                return Ok(None);
            }
            let Some(wait) = backoff.next() else {
                return Ok(Some("too many commits lost to concurrent writers".into()));
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// Compacts a table by size tiers ([`tiered_bins`], no vacuum) if it
    /// has more than `limit` small files.
    pub(crate) async fn auto_compact_async(&self, table: &str, limit: usize) -> Result<()> {
        let mut options = CompactOptions::default().with_vacuum(false);
        options.fanout = Some(AUTO_COMPACT_FANOUT);
        options.checkpoint = false;
        let Some(view) = self.view(table).await? else {
            return Ok(());
        };
        let small = view
            .files
            .iter()
            .filter(|f| f.size < options.small_file_bytes)
            .count();
        if small <= limit {
            return Ok(());
        }
        self.compact_table(table, &options).await.map(|_| ())
    }
}

impl From<CompactReport> for dsi_core::Compaction {
    fn from(r: CompactReport) -> Self {
        let mut notes = Vec::new();
        if r.abandoned_puts_settled > 0 {
            notes.push(format!(
                "{} interrupted multi-table put(s) settled first",
                r.abandoned_puts_settled
            ));
        }
        let tables = r
            .tables
            .into_iter()
            .map(|t| {
                if let Some(why) = &t.skipped {
                    notes.push(format!("{}: nothing merged: {why}", t.table));
                }
                if let Some(v) = t.checkpoint_version {
                    notes.push(format!("{}: checkpoint at version {v}", t.table));
                }
                dsi_core::TableCompaction::new(
                    t.table,
                    (t.files_before, t.files_after),
                    (t.bytes_before, t.bytes_after),
                    t.files_vacuumed,
                )
            })
            .collect();
        dsi_core::Compaction::new(tables, notes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Stats;
    use object_store::path::Path;

    fn file(size: u64) -> FileRef {
        FileRef {
            path: Path::from(format!("t/{size}.parquet")),
            relative: format!("{size}.parquet"),
            size,
            stats: Stats::default(),
        }
    }

    fn rows(n: u64) -> FileRef {
        let mut f = file(n);
        f.stats.records = Some(n);
        f
    }

    /// Row counts of the files after merging each bin into one.
    fn after_tiers(files: &[FileRef], fanout: u64) -> Vec<u64> {
        let bins = tiered_bins(files, 1 << 20, 1 << 30, fanout);
        let mut out = Vec::new();
        let mut i = 0;
        while i < files.len() {
            match bins.iter().find(|b| std::ptr::eq(b[0], &files[i])) {
                Some(b) => {
                    out.push(b.iter().map(|f| f.stats.records.unwrap_or(1)).sum());
                    i += b.len();
                }
                None => {
                    out.push(files[i].stats.records.unwrap_or(1));
                    i += 1;
                }
            }
        }
        out
    }

    #[test]
    fn tiers_cascade_and_stay_few() {
        // 1,234 one-row puts: the digits of 1234, largest tier first.
        let files: Vec<FileRef> = (0..1234).map(|_| rows(1)).collect();
        assert_eq!(
            after_tiers(&files, 10),
            [vec![1000], vec![100; 2], vec![10; 3], vec![1; 4]].concat()
        );
        // An earlier tiered table plus new puts: only the new tier merges.
        let mut files: Vec<FileRef> = vec![rows(1000), rows(100), rows(10)];
        files.extend((0..10).map(|_| rows(1)));
        assert_eq!(after_tiers(&files, 10), vec![1000, 100, 10, 10]);
        // A large file breaks the run; it is never merged.
        let mut files: Vec<FileRef> = (0..9).map(|_| rows(1)).collect();
        files.push(file(2 << 20));
        files.extend((0..3).map(|_| rows(1)));
        assert!(tiered_bins(&files, 1 << 20, 1 << 30, 10).is_empty());
    }

    #[test]
    fn tiers_respect_the_target_size() {
        let files: Vec<FileRef> = (0..10).map(|_| rows(100)).collect();
        assert!(tiered_bins(&files, 1 << 20, 999, 10).is_empty());
        assert_eq!(tiered_bins(&files, 1 << 20, 1000, 10).len(), 1);
    }

    #[test]
    fn bins_are_runs_of_small_files_up_to_the_target() {
        let files: Vec<FileRef> = [1, 2, 3, 100, 4, 5, 6, 7, 8]
            .into_iter()
            .map(file)
            .collect();
        let b = bins(&files, 50, 12);
        let sizes: Vec<Vec<u64>> = b
            .iter()
            .map(|bin| bin.iter().map(|f| f.size).collect())
            .collect();
        assert_eq!(sizes, vec![vec![1, 2, 3], vec![4, 5]]);
        assert!(
            bins(&[file(1)], 50, 100).is_empty(),
            "one file is not merged"
        );
    }

    #[test]
    fn short_retentions_are_refused() {
        let e = CompactOptions::default()
            .with_retention(Duration::from_secs(60))
            .unwrap_err();
        assert!(e.to_string().contains("at least 3600s"), "{e}");
    }
}
