//! # dsi-driver-parquet
//!
//! The `parquet` back-end: a dataset directory (`./dsi-data/` by default)
//! in which **every table is a [Delta Lake](https://delta.io) table**,
//! written with delta-rs (`deltalake-core` 1.1, on the project's own arrow
//! 59 / object_store 0.13 stack) over an [`object_store::ObjectStore`], so
//! that the `s3` driver (crate `dsi-driver-s3`) reuses it unchanged on
//! object storage.
//!
//! ## Layout
//!
//! ```text
//! dsi-data/
//!   runs/_delta_log/000…000.json             the table's Delta log (one commit per put)
//!   runs/_delta_log/000…100.checkpoint.parquet   a checkpoint every 100 commits and after compact
//!   runs/01JDX3….parquet                     the data of one put (zstd, page index)
//!   runs/01JDX3….c01JE0….parquet             compacted data (many puts, in put order)
//!   blobs/sha256/ab/cdef…                    content-addressed blob content (outside every table)
//!   _dsi/dataset.json                        format and version (2: Delta tables)
//!   _dsi/puts/<ULID>.json                    a put spanning several tables, while it commits
//! ```
//!
//! * One Delta table per dsi table; its directory is the table's name with
//!   ASCII characters other than letters, digits, `-`, `_`, `.` written
//!   `+XX`. The name `blobs` is reserved.
//! * **Readers.** Any Delta reader reads the tables: Python `deltalake`
//!   (and pandas/pyarrow through it), DuckDB's `delta_scan`, Polars
//!   `read_delta`/`scan_delta`, DataFusion, Spark, Trino. A plain Parquet
//!   reader must not glob the directory: after a compaction the replaced
//!   files stay until the vacuum, so it would see rows twice; only the log
//!   says which files are current. Nothing is Hive-partitioned, so a user
//!   column named `date` is an ordinary column.
//! * **No table features** that older readers reject: protocol reader 1 /
//!   writer 2, no deletion vectors, no column mapping, classic checkpoints.
//!   Table properties: statistics on every column, a checkpoint every 100
//!   commits, and `delta.deletedFileRetentionDuration` of one hour (dsi's
//!   shortest vacuum retention), so that the tombstones compactions leave
//!   drop out of checkpoints after an hour instead of Delta's seven days
//!   and reads of a busy table do not slow down with them.
//! * **Opening a table** reads `_last_checkpoint`, the checkpoint and the
//!   commits after it. On a local disk the `_delta_log` directory is listed
//!   from the checkpoint on by comparing file names, without looking at
//!   the earlier entries (object_store's `LocalFileSystem` turns each into
//!   a path first: 40 ms at 10,000 commits); S3 lists after an offset
//!   itself.
//!   Timestamps are Delta `timestamp` (UTC, microseconds); every field
//!   carries dsi's type as the metadata `dsi.type`; a blob is
//!   `struct<sha256: string, len: long>`.
//! * **Statistics.** Every data file's `add` action carries `numRecords`
//!   and per-column `minValues`/`maxValues`/`nullCount` (timestamps widened
//!   to milliseconds, texts over 64 bytes without bounds). Reads go through
//!   the snapshot, never a listing: filters skip files by these statistics
//!   (then row groups and pages by the Parquet statistics), `newest N`
//!   opens only the files whose bounds can hold the result, an unfiltered
//!   [`Driver::count`] reads no data file, and only the columns a
//!   [`TableQuery::columns`] projection names are decoded.
//! * **Schema evolution through the log.** A put that adds columns commits
//!   the new schema with its data; every Delta reader sees the columns,
//!   older rows null. A put that changes a column's type is refused,
//!   naming it, before anything is written.
//!
//! ## Puts and their guarantees
//!
//! * **One commit per table per put**, written with the store's atomic
//!   create-if-absent (`PutMode::Create`), adding the put's data file, named
//!   after the put's ULID. A retry after a lost reply finds that file in the
//!   log and is not applied twice. Nothing else of a put stays in the table
//!   state (no application transaction per put, which every checkpoint
//!   would carry for good), so reads do not grow with the puts ever made.
//!   The writer reads only the commits it has not seen (the log's length
//!   does not slow puts down) and writes a checkpoint every 100 commits.
//! * **Contention.** A lost race is retried with full-jitter exponential
//!   back-off (10 ms doubling to 2 s, for up to 10 minutes), not at once as
//!   delta-rs would: 64 concurrent writers all succeed.
//! * **All or nothing across tables, for dsi readers, always.** A put that
//!   spans tables records itself in `_dsi/puts/`, commits the tables in
//!   order with its files tagged `dsi.put`/`dsi.last`, and is complete
//!   exactly when its **last** table holds its id as the application
//!   transaction `txn { appId: <ULID>, version: 1 }`; dsi readers show an
//!   earlier table's tagged files only then. A put that fails between its
//!   commits aborts: it fences its id in every table (`txn` version 0, so a
//!   late attempt of it gives up) and removes the files it had committed,
//!   so other engines do not see half of it either. A writer that dies
//!   between its commits leaves its record; the next put (or `compact`)
//!   aborts records older than [`ABANDON_AFTER`] (10 minutes) the same way
//!   ([`Dataset::settle_abandoned_puts`]). Until then, other engines see the
//!   tables it had committed.
//! * A failed single-table put leaves at most an unreferenced data file,
//!   which no reader sees and the vacuum deletes.
//!
//! ## Compaction ([`Dataset::compact`], `dsi compact`)
//!
//! Runs of small files (under 32 MiB, in put order) are merged into files
//! of up to 128 MiB by dsi itself (delta-rs's `optimize` needs DataFusion,
//! six minutes of build the driver otherwise avoids) and swapped in by one
//! commit per table (`dataChange: false`) that first checks every replaced
//! file is still current, so compaction is safe while others record. The
//! vacuum then deletes files unreferenced for longer than the retention —
//! [`CompactOptions::DEFAULT_RETENTION`], 24 hours, far longer than any read
//! or put takes; blobs are outside the tables and never vacuumed — and a
//! checkpoint makes the next open read one small file. A file removed by a
//! compaction keeps its tombstone for an hour and is vacuumed once it is
//! also older than the retention, so it stays at least an hour after its
//! removal. The put that writes
//! a checkpoint also compacts its table (without vacuum) once it has more
//! than [`CompactOptions::AUTO_COMPACT_FILES`] (200) small files
//! ([`DatasetBuilder::with_auto_compact`]), by size tiers: groups of ten
//! files of about the same number of rows become one, as in an LSM tree, so
//! a row is rewritten about log10(rows) times in all and a table written
//! only by puts keeps at most about nine files per tier plus the puts since
//! the last compaction.
//!
//! ## Migration ([`migrate_local`], [`migrate`], `dsi migrate`)
//!
//! A dataset of the first layout (one Parquet file per put under Hive
//! `date=` directories, commit records) is refused with
//! [`Error::IncompatibleStore`] and the hint to run `dsi migrate`, which
//! turns each table into a Delta table from its *committed* puts (renaming
//! committed temporaries, ignoring uncommitted ones) without rewriting a
//! data file, then switches the format record. Stop the old dsi's writers
//! first; run `dsi compact` afterwards so that other engines read blob
//! lengths as Delta `long`.
//!
//! ## Log store
//!
//! delta-rs finds log stores through a process-wide registry keyed by URL
//! scheme, whose S3 entry lives in `deltalake-aws` (the AWS SDK). dsi
//! builds delta-rs's default log store itself, per table, over the
//! dataset's own object store: no second S3 client, and two datasets with
//! different credentials in one process cannot collide. The store's
//! create-if-absent must be atomic under races (AWS S3, MinIO, Ceph RGW and
//! moto's are; s3s-fs's and Garage 2.5's are not: concurrent writers could
//! then overwrite each other's commits).
//!
//! ## Blobs
//!
//! Blob content is streamed (memory does not grow with its size), verified
//! against its digest while it is written, and published only when it
//! matches: small blobs with one create-if-absent upload, large ones with a
//! multipart upload that is completed only after verification and aborted
//! otherwise. Reads stream in ranges and verify on the fly.
//!
//! ## Runtime
//!
//! object_store and delta-rs are asynchronous; the [`Driver`] trait is
//! not. Each [`Dataset`] owns a private two-thread tokio runtime (delta-rs
//! replays logs on the runtime it is called from) and blocks on it inside
//! every method, so callers need no runtime (and must not call a dataset
//! from inside one). [`Access::ReadOnly`] opens create and write nothing,
//! and a missing dataset is [`Error::NotFound`] (`store`).
//!
//! ## Features
//!
//! * `sql` — `Query::Sql` with DataFusion over exactly the files of each
//!   table's snapshot that dsi reads (with the log's schema). Without it,
//!   SQL queries fail with [`Error::NotSupported`] naming the feature.
//!
//! ```
//! use dsi_core::{Collection, Column, DataType, Driver, Query, Table, TableQuery, Value};
//! let dir = tempfile::tempdir()?;
//! let data = dsi_driver_parquet::Dataset::open_local(dir.path())?;
//! let t = Table::from_columns("runs", vec![Column::new("exit_code", DataType::Int, vec![Value::Int(3)])?])?;
//! data.put(&Collection::of(t))?;
//! let read = data.get(&Query::Table(TableQuery::new("runs")))?;
//! assert_eq!(read.tables()[0].get(0, "exit_code"), Some(&Value::Int(3)));
//! let report = data.compact(&dsi_driver_parquet::CompactOptions::default())?;
//! assert_eq!(report.tables[0].files_after, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod blobs;
mod commit;
mod compact;
mod delta;
mod error;
mod layout;
mod local_list;
mod migrate;
mod prune;
mod read;
mod schema;
#[cfg(feature = "sql")]
mod sql;
mod stats;
mod top;
mod write;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io::Read;
use std::path::Path as FsPath;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use deltalake_core::DeltaTable;
use deltalake_core::logstore::LogStoreRef;
use dsi_core::blob::BlobReader;
use dsi_core::{
    Access, BlobPut, BlobRef, Collection, Driver, DriverEntry, DriverFunction, Error, Inspection,
    Location, OptionSpec, Options, Query, Result, Table, TableQuery,
};
use futures_util::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use parquet::arrow::arrow_reader::ArrowReaderMetadata;
use serde::{Deserialize, Serialize};

pub use commit::ABANDON_AFTER;
pub use compact::{CompactOptions, CompactReport, TableCompaction};
pub use migrate::{MigrateReport, TableMigration, migrate, migrate_local};
pub use object_store;

use crate::commit::{Outcome, PutRecord, TAG_LAST, TAG_PUT};
use crate::error::{DatasetError, one_line};

/// Default dataset directory, relative to the working directory.
pub const DEFAULT_STORE: &str = "dsi-data";

/// The options the `parquet` driver accepts.
pub const OPTIONS: &[OptionSpec] = &[OptionSpec::optional(
    "store",
    "dataset directory (default ./dsi-data)",
)];

inventory::submit! {
    DriverEntry {
        name: "parquet",
        function: DriverFunction::BackEnd,
        summary: "Delta Lake tables in a directory (default ./dsi-data): readable by deltalake, DuckDB, Polars, Spark, DataFusion",
        options: OPTIONS,
        build: Dataset::from_options,
        migrate: Some(Dataset::migrate_from_options),
    }
}

/// Version of the layout written to `_dsi/dataset.json`: 2 is Delta tables.
pub const FORMAT_VERSION: u32 = 2;
const FORMAT_NAME: &str = "dsi-delta-dataset";
/// The format name of layout 1 (one Parquet file per put, Hive partitions).
const LEGACY_FORMAT_NAME: &str = "dsi-parquet-dataset";
/// Objects fetched at once when reading many files.
const FETCH_CONCURRENCY: usize = 8;
/// Default size of a multipart-upload part and of a blob read range.
pub const DEFAULT_PART_SIZE: usize = 8 << 20;

/// Describes an object-store failure in the words of a particular back-end
/// (e.g. "the server rejected the credentials"), or `None` to use the
/// store's own message.
pub type DescribeError = fn(&object_store::Error) -> Option<String>;

/// Builds a [`Dataset`] over any object store.
#[derive(Debug)]
pub struct DatasetBuilder {
    store: Arc<dyn ObjectStore>,
    prefix: Path,
    root_url: url::Url,
    driver: String,
    location: String,
    describe: Option<DescribeError>,
    part_size: usize,
    structured: Option<Location>,
    access: Access,
    auto_compact: Option<usize>,
}

impl DatasetBuilder {
    /// A dataset under `prefix` in `store`, whose root is `root_url` (the
    /// URL of the store's root: `s3://bucket/`, `file:///`; Delta tables
    /// are addressed by URL), reported as driver `parquet` at the prefix.
    pub fn new(store: Arc<dyn ObjectStore>, root_url: url::Url, prefix: Path) -> Self {
        DatasetBuilder {
            location: prefix.to_string(),
            store,
            prefix,
            root_url,
            driver: "parquet".to_owned(),
            describe: None,
            part_size: DEFAULT_PART_SIZE,
            structured: None,
            access: Access::ReadWrite,
            auto_compact: Some(compact::AUTO_COMPACT_FILES),
        }
    }

    /// Where the dataset is, structured (for [`Driver::location`]).
    pub fn with_structured_location(mut self, location: Location) -> Self {
        self.structured = Some(location);
        self
    }

    /// Opens for reading only or for writing (the default); read-only, a
    /// dataset that does not exist is [`Error::NotFound`] and nothing is
    /// ever written.
    pub fn with_access(mut self, access: Access) -> Self {
        self.access = access;
        self
    }

    /// The driver name used by [`Driver::name`] and in errors.
    pub fn with_driver_name(mut self, name: impl Into<String>) -> Self {
        self.driver = name.into();
        self
    }

    /// Where the dataset is, as shown to users (never with credentials).
    pub fn with_location(mut self, location: impl Into<String>) -> Self {
        self.location = location.into();
        self
    }

    /// A back-end specific description of store failures.
    pub fn with_error_description(mut self, describe: DescribeError) -> Self {
        self.describe = Some(describe);
        self
    }

    /// Size of multipart-upload parts and blob read ranges (at least 5 MiB,
    /// the S3 minimum). Memory used for a blob is a small multiple of it.
    pub fn with_part_size(mut self, bytes: usize) -> Self {
        self.part_size = bytes.max(5 << 20);
        self
    }

    /// Compacts a table after a put when it has more than `files` small
    /// files (default [`CompactOptions::AUTO_COMPACT_FILES`]); `None`
    /// never compacts on its own.
    pub fn with_auto_compact(mut self, files: Option<usize>) -> Self {
        self.auto_compact = files;
        self
    }

    /// Starts the private runtime and checks the dataset's format record
    /// (this is the first request to the store, so bad credentials or a
    /// missing bucket are reported here). A dataset of the first layout is
    /// [`Error::IncompatibleStore`], with the hint to run `dsi migrate`.
    pub fn open(self) -> Result<Dataset> {
        let ds = self.build_unchecked()?;
        ds.block_on(ds.check_format())?;
        Ok(ds)
    }

    /// The dataset without looking at its format record (for `migrate`).
    fn build_unchecked(self) -> Result<Dataset> {
        // delta-rs runs its log replay on the runtime it is called from;
        // on a current-thread runtime it would start a second runtime per
        // operation and share the HTTP client's connections across them.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("dsi-dataset")
            .enable_all()
            .build()
            .map_err(|e| Error::io("starting the object-store runtime", e))?;
        let structured = self.structured.unwrap_or_else(|| Location::Other {
            description: self.location.clone(),
        });
        Ok(Dataset {
            store: self.store,
            prefix: self.prefix,
            root_url: self.root_url,
            driver: self.driver,
            structured,
            access: self.access,
            location: self.location,
            describe: self.describe,
            part_size: self.part_size,
            auto_compact: self.auto_compact,
            runtime,
            format_known: AtomicBool::new(false),
            footers: Mutex::new(HashMap::new()),
            logs: Mutex::new(HashMap::new()),
            tables: Mutex::new(HashMap::new()),
            complete: Mutex::new(HashSet::new()),
            heads: Mutex::new(HashMap::new()),
        })
    }
}

/// A dataset of Delta tables in an object store: the `parquet` driver,
/// and the engine of the `s3` driver.
pub struct Dataset {
    store: Arc<dyn ObjectStore>,
    prefix: Path,
    root_url: url::Url,
    driver: String,
    location: String,
    structured: Location,
    access: Access,
    describe: Option<DescribeError>,
    part_size: usize,
    auto_compact: Option<usize>,
    runtime: tokio::runtime::Runtime,
    /// Whether `_dsi/dataset.json` is known to exist.
    format_known: AtomicBool,
    /// Footers of data files (immutable, so never stale).
    footers: Mutex<HashMap<Path, ArrowReaderMetadata>>,
    /// Log stores, per table.
    logs: Mutex<HashMap<String, LogStoreRef>>,
    /// Last loaded state, per table (updated incrementally).
    tables: Mutex<HashMap<String, DeltaTable>>,
    /// Multi-table puts known to be complete.
    complete: Mutex<HashSet<String>>,
    /// What this writer knows of each table's log.
    heads: Mutex<HashMap<String, commit::LogHead>>,
}

impl fmt::Debug for Dataset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The store's own Debug may show credentials: never print it.
        f.debug_struct("Dataset")
            .field("driver", &self.driver)
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

/// The format record `_dsi/dataset.json`.
#[derive(Debug, Serialize, Deserialize)]
struct FormatRecord {
    format: String,
    version: u32,
}

impl Dataset {
    /// Opens (creating the directory if needed) a dataset on the local file
    /// system, as the `parquet` driver.
    pub fn open_local(root: impl AsRef<FsPath>) -> Result<Self> {
        Self::open_local_with(root, Access::ReadWrite)
    }

    /// Opens a local dataset for reading only or for writing. Read-only,
    /// the directory must exist and hold a dsi dataset; nothing is created.
    pub fn open_local_with(root: impl AsRef<FsPath>, access: Access) -> Result<Self> {
        Self::local_builder(root.as_ref(), access)?.open()
    }

    /// The builder of a local dataset, as [`Dataset::open_local_with`]
    /// opens it (creating the directory when writable; a missing one is
    /// [`Error::NotFound`] read-only), for options such as
    /// [`DatasetBuilder::with_auto_compact`].
    pub fn local_builder(root: &FsPath, access: Access) -> Result<DatasetBuilder> {
        if root.exists() && !root.is_dir() {
            return Err(Error::config(
                "parquet",
                format!(
                    "store '{}' is a file, not a dataset directory",
                    root.display()
                ),
            ));
        }
        match access {
            Access::ReadWrite => std::fs::create_dir_all(root)
                .map_err(|e| Error::io(format!("creating {}", root.display()), e))?,
            Access::ReadOnly if !root.exists() => {
                return Err(Error::not_found("store", root.display().to_string()));
            }
            Access::ReadOnly => {}
        }
        let canonical = std::fs::canonicalize(root)
            .map_err(|e| Error::io(format!("opening {}", root.display()), e))?;
        let prefix = Path::from_absolute_path(&canonical).map_err(|e| {
            Error::config(
                "parquet",
                format!("store '{}': {}", root.display(), one_line(&e)),
            )
        })?;
        let root_url =
            url::Url::parse("file:///").map_err(|e| Error::config("parquet", e.to_string()))?;
        let fs = local_list::LocalListing::new();
        Ok(DatasetBuilder::new(Arc::new(fs), root_url, prefix)
            .with_location(root.display().to_string())
            .with_structured_location(Location::Directory {
                path: root.to_path_buf(),
            })
            .with_access(access))
    }

    /// Builds the `parquet` driver from registry options (`store`).
    pub fn from_options(options: &Options, access: Access) -> Result<Box<dyn Driver>> {
        let store = options.get("store").unwrap_or(DEFAULT_STORE);
        Ok(Box::new(Self::open_local_with(store, access)?))
    }

    /// The registry's migration (`dsi migrate`): [`migrate_local`] of the
    /// `store` option's directory.
    pub fn migrate_from_options(options: &Options) -> Result<dsi_core::Migration> {
        let store = options.get("store").unwrap_or(DEFAULT_STORE);
        migrate_local(store).map(Into::into)
    }

    fn writable(&self, operation: &str) -> Result<()> {
        match self.access {
            Access::ReadWrite => Ok(()),
            Access::ReadOnly => Err(Error::Refused(format!(
                "{operation}: store {} is open read-only",
                self.location
            ))),
        }
    }

    /// The object store holding the dataset. Drive its futures with
    /// [`Dataset::block_on`]: an HTTP client's pooled connections belong to
    /// the runtime that opened them, so another runtime may stall on them.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// The dataset's root inside the store.
    pub fn prefix(&self) -> &Path {
        &self.prefix
    }

    /// Where the dataset is, as shown to users.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// The object holding a blob's content.
    pub fn blob_path(&self, blob: &BlobRef) -> Path {
        layout::blob_path(&self.prefix, blob)
    }

    /// The directory of a table.
    pub fn table_path(&self, table: &str) -> Path {
        layout::table_dir(&self.prefix, table)
    }

    /// Runs a future on the dataset's private runtime, e.g. a request to
    /// [`Dataset::store`]. Must not be called from inside an async runtime.
    pub fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.runtime.block_on(f)
    }

    fn store_err(&self, what: impl Into<String>, e: &object_store::Error) -> Error {
        let message = self
            .describe
            .and_then(|d| d(e))
            .unwrap_or_else(|| one_line(e));
        self.err(what, message)
    }

    fn err(&self, what: impl Into<String>, message: impl Into<String>) -> Error {
        DatasetError {
            location: self.location.clone(),
            what: what.into(),
            message: message.into(),
        }
        .into_error(&self.driver)
    }

    /// The URL of a table's Delta root (what other engines open).
    pub fn table_url(&self, table: &str) -> Result<url::Url> {
        let dir = layout::table_dir(&self.prefix, table);
        delta::url_of(&self.root_url, &dir)
            .map_err(|e| self.err("naming a table", format!("{dir}: {e}")))
    }

    /// Aborts the multi-table puts whose writers left them unfinished for
    /// at least `min_age` (every put does this with [`ABANDON_AFTER`]):
    /// their files are removed from the tables they reached. Returns how
    /// many puts were settled.
    pub fn settle_abandoned_puts(&self, min_age: Duration) -> Result<usize> {
        self.writable("settling abandoned puts")?;
        self.block_on(self.settle_abandoned(min_age))
    }

    async fn check_format(&self) -> Result<()> {
        let path = layout::format_path(&self.prefix);
        let bytes = match self.store.get(&path).await {
            Ok(r) => r
                .bytes()
                .await
                .map_err(|e| self.store_err("reading the format record", &e))?,
            Err(object_store::Error::NotFound { .. }) => {
                // A new dataset, or no bucket at all: listing tells.
                return match self.store.list_with_delimiter(Some(&self.prefix)).await {
                    // Nothing to read: a typo'd store is named, not created.
                    Ok(l)
                        if self.access == Access::ReadOnly
                            && l.objects.is_empty()
                            && l.common_prefixes.is_empty() =>
                    {
                        Err(Error::not_found("store", self.location.clone()))
                    }
                    Ok(_) => Ok(()),
                    Err(e) => Err(self.store_err("opening the dataset", &e)),
                };
            }
            Err(e) => return Err(self.store_err("opening the dataset", &e)),
        };
        let rec: FormatRecord = serde_json::from_slice(&bytes).map_err(|e| {
            Error::IncompatibleStore(format!(
                "{}: _dsi/dataset.json is not a dsi format record: {e}",
                self.location
            ))
        })?;
        if rec.format == LEGACY_FORMAT_NAME {
            return Err(Error::IncompatibleStore(format!(
                "{}: a dataset of dsi's first layout (one Parquet file per put), which this dsi \
                 reads only as Delta tables: run `dsi migrate` to convert it (its data files are kept)",
                self.location
            )));
        }
        if rec.format != FORMAT_NAME {
            return Err(Error::IncompatibleStore(format!(
                "{}: format '{}' is not '{FORMAT_NAME}'",
                self.location, rec.format
            )));
        }
        if rec.version > FORMAT_VERSION {
            return Err(Error::IncompatibleStore(format!(
                "{}: dataset version {} was written by a newer dsi (this one reads up to {FORMAT_VERSION})",
                self.location, rec.version
            )));
        }
        self.format_known.store(true, Ordering::Relaxed);
        Ok(())
    }

    async fn ensure_format(&self) -> Result<()> {
        if self.format_known.load(Ordering::Relaxed) {
            return Ok(());
        }
        let rec = FormatRecord {
            format: FORMAT_NAME.to_owned(),
            version: FORMAT_VERSION,
        };
        let body =
            serde_json::to_vec_pretty(&rec).map_err(|e| Error::InvalidData(e.to_string()))?;
        self.create(
            &layout::format_path(&self.prefix),
            body.into(),
            "writing the format record",
        )
        .await?;
        self.format_known.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// Creates an object if absent (an existing one is left alone).
    async fn create(&self, path: &Path, bytes: bytes::Bytes, what: &str) -> Result<()> {
        let opts = PutOptions::from(PutMode::Create);
        match self
            .store
            .put_opts(path, PutPayload::from(bytes), opts)
            .await
        {
            Ok(_) | Err(object_store::Error::AlreadyExists { .. }) => Ok(()),
            Err(e) => Err(self.store_err(what, &e)),
        }
    }

    async fn put_async(&self, collection: &Collection) -> Result<()> {
        if collection.is_empty() {
            return Ok(());
        }
        for t in collection.tables() {
            layout::check_table_name(t.name())?;
        }
        self.settle_abandoned(ABANDON_AFTER).await?;

        // Check every table before writing anything.
        let mut plan: Vec<(&Table, schema::Columns)> = Vec::new();
        for t in collection.tables() {
            let columns: schema::Columns = t
                .schema()
                .into_iter()
                .map(|(n, ty)| (n.to_owned(), ty))
                .collect();
            if let (Some(head), _) = self.log_head(t.name(), None).await? {
                schema::evolve(t.name(), &head.columns, &columns)?;
            }
            plan.push((t, columns));
        }
        self.ensure_format().await?;
        let id = layout::new_id();
        let multi = plan.len() > 1;
        let last = plan
            .last()
            .map(|(t, _)| t.name().to_owned())
            .unwrap_or_default();
        let mut staged = Vec::with_capacity(plan.len());
        for (t, columns) in &plan {
            let (bytes, stats) = write::encode_put(t)?;
            let name = layout::data_file_name(&id, multi);
            let path = layout::join(&layout::table_dir(&self.prefix, t.name()), &[&name]);
            let size = bytes.len();
            self.store
                .put_opts(&path, bytes.into(), PutOptions::from(PutMode::Create))
                .await
                .map_err(|e| self.store_err("writing a data file", &e))?;
            let tags = multi.then(|| {
                HashMap::from([
                    (TAG_PUT.to_owned(), Some(id.clone())),
                    (TAG_LAST.to_owned(), Some(last.clone())),
                ])
            });
            staged.push((
                t.name(),
                columns,
                write::add_action(name, size, stats, tags),
            ));
        }
        let record = PutRecord {
            id: id.clone(),
            tables: plan.iter().map(|(t, _)| t.name().to_owned()).collect(),
        };
        if multi {
            self.write_put_record(&record).await?;
        }
        for (table, columns, add) in &staged {
            let completing = multi && *table == last;
            let failure = match self
                .commit_put(table, &id, columns, std::slice::from_ref(add), completing)
                .await
            {
                Ok(Outcome::Committed) => continue,
                Ok(Outcome::Fenced) => self.err(
                    format!("committing to table '{table}'"),
                    "the put was aborted by another writer (it had been unfinished too long)",
                ),
                Err(e) => e,
            };
            if multi {
                if self.abort_put(&record).await.unwrap_or(false) {
                    // A reply was lost but the put completed.
                    break;
                }
            } else if self.committed_after_all(table, &id).await {
                return Ok(());
            }
            return Err(failure);
        }
        if multi {
            self.complete
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(id.clone());
            self.delete_put_record(&id).await;
        }
        if let Some(limit) = self.auto_compact {
            // Looked at when this put wrote a checkpoint: the view then
            // loads from it cheaply.
            for (table, _, _) in staged.iter().filter(|(t, _, _)| self.at_checkpoint(t)) {
                if let Err(e) = self.auto_compact_async(table, limit).await {
                    tracing::warn!(store = %self.location, table, error = %e, "automatic compaction failed");
                }
            }
        }
        Ok(())
    }

    /// Whether this writer's last commit to a table was at a checkpoint.
    fn at_checkpoint(&self, table: &str) -> bool {
        self.heads
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(table)
            .is_some_and(|h| h.version > 0 && h.version % h.checkpoint_interval == 0)
    }

    /// Whether a single-table put whose commit reported an error is in the
    /// table after all (its reply was lost): a commit this writer has not
    /// seen adds its file.
    async fn committed_after_all(&self, table: &str, id: &str) -> bool {
        matches!(
            self.log_head(table, Some(id)).await,
            Ok((_, Some(commit::COMMITTED)))
        )
    }

    async fn get_async(&self, query: &Query) -> Result<Table> {
        match query {
            Query::Table(q) => self.read_table(q).await,
            #[cfg(feature = "sql")]
            Query::Sql(text) => sql::run(self, text).await,
            #[cfg(not(feature = "sql"))]
            Query::Sql(_) => Err(Error::NotSupported {
                operation: "SQL",
                module: format!(
                    "{} as built (rebuild dsi-driver-parquet with the `sql` cargo feature)",
                    self.driver
                ),
            }),
        }
    }

    async fn read_table(&self, q: &TableQuery) -> Result<Table> {
        let Some(view) = self.view(&q.table).await? else {
            return Err(Error::not_found("table", q.table.clone()));
        };
        if q.order_by.is_some() && q.limit.is_some() {
            return self.read_top(q, &view).await;
        }
        let table = self
            .read_view(&q.table, &view, &q.filters, q.columns.as_deref())
            .await?;
        q.apply(table)
    }

    /// Rows of a view: from the log's statistics where every file has them.
    async fn rows_of(&self, view: &read::TableView) -> Result<u64> {
        let mut total = 0u64;
        for f in &view.files {
            total += match f.stats.records {
                Some(n) => n,
                None => u64::try_from(
                    self.file_meta(f)
                        .await?
                        .metadata()
                        .file_metadata()
                        .num_rows(),
                )
                .unwrap_or(0),
            };
        }
        Ok(total)
    }

    async fn count_async(&self, q: &TableQuery) -> Result<u64> {
        let Some(view) = self.view(&q.table).await? else {
            return Err(Error::not_found("table", q.table.clone()));
        };
        if q.filters.is_empty() {
            return self.rows_of(&view).await;
        }
        let columns: Vec<String> = q.filters.iter().map(|f| f.column.clone()).collect();
        let t = self
            .read_view(&q.table, &view, &q.filters, Some(&columns))
            .await?;
        Ok(q.unlimited().apply(t)?.num_rows() as u64)
    }

    /// The names of the tables in the dataset (directories with a Delta
    /// log), sorted.
    async fn table_names(&self) -> Result<Vec<String>> {
        let listed = self
            .store
            .list_with_delimiter(Some(&self.prefix))
            .await
            .map_err(|e| self.store_err("listing tables", &e))?;
        let mut names: Vec<String> = listed
            .common_prefixes
            .iter()
            .filter_map(|p| p.parts().next_back())
            .filter_map(|part| layout::part_text(&part))
            .filter(|dir| dir != layout::BLOBS && dir != layout::META)
            .filter(|dir| !dir.starts_with('.') && !dir.starts_with('_'))
            .filter_map(|dir| layout::decode_table(&dir))
            .collect();
        names.sort();
        Ok(names)
    }

    async fn inspect_async(&self) -> Result<Inspection> {
        let mut tables = Vec::new();
        for name in self.table_names().await? {
            let Some(view) = self.view(&name).await? else {
                continue;
            };
            tables.push(dsi_core::TableInfo {
                rows: self.rows_of(&view).await?,
                files: Some(view.files.len() as u64),
                columns: view
                    .columns
                    .iter()
                    .map(|(name, data_type)| dsi_core::ColumnInfo {
                        name: name.clone(),
                        data_type: *data_type,
                    })
                    .collect(),
                name,
            });
        }
        let blobs = self.list_blobs_async().await?;
        Ok(Inspection {
            driver: self.driver.clone(),
            location: self.structured.clone(),
            tables,
            blobs: blobs.len() as u64,
            blob_bytes: blobs.iter().map(BlobRef::len).sum(),
        })
    }

    /// Every object under a directory.
    async fn list(&self, dir: &Path, what: &str) -> Result<Vec<object_store::ObjectMeta>> {
        self.store
            .list(Some(dir))
            .try_collect()
            .await
            .map_err(|e| self.store_err(what, &e))
    }

    async fn list_blobs_async(&self) -> Result<Vec<BlobRef>> {
        let dir = layout::blobs_dir(&self.prefix);
        let mut out: Vec<BlobRef> = self
            .list(&dir, "listing blobs")
            .await?
            .into_iter()
            .filter_map(|meta| {
                let mut rel: Vec<String> = meta
                    .location
                    .prefix_match(&dir)?
                    .filter_map(|p| layout::part_text(&p))
                    .collect();
                let file = rel.pop()?;
                let sub = rel.pop()?;
                if !rel.is_empty() {
                    return None;
                }
                layout::blob_digest(&sub, &file).map(|d| BlobRef::new(d, meta.size))
            })
            .collect();
        out.sort();
        Ok(out)
    }
}

impl Driver for Dataset {
    fn name(&self) -> &str {
        &self.driver
    }

    fn compact(&self) -> Result<dsi_core::Compaction> {
        Dataset::compact(self, &CompactOptions::default()).map(Into::into)
    }

    fn function(&self) -> DriverFunction {
        DriverFunction::BackEnd
    }

    fn put(&self, collection: &Collection) -> Result<()> {
        self.writable("put")?;
        let _span = tracing::info_span!("writing rows", store = %self.location).entered();
        self.block_on(self.put_async(collection))
    }

    fn get(&self, query: &Query) -> Result<Collection> {
        self.block_on(self.get_async(query)).map(Collection::of)
    }

    fn count(&self, query: &TableQuery) -> Result<u64> {
        self.block_on(self.count_async(query))
    }

    fn inspect(&self) -> Result<Inspection> {
        self.block_on(self.inspect_async())
    }

    fn location(&self) -> Location {
        self.structured.clone()
    }

    fn put_blob(&self, blob: &BlobRef, content: &mut dyn Read) -> Result<BlobPut> {
        self.writable("put_blob")?;
        let _span = tracing::info_span!("uploading blob", blob = %blob).entered();
        dsi_core::progress::total(blob.len());
        self.block_on(blobs::put(self, blob, content))
    }

    fn get_blob(&self, blob: &BlobRef) -> Result<BlobReader<'_>> {
        blobs::open(self, blob)
    }

    fn has_blob(&self, blob: &BlobRef) -> Result<bool> {
        self.block_on(blobs::exists(self, blob))
    }

    fn list_blobs(&self) -> Result<Vec<BlobRef>> {
        self.block_on(self.list_blobs_async())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_refused_as_store() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("x");
        std::fs::write(&f, "x").unwrap();
        let e = Dataset::open_local(&f).unwrap_err();
        assert!(e.to_string().contains("is a file"), "{e}");
    }

    #[test]
    fn a_newer_format_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("_dsi")).unwrap();
        std::fs::write(
            dir.path().join("_dsi/dataset.json"),
            r#"{"format":"dsi-delta-dataset","version":99}"#,
        )
        .unwrap();
        let e = Dataset::open_local(dir.path()).unwrap_err();
        assert!(matches!(e, Error::IncompatibleStore(_)), "{e}");
        assert!(e.to_string().contains("newer dsi"), "{e}");
    }

    #[test]
    fn the_first_layout_is_refused_with_a_hint() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("_dsi")).unwrap();
        std::fs::write(
            dir.path().join("_dsi/dataset.json"),
            r#"{"format":"dsi-parquet-dataset","version":1}"#,
        )
        .unwrap();
        for access in [Access::ReadOnly, Access::ReadWrite] {
            let e = Dataset::open_local_with(dir.path(), access).unwrap_err();
            assert!(matches!(e, Error::IncompatibleStore(_)), "{e}");
            assert!(e.to_string().contains("run `dsi migrate`"), "{e}");
        }
    }

    #[test]
    fn options_build_the_driver() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("data");
        let d = Dataset::from_options(
            &Options::new().with("store", store.to_str().unwrap()),
            Access::ReadWrite,
        )
        .unwrap();
        assert_eq!(d.name(), "parquet");
        assert!(store.is_dir());
        assert!(!format!("{d:?}").is_empty());
    }
}

/// The examples of this crate's README, run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
