//! `dsi migrate`: a dataset of dsi's first layout (one Parquet file per
//! put under Hive `date=` directories, commit records for multi-file puts)
//! turned into Delta tables, without rewriting a data file.
//!
//! For every table directory, the files of *committed* puts are collected:
//! published files, plus the temporary files that a commit record names
//! (a put interrupted between its commit and its renames), which are
//! renamed to their published names first, as the first layout's own
//! roll-forward would have; temporary files of uncommitted puts are left
//! out (and left alone). Each file is read once for its schema and
//! statistics, and the table's first commit (version 0) adds them all in
//! put order, with the union of their columns as the schema; a checkpoint
//! follows. The files stay where they are (the `date=` directories are
//! plain directories to Delta: `date` is no column). Finally the format
//! record is switched to version 2 and the first layout's bookkeeping
//! (`_dsi/schemas/`, `_dsi/puts/`) is deleted.
//!
//! Stop every writer of the old dsi before migrating: a put of the first
//! layout made during the migration would not be in the log. Running it
//! again after an interruption finishes the job (tables already migrated
//! are skipped). Blob columns of first-layout files hold their length as
//! an unsigned integer, which dsi reads as it is; other engines expect
//! Delta's `long`, so run `dsi compact` after migrating, which rewrites
//! the small files.

use std::collections::{BTreeMap, HashMap};
use std::path::Path as FsPath;

use deltalake_core::kernel::{Action, Add};
use deltalake_core::protocol::{DeltaOperation, SaveMode};
use dsi_core::{DataType, Error, Result, Table};
use object_store::ObjectStoreExt;
use object_store::path::Path;
use serde::{Deserialize, Serialize};

use crate::layout::{self, DataName};
use crate::read::{FileRef, Part};
use crate::stats::{Accumulator, Stats};
use crate::{
    Dataset, DatasetBuilder, FORMAT_NAME, FORMAT_VERSION, FormatRecord, LEGACY_FORMAT_NAME,
};

/// What migration did to one table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct TableMigration {
    /// The table.
    pub table: String,
    /// Data files now in its log.
    pub files: u64,
    /// Rows in them.
    pub rows: u64,
    /// Files of committed puts that were still under temporary names.
    pub rolled_forward: u64,
    /// Temporary files of uncommitted puts, left out.
    pub uncommitted_ignored: u64,
    /// Whether the table had a Delta log already (a resumed migration).
    pub already_migrated: bool,
}

/// What migration did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct MigrateReport {
    /// Where the dataset is.
    pub location: String,
    /// Whether the dataset was of the current layout already (nothing done).
    pub already_current: bool,
    /// Per table, in name order.
    pub tables: Vec<TableMigration>,
}

/// A commit record of the first layout.
#[derive(Debug, Deserialize)]
struct Marker {
    files: Vec<MarkerFile>,
}

#[derive(Debug, Deserialize)]
struct MarkerFile {
    temporary: String,
    published: String,
}

/// Migrates a local dataset directory of the first layout to Delta tables
/// (see the crate documentation, "Migration"); a dataset already of the
/// current layout is left alone ([`MigrateReport::already_current`]).
pub fn migrate_local(root: impl AsRef<FsPath>) -> Result<MigrateReport> {
    let root = root.as_ref();
    if !root.is_dir() {
        return Err(Error::not_found("store", root.display().to_string()));
    }
    Dataset::local_builder(root, dsi_core::Access::ReadWrite)?.migrate()
}

/// Migrates the dataset a builder points at (the S3 driver's
/// `S3Builder::dataset_builder` included), as [`migrate_local`] does.
pub fn migrate(builder: DatasetBuilder) -> Result<MigrateReport> {
    builder.migrate()
}

impl DatasetBuilder {
    /// Migrates the dataset of the first layout this builder points at to
    /// Delta tables, as [`migrate_local`] does.
    pub fn migrate(self) -> Result<MigrateReport> {
        let ds = self.build_unchecked()?;
        ds.writable("migrate")?;
        ds.block_on(ds.migrate_async())
    }
}

impl Dataset {
    async fn format(&self) -> Result<Option<FormatRecord>> {
        let path = layout::format_path(&self.prefix);
        match self.store.get(&path).await {
            Ok(r) => {
                let bytes = r
                    .bytes()
                    .await
                    .map_err(|e| self.store_err("reading the format record", &e))?;
                serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                    Error::IncompatibleStore(format!(
                        "{}: _dsi/dataset.json is not a dsi format record: {e}",
                        self.location
                    ))
                })
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.store_err("reading the format record", &e)),
        }
    }

    async fn migrate_async(&self) -> Result<MigrateReport> {
        let mut report = MigrateReport {
            location: self.location.clone(),
            ..MigrateReport::default()
        };
        match self.format().await? {
            Some(f) if f.format == FORMAT_NAME => {
                report.already_current = true;
                return Ok(report);
            }
            Some(f) if f.format == LEGACY_FORMAT_NAME => {}
            Some(f) => {
                return Err(Error::IncompatibleStore(format!(
                    "{}: format '{}' is not a dsi dataset",
                    self.location, f.format
                )));
            }
            None => {
                return Err(Error::not_found("store", self.location.clone()));
            }
        }
        // Committed puts not renamed yet: finish them first.
        let markers = self
            .list(&layout::puts_dir(&self.prefix), "listing commit records")
            .await?;
        let mut renamed: std::collections::HashSet<Path> = std::collections::HashSet::new();
        let mut committed: HashMap<Path, Path> = HashMap::new();
        for meta in markers
            .iter()
            .filter(|m| m.location.as_ref().ends_with(".json"))
        {
            let bytes = self
                .store
                .get(&meta.location)
                .await
                .map_err(|e| self.store_err("reading a commit record", &e))?
                .bytes()
                .await
                .map_err(|e| self.store_err("reading a commit record", &e))?;
            let m: Marker = serde_json::from_slice(&bytes).map_err(|e| {
                self.err("reading a commit record", format!("{}: {e}", meta.location))
            })?;
            for f in m.files {
                let (Ok(t), Ok(p)) = (Path::parse(&f.temporary), Path::parse(&f.published)) else {
                    continue;
                };
                let abs = |rel: Path| -> Path { self.prefix.parts().chain(rel.parts()).collect() };
                committed.insert(abs(t), abs(p));
            }
        }
        for (tmp, published) in &committed {
            if self.store.head(published).await.is_ok() {
                continue;
            }
            if self.store.head(tmp).await.is_ok() {
                self.store
                    .rename(tmp, published)
                    .await
                    .map_err(|e| self.store_err("renaming a committed file", &e))?;
                renamed.insert(published.clone());
            }
        }

        let listed = self.list(&self.prefix, "listing the dataset").await?;
        let mut by_table: BTreeMap<String, (Vec<FileRef>, u64)> = BTreeMap::new();
        for meta in listed {
            let Some(rel) = meta.location.prefix_match(&self.prefix) else {
                continue;
            };
            let rel: Vec<String> = rel.filter_map(|p| layout::part_text(&p)).collect();
            let Some((dir, rest)) = rel.split_first() else {
                continue;
            };
            if dir == layout::BLOBS || dir.starts_with('_') || dir.starts_with('.') {
                continue;
            }
            let Some(table) = layout::decode_legacy_table(dir) else {
                continue;
            };
            let entry = by_table.entry(table).or_default();
            match layout::classify(rest) {
                DataName::Published { .. } => entry.0.push(FileRef {
                    path: meta.location.clone(),
                    relative: rest.join("/"),
                    size: meta.size,
                    stats: Stats::default(),
                }),
                DataName::Temporary => entry.1 += 1,
                DataName::Other => {}
            }
        }
        for (table, (mut files, ignored)) in by_table {
            self.move_legacy_table(&table, &mut files).await?;
            files.sort_by(|a, b| {
                layout::file_order_key(&a.relative).cmp(&layout::file_order_key(&b.relative))
            });
            let mut t = self.migrate_table(&table, &files).await?;
            t.uncommitted_ignored = ignored;
            t.rolled_forward = files.iter().filter(|f| renamed.contains(&f.path)).count() as u64;
            report.tables.push(t);
        }
        // The switch: from here on this dsi reads the dataset.
        let rec = FormatRecord {
            format: FORMAT_NAME.to_owned(),
            version: FORMAT_VERSION,
        };
        let body =
            serde_json::to_vec_pretty(&rec).map_err(|e| Error::InvalidData(e.to_string()))?;
        self.store
            .put(&layout::format_path(&self.prefix), body.into())
            .await
            .map_err(|e| self.store_err("writing the format record", &e))?;
        for dir in [
            layout::schemas_root(&self.prefix),
            layout::puts_dir(&self.prefix),
        ] {
            for meta in self
                .list(&dir, "deleting the first layout's records")
                .await?
            {
                let _ = self.store.delete(&meta.location).await;
            }
        }
        self.format_known
            .store(true, std::sync::atomic::Ordering::Relaxed);
        Ok(report)
    }

    /// Moves the files of a table whose first-layout directory name (with
    /// `%XX` escapes) differs from its name now (`+XX`).
    async fn move_legacy_table(&self, table: &str, files: &mut [FileRef]) -> Result<()> {
        let dir = layout::table_dir(&self.prefix, table);
        for f in files.iter_mut() {
            let mut target = dir.clone();
            for part in f.relative.split('/') {
                target = layout::join(&target, &[part]);
            }
            if target != f.path {
                self.store
                    .rename(&f.path, &target)
                    .await
                    .map_err(|e| self.store_err(format!("moving table '{table}'"), &e))?;
                f.path = target;
            }
        }
        Ok(())
    }

    async fn migrate_table(&self, table: &str, files: &[FileRef]) -> Result<TableMigration> {
        let mut report = TableMigration {
            table: table.to_owned(),
            ..TableMigration::default()
        };
        if self.snapshot(table).await?.is_some() {
            report.already_migrated = true;
            if let Some(v) = self.view(table).await? {
                report.files = v.files.len() as u64;
            }
            return Ok(report);
        }
        let mut columns: Vec<(String, DataType)> = Vec::new();
        let mut adds: Vec<Add> = Vec::with_capacity(files.len());
        for f in files {
            let rows: Table = self.decode(table, f, &Part::default()).await?;
            for (name, t) in rows.schema() {
                match columns.iter().find(|(n, _)| n == name) {
                    Some((_, old)) if *old != t => {
                        return Err(Error::InvalidData(format!(
                            "{}: column '{name}' of table '{table}' is {old} in one file and {t} in {}",
                            self.location, f.path
                        )));
                    }
                    Some(_) => {}
                    None => columns.push((name.to_owned(), t)),
                }
            }
            let mut acc = Accumulator::default();
            acc.add(&rows);
            report.rows += rows.num_rows() as u64;
            let size = usize::try_from(f.size).unwrap_or(usize::MAX);
            adds.push(crate::write::add_action(
                f.relative.clone(),
                size,
                acc.to_json(),
                None,
            ));
        }
        report.files = adds.len() as u64;
        if adds.is_empty() {
            return Ok(report);
        }
        let mut actions = vec![
            Action::Protocol(crate::commit::protocol()?),
            Action::Metadata(crate::commit::metadata(&columns, None)?),
        ];
        actions.extend(adds.into_iter().map(Action::Add));
        let op = DeltaOperation::Write {
            mode: SaveMode::Append,
            partition_by: None,
            predicate: Some("dsi migrate from layout 1".into()),
        };
        if !self.try_commit(table, None, actions, op).await? {
            // Another migration created it meanwhile.
            report.already_migrated = true;
            return Ok(report);
        }
        let mut delta = deltalake_core::DeltaTable::new(self.log_store(table)?);
        delta
            .load()
            .await
            .map_err(|e| self.delta_err(&format!("reading the log of table '{table}'"), &e))?;
        deltalake_core::checkpoints::create_checkpoint(&delta, None)
            .await
            .map_err(|e| self.delta_err(&format!("writing a checkpoint of table '{table}'"), &e))?;
        Ok(report)
    }
}

impl From<MigrateReport> for dsi_core::Migration {
    fn from(r: MigrateReport) -> Self {
        let tables = r
            .tables
            .into_iter()
            .map(|t| dsi_core::TableMigration::new(t.table, t.files, t.rows))
            .collect();
        dsi_core::Migration::new(r.location, r.already_current, tables)
    }
}
