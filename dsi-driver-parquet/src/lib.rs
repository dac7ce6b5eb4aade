//! # dsi-driver-parquet
//!
//! The `parquet` back-end: an append-only dataset directory (`./dsi-data/`
//! by default) that pyarrow, DuckDB, Spark and DataFusion read as it is,
//! implemented over an [`object_store::ObjectStore`] so that the `s3` driver
//! (crate `dsi-driver-s3`) reuses it unchanged on object storage.
//!
//! ## Layout
//!
//! ```text
//! dsi-data/
//!   runs/date=2026-11-29/01JDX3…Q.parquet    one new file per put (and record date)
//!   blobs/sha256/ab/cdef…                    content-addressed blob content
//!   _dsi/dataset.json                        format and version
//!   _dsi/schemas/runs/<sha256>.json          every column set a put has used
//!   _dsi/puts/<ULID>.json                    commit record of a put in progress
//! ```
//!
//! * One directory per table; characters other than letters, digits, `-`,
//!   `_` and `.` in a table name are written `%XX`. The name `blobs` is
//!   reserved.
//! * Hive-style partitions by record date: a row goes to the day (UTC) of its
//!   `recorded_at` timestamp, or of the put when it has none. Rows of one put
//!   that fall on several days are read back grouped by day.
//! * Data files are named by a ULID, so file order is put order; they are
//!   standard Parquet (zstd, chunk and page statistics, the Arrow schema
//!   embedded), never rewritten, never deleted by dsi.
//! * Column types come from dsi-core's lossless Arrow conversion
//!   ([`dsi_core::arrow`]). A later put may add columns: reads union the
//!   schemas and fill the older rows with nulls. A put that changes the type
//!   of an existing column is refused, naming it (checked against the schema
//!   records under `_dsi/schemas/`; two writers racing to add the same new
//!   column with different types are detected when read).
//! * Filters of a [`TableQuery`] skip files and row groups whose statistics
//!   rule them out; the result is always exactly [`TableQuery::apply`]'s.
//!
//! ## Atomicity
//!
//! A put writes new files only, and each file becomes visible whole: on a
//! local disk it is written under a hidden temporary name
//! (`.<ULID>.parquet.tmp`) and renamed; on object storage a single upload is
//! atomic. A put that needs several files (several tables, or rows on
//! several days) first writes all of them under temporary names, then
//! commits by creating one small record `_dsi/puts/<ULID>.json` naming them,
//! then renames them. A later put deletes records older than two minutes
//! (finishing any rename left undone first). The guarantee:
//!
//! * **dsi readers see all of a put or none of it**, after any failure or
//!   crash and while puts are in progress: without the commit record nothing
//!   is visible; with it, every file is read, under its final name or, if it
//!   was not renamed yet, its temporary one. (A reader lists the data first
//!   and the commit records after, and records outlive their renames, so a
//!   put committed during a read is seen whole or not at all.)
//! * **Other engines** (and `Query::Sql`) read final names only. They never
//!   see a partial file; they can see part of a multi-file put only while its
//!   renames run, or, if its writer died between commit and renames, until
//!   the next dsi put into the dataset finishes them ([`Dataset::roll_forward`]).
//! * Every reader ignores temporary files, so an abandoned put leaves only
//!   hidden debris. Schema records (`_dsi/schemas/`) are written before the
//!   data and may outlive a failed put.
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
//! object_store is asynchronous; the [`Driver`] trait is not. Each
//! [`Dataset`] owns a private current-thread tokio runtime and blocks on it
//! inside every method, so callers need no runtime (and must not call a
//! dataset from inside one).
//!
//! ## Features
//!
//! * `sql` — `Query::Sql` with DataFusion over the same files (every table
//!   is a listing table with the Hive partition column `date`). Without it,
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
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod blobs;
mod error;
mod layout;
mod prune;
mod read;
#[cfg(feature = "sql")]
mod sql;
mod top;
mod write;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::Read;
use std::path::Path as FsPath;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use dsi_core::blob::BlobReader;
use dsi_core::{
    Access, BlobPut, BlobRef, Collection, DataType, Driver, DriverEntry, DriverFunction, Error,
    Inspection, Location, OptionSpec, Options, Query, Result, Table, TableQuery, Timestamp,
};
use futures_util::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use serde::{Deserialize, Serialize};

pub use object_store;

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
        summary: "Parquet dataset directory (default ./dsi-data): Hive-partitioned, readable by pyarrow, DuckDB, Spark, DataFusion",
        options: OPTIONS,
        build: Dataset::from_options,
    }
}

/// Version of the layout written to `_dsi/dataset.json`.
pub const FORMAT_VERSION: u32 = 1;
const FORMAT_NAME: &str = "dsi-parquet-dataset";
/// Commit records younger than this are left alone by other writers; older
/// ones have their renames finished and are deleted.
const ROLL_FORWARD_AFTER: Duration = Duration::from_secs(120);
/// Objects fetched at once when reading many files.
const FETCH_CONCURRENCY: usize = 8;
/// Default size of a multipart-upload part and of a blob read range.
pub const DEFAULT_PART_SIZE: usize = 8 << 20;

/// Describes an object-store failure in the words of a particular back-end
/// (e.g. "the server rejected the credentials"), or `None` to use the
/// store's own message.
pub type DescribeError = fn(&object_store::Error) -> Option<String>;

/// How a finished data file is made visible.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Publish {
    /// Upload under a hidden temporary name, then rename (atomic on a local
    /// file system).
    Rename,
    /// Upload straight to the final name (atomic on object storage, where a
    /// rename is a copy).
    Upload,
}

/// Builds a [`Dataset`] over any object store.
#[derive(Debug)]
pub struct DatasetBuilder {
    store: Arc<dyn ObjectStore>,
    prefix: Path,
    driver: String,
    location: String,
    publish: Publish,
    describe: Option<DescribeError>,
    part_size: usize,
    structured: Option<Location>,
    access: Access,
}

impl DatasetBuilder {
    /// A dataset under `prefix` in `store`, published by upload (object
    /// storage), reported as driver `parquet` at the prefix.
    pub fn new(store: Arc<dyn ObjectStore>, prefix: Path) -> Self {
        DatasetBuilder {
            location: prefix.to_string(),
            store,
            prefix,
            driver: "parquet".to_owned(),
            publish: Publish::Upload,
            describe: None,
            part_size: DEFAULT_PART_SIZE,
            structured: None,
            access: Access::ReadWrite,
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

    /// How data files are made visible.
    pub fn with_publish(mut self, publish: Publish) -> Self {
        self.publish = publish;
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

    /// Starts the private runtime and checks the dataset's format record
    /// (this is the first request to the store, so bad credentials or a
    /// missing bucket are reported here).
    pub fn open(self) -> Result<Dataset> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::io("starting the object-store runtime", e))?;
        let structured = self.structured.unwrap_or_else(|| Location::Other {
            description: self.location.clone(),
        });
        let ds = Dataset {
            store: self.store,
            prefix: self.prefix,
            driver: self.driver,
            structured,
            access: self.access,
            location: self.location,
            publish: self.publish,
            describe: self.describe,
            part_size: self.part_size,
            runtime,
            format_known: AtomicBool::new(false),
            footers: Mutex::new(HashMap::new()),
            schemas: Mutex::new(HashMap::new()),
            markers: Mutex::new(HashMap::new()),
        };
        ds.block_on(ds.check_format())?;
        Ok(ds)
    }
}

/// A Parquet dataset in an object store: the `parquet` driver, and the
/// engine of the `s3` driver.
pub struct Dataset {
    store: Arc<dyn ObjectStore>,
    prefix: Path,
    driver: String,
    location: String,
    structured: Location,
    access: Access,
    publish: Publish,
    describe: Option<DescribeError>,
    part_size: usize,
    runtime: tokio::runtime::Runtime,
    /// Whether `_dsi/dataset.json` is known to exist.
    format_known: AtomicBool,
    /// Footers of data files (immutable, so never stale).
    footers: Mutex<HashMap<Path, Arc<read::FileMeta>>>,
    /// Schema records (immutable).
    schemas: Mutex<HashMap<Path, Arc<SchemaRecord>>>,
    /// Commit records (immutable while they exist).
    markers: Mutex<HashMap<Path, Arc<Marker>>>,
}

impl fmt::Debug for Dataset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The store's own Debug may show credentials: never print it.
        f.debug_struct("Dataset")
            .field("driver", &self.driver)
            .field("location", &self.location)
            .field("publish", &self.publish)
            .finish_non_exhaustive()
    }
}

/// The format record `_dsi/dataset.json`.
#[derive(Debug, Serialize, Deserialize)]
struct FormatRecord {
    format: String,
    version: u32,
}

/// A schema record: the columns one put used for a table.
#[derive(Debug, Serialize, Deserialize)]
struct SchemaRecord {
    table: String,
    columns: Vec<(String, DataType)>,
}

/// A commit record: the files of one put, relative to the dataset root.
#[derive(Debug, Serialize, Deserialize)]
struct Marker {
    version: u32,
    files: Vec<MarkerFile>,
}

#[derive(Debug, Serialize, Deserialize)]
struct MarkerFile {
    temporary: String,
    published: String,
}

/// One data file ready to publish.
struct PendingFile {
    published: Path,
    temporary: Path,
    bytes: Bytes,
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
        let root = root.as_ref();
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
        let fs = object_store::local::LocalFileSystem::new_with_prefix(root).map_err(|e| {
            Error::config(
                "parquet",
                format!("store '{}': {}", root.display(), one_line(&e)),
            )
        })?;
        DatasetBuilder::new(Arc::new(fs), Path::default())
            .with_location(root.display().to_string())
            .with_structured_location(Location::Directory {
                path: root.to_path_buf(),
            })
            .with_publish(Publish::Rename)
            .with_access(access)
            .open()
    }

    /// Builds the `parquet` driver from registry options (`store`).
    pub fn from_options(options: &Options, access: Access) -> Result<Box<dyn Driver>> {
        let store = options.get("store").unwrap_or(DEFAULT_STORE);
        Ok(Box::new(Self::open_local_with(store, access)?))
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

    /// Finishes the commit records older than `min_age`: renames what their
    /// writers left undone (so that other engines see those puts too; dsi
    /// reads committed puts either way) and deletes the records. Every put
    /// does this for records older than two minutes. Returns how many
    /// records were finished.
    pub fn roll_forward(&self, min_age: Duration) -> Result<usize> {
        self.block_on(self.roll_forward_async(min_age))
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

    /// A path relative to the dataset root, as stored in records.
    fn relative(&self, p: &Path) -> String {
        p.prefix_match(&self.prefix)
            .map(|parts| {
                parts
                    .map(|p| p.as_ref().to_owned())
                    .collect::<Vec<_>>()
                    .join("/")
            })
            .unwrap_or_else(|| p.to_string())
    }

    fn absolute(&self, relative: &str) -> Result<Path> {
        let rel =
            Path::parse(relative).map_err(|e| self.err("reading a commit record", one_line(&e)))?;
        Ok(self.prefix.parts().chain(rel.parts()).collect())
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
    async fn create(&self, path: &Path, bytes: Bytes, what: &str) -> Result<()> {
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

    /// Every object under a directory.
    async fn list(&self, dir: &Path, what: &str) -> Result<Vec<object_store::ObjectMeta>> {
        self.store
            .list(Some(dir))
            .try_collect()
            .await
            .map_err(|e| self.store_err(what, &e))
    }

    /// The schema records of a table.
    async fn known_schemas(&self, table: &str) -> Result<Vec<Arc<SchemaRecord>>> {
        let dir = layout::schemas_dir(&self.prefix, table);
        let listed = self.list(&dir, "listing schema records").await?;
        let mut out = Vec::with_capacity(listed.len());
        for meta in listed {
            if !meta.location.as_ref().ends_with(".json") {
                continue;
            }
            let cached = self
                .schemas
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .get(&meta.location)
                .cloned();
            let rec = match cached {
                Some(r) => r,
                None => {
                    let what = "reading a schema record";
                    let bytes = match self.store.get(&meta.location).await {
                        Ok(r) => r.bytes().await.map_err(|e| self.store_err(what, &e))?,
                        Err(object_store::Error::NotFound { .. }) => continue,
                        Err(e) => return Err(self.store_err(what, &e)),
                    };
                    let rec: SchemaRecord = serde_json::from_slice(&bytes)
                        .map_err(|e| self.err(what, format!("{}: {e}", meta.location)))?;
                    let rec = Arc::new(rec);
                    self.schemas
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .insert(meta.location.clone(), Arc::clone(&rec));
                    rec
                }
            };
            out.push(rec);
        }
        Ok(out)
    }

    async fn put_async(&self, collection: &Collection) -> Result<()> {
        if collection.is_empty() {
            return Ok(());
        }
        for t in collection.tables() {
            layout::check_table_name(t.name())?;
        }
        self.roll_forward_async(ROLL_FORWARD_AFTER).await?;

        // Check every table before writing anything.
        let mut new_schemas = Vec::new();
        for t in collection.tables() {
            let known = self.known_schemas(t.name()).await?;
            let record = SchemaRecord {
                table: t.name().to_owned(),
                columns: t
                    .schema()
                    .into_iter()
                    .map(|(n, ty)| (n.to_owned(), ty))
                    .collect(),
            };
            check_compatible(&record, &known)?;
            if !known.iter().any(|k| k.columns == record.columns) {
                new_schemas.push(record);
            }
        }
        let now = Timestamp::now();
        let id = layout::new_id();
        let mut files = Vec::new();
        for t in collection.tables() {
            for (date, part) in write::split_by_date(t, now) {
                let bytes = write::encode(&part)?;
                let (published, temporary) = layout::data_paths(&self.prefix, t.name(), &date, &id);
                files.push(PendingFile {
                    published,
                    temporary,
                    bytes,
                });
            }
        }

        self.ensure_format().await?;
        for rec in new_schemas {
            let body =
                serde_json::to_vec_pretty(&rec).map_err(|e| Error::InvalidData(e.to_string()))?;
            let name = format!("{}.json", BlobRef::of_bytes(&body).sha256_hex());
            let path = layout::schemas_dir(&self.prefix, &rec.table).join(name.as_str());
            self.create(&path, body.into(), "writing a schema record")
                .await?;
        }

        match <[PendingFile; 1]>::try_from(files) {
            Ok([one]) => self.publish_one(one).await,
            Err(files) => self.publish_many(&id, files).await,
        }
    }

    async fn publish_one(&self, f: PendingFile) -> Result<()> {
        let what = "writing a data file";
        match self.publish {
            Publish::Upload => {
                let opts = PutOptions::from(PutMode::Create);
                self.store
                    .put_opts(&f.published, f.bytes.into(), opts)
                    .await
                    .map_err(|e| self.store_err(what, &e))?;
            }
            Publish::Rename => {
                self.store
                    .put(&f.temporary, f.bytes.into())
                    .await
                    .map_err(|e| self.store_err(what, &e))?;
                if let Err(e) = self.store.rename(&f.temporary, &f.published).await {
                    let _ = self.store.delete(&f.temporary).await;
                    return Err(self.store_err("publishing a data file", &e));
                }
            }
        }
        Ok(())
    }

    async fn publish_many(&self, id: &str, files: Vec<PendingFile>) -> Result<()> {
        // 1. Every file under its temporary name.
        let mut written: Vec<&Path> = Vec::with_capacity(files.len());
        for f in &files {
            if let Err(e) = self.store.put(&f.temporary, f.bytes.clone().into()).await {
                for p in written {
                    let _ = self.store.delete(p).await;
                }
                return Err(self.store_err("writing a data file", &e));
            }
            written.push(&f.temporary);
        }
        // 2. The commit record: from here on the put is visible to dsi.
        let marker = Marker {
            version: 1,
            files: files
                .iter()
                .map(|f| MarkerFile {
                    temporary: self.relative(&f.temporary),
                    published: self.relative(&f.published),
                })
                .collect(),
        };
        let body =
            serde_json::to_vec_pretty(&marker).map_err(|e| Error::InvalidData(e.to_string()))?;
        let marker_path = layout::puts_dir(&self.prefix).join(format!("{id}.json").as_str());
        let opts = PutOptions::from(PutMode::Create);
        if let Err(e) = self.store.put_opts(&marker_path, body.into(), opts).await {
            // The record may have been written even though the reply was
            // lost: keep the files unless the record is known to be absent.
            if let Err(object_store::Error::NotFound { .. }) = self.store.head(&marker_path).await {
                for p in written {
                    let _ = self.store.delete(p).await;
                }
            }
            return Err(self.store_err("committing a put", &e));
        }
        // 3. Publish under the final names (best effort: committed already).
        // The record stays until a later put retires it (see
        // ROLL_FORWARD_AFTER), so that a reader that listed the data files
        // during the renames still learns that the put is committed.
        for f in &files {
            if self.store.rename(&f.temporary, &f.published).await.is_err() {
                break;
            }
        }
        Ok(())
    }

    /// Loads a commit record (cached).
    async fn marker(&self, path: &Path) -> Result<Option<Arc<Marker>>> {
        if let Some(m) = self
            .markers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(path)
        {
            return Ok(Some(Arc::clone(m)));
        }
        let what = "reading a commit record";
        let bytes = match self.store.get(path).await {
            Ok(r) => r.bytes().await.map_err(|e| self.store_err(what, &e))?,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(self.store_err(what, &e)),
        };
        let m: Marker =
            serde_json::from_slice(&bytes).map_err(|e| self.err(what, format!("{path}: {e}")))?;
        let m = Arc::new(m);
        self.markers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(path.clone(), Arc::clone(&m));
        Ok(Some(m))
    }

    /// Every commit record in the dataset, with its files as absolute paths.
    async fn pending_puts(&self) -> Result<Vec<(Path, Vec<(Path, Path)>)>> {
        let listed = self
            .list(&layout::puts_dir(&self.prefix), "listing commit records")
            .await?;
        let mut out = Vec::new();
        for meta in listed {
            if !meta.location.as_ref().ends_with(".json") {
                continue;
            }
            let Some(m) = self.marker(&meta.location).await? else {
                continue;
            };
            let mut files = Vec::with_capacity(m.files.len());
            for f in &m.files {
                files.push((self.absolute(&f.temporary)?, self.absolute(&f.published)?));
            }
            out.push((meta.location, files));
        }
        Ok(out)
    }

    async fn roll_forward_async(&self, min_age: Duration) -> Result<usize> {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0);
        let min_age_ms = u64::try_from(min_age.as_millis()).unwrap_or(u64::MAX);
        let mut finished = 0;
        for (marker, files) in self.pending_puts().await? {
            let id = marker.filename().and_then(|f| f.strip_suffix(".json"));
            let old = id
                .and_then(layout::id_millis)
                .is_none_or(|ms| now_ms.saturating_sub(ms) >= min_age_ms);
            if !old {
                continue;
            }
            let mut complete = true;
            for (temporary, published) in files {
                if self.store.head(&published).await.is_ok() {
                    let _ = self.store.delete(&temporary).await;
                    continue;
                }
                if self.store.rename(&temporary, &published).await.is_err()
                    && self.store.head(&published).await.is_err()
                {
                    complete = false;
                }
            }
            if complete && self.store.delete(&marker).await.is_ok() {
                finished += 1;
            }
        }
        Ok(finished)
    }

    /// The names of the tables in the dataset, sorted.
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
        let files = self.table_files(&q.table).await?;
        if files.is_empty() {
            return Err(Error::not_found("table", q.table.clone()));
        }
        if q.order_by.is_some() && q.limit.is_some() {
            return self.read_top(q, &files).await;
        }
        let table = self.read_files(&q.table, &files, &q.filters).await?;
        q.apply(table)
    }

    async fn inspect_async(&self) -> Result<Inspection> {
        let mut tables = Vec::new();
        for name in self.table_names().await? {
            let files = self.table_files(&name).await?;
            if files.is_empty() {
                continue;
            }
            let metas = self.footers(&files).await?;
            let columns = read::union_columns(&name, metas.iter().map(|m| m.schema.as_ref()))?;
            tables.push(dsi_core::TableInfo {
                name,
                columns: columns
                    .into_iter()
                    .map(|(name, data_type)| dsi_core::ColumnInfo { name, data_type })
                    .collect(),
                rows: metas.iter().map(|m| m.rows).sum(),
                files: Some(files.len() as u64),
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

/// Refuses a put whose columns change the type of a column some earlier put
/// used.
fn check_compatible(new: &SchemaRecord, known: &[Arc<SchemaRecord>]) -> Result<()> {
    let mut types: BTreeMap<&str, DataType> = BTreeMap::new();
    for rec in known {
        for (name, ty) in &rec.columns {
            types.entry(name.as_str()).or_insert(*ty);
        }
    }
    for (name, ty) in &new.columns {
        if let Some(existing) = types.get(name.as_str())
            && existing != ty
        {
            return Err(Error::InvalidData(format!(
                "column '{name}' of table '{}' is {existing} in the dataset but {ty} in the rows put",
                new.table
            )));
        }
    }
    Ok(())
}

impl Driver for Dataset {
    fn name(&self) -> &str {
        &self.driver
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

    fn inspect(&self) -> Result<Inspection> {
        self.block_on(self.inspect_async())
    }

    fn location(&self) -> Location {
        self.structured.clone()
    }

    fn put_blob(&self, blob: &BlobRef, content: &mut dyn Read) -> Result<BlobPut> {
        self.writable("put_blob")?;
        let _span =
            tracing::info_span!("uploading blob", blob = %blob, bytes = blob.len()).entered();
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
            r#"{"format":"dsi-parquet-dataset","version":99}"#,
        )
        .unwrap();
        let e = Dataset::open_local(dir.path()).unwrap_err();
        assert!(matches!(e, Error::IncompatibleStore(_)), "{e}");
        assert!(e.to_string().contains("newer dsi"), "{e}");
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
