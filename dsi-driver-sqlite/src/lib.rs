//! # dsi-driver-sqlite
//!
//! The `sqlite` back-end, dsi's embedded default (`./dsi.db`).
//!
//! * One SQLite table per middleware table, with typed columns: integers stay
//!   `INTEGER`, floats `REAL`; booleans (`BOOLEAN`), timestamps (`TIMESTAMP`,
//!   RFC 3339 text in UTC with six fractional digits, so text order is time
//!   order) and blob references (`DSI_BLOBREF`, JSON text
//!   `{"sha256": …, "len": …}`) keep their dsi type in the declared column
//!   type, which is how reads and SQL queries restore it.
//!   Floats are IEEE doubles; SQLite stores integral values compactly, which
//!   turns `-0.0` into `0.0`, and it cannot store NaN, which is refused.
//! * Every identifier is quoted and every value bound: no SQL is built from
//!   values, so hostile table names, column names and values are just data.
//! * One `BEGIN IMMEDIATE` transaction per put: a failed put leaves nothing
//!   behind. WAL journal and a busy timeout let many processes record at once.
//! * Blob content lives in a content-addressed table, split into 1 MiB chunks
//!   so that it is written and read as a stream with bounded memory; each
//!   digest is stored once and verified on every read.
//! * Internal tables start with `_dsi_`; `_dsi_meta` holds the schema version.
//!
//! ```
//! use dsi_core::{Collection, Column, DataType, Driver, Query, Table, TableQuery, Value};
//! let dir = tempfile::tempdir()?;
//! let db = dsi_driver_sqlite::SqliteDriver::open(dir.path().join("dsi.db"))?;
//! let t = Table::from_columns("runs", vec![Column::new("exit_code", DataType::Int, vec![Value::Int(3)])?])?;
//! db.put(&Collection::of(t))?;
//! let sql = db.get(&Query::Sql("SELECT exit_code + 1 AS next FROM runs".into()))?;
//! assert_eq!(sql.tables()[0].get(0, "next"), Some(&Value::Int(4)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod blobs;
mod schema;
mod sql;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use dsi_core::{
    BlobPut, BlobRef, Collection, Driver, DriverEntry, DriverFunction, Error, Inspection,
    OptionSpec, Options, Query, Result,
};
use rusqlite::{Connection, OpenFlags};

/// Default database file, relative to the working directory.
pub const DEFAULT_STORE: &str = "dsi.db";
/// Default time a writer waits for another process's lock.
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(60);

/// The options the `sqlite` driver accepts.
pub const OPTIONS: &[OptionSpec] = &[
    OptionSpec::optional("store", "database file (default ./dsi.db)"),
    OptionSpec::optional(
        "busy_timeout_ms",
        "how long to wait for another writer's lock, in milliseconds (default 60000)",
    ),
];

inventory::submit! {
    DriverEntry {
        name: "sqlite",
        function: DriverFunction::BackEnd,
        summary: "embedded SQLite database (default ./dsi.db): typed columns, SQL queries, many writers",
        options: OPTIONS,
        build: SqliteDriver::from_options,
    }
}

/// Failures inside this driver, converted into [`dsi_core::Error::Backend`].
#[derive(Debug, thiserror::Error)]
#[error("{path}: {what}: {source}")]
struct SqliteError {
    path: String,
    what: String,
    #[source]
    source: rusqlite::Error,
}

/// The SQLite back-end.
#[derive(Debug, Clone)]
pub struct SqliteDriver {
    path: PathBuf,
    conn: Arc<Mutex<Connection>>,
}

impl SqliteDriver {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with_timeout(path, DEFAULT_BUSY_TIMEOUT)
    }

    /// Opens with a specific busy timeout.
    pub fn open_with_timeout(path: impl AsRef<Path>, busy_timeout: Duration) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        if path.is_dir() {
            return Err(Error::config(
                "sqlite",
                format!(
                    "store '{}' is a directory, not a database file",
                    path.display()
                ),
            ));
        }
        let ctx = |what: &str, e| err(&path, what, e);
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn =
            Connection::open_with_flags(&path, flags).map_err(|e| ctx("opening database", e))?;
        conn.busy_timeout(busy_timeout)
            .map_err(|e| ctx("setting busy timeout", e))?;
        // SQLite counts ATTACH as read-only, yet it creates the file it
        // names: dsi never attaches, so no query may either.
        conn.set_limit(rusqlite::limits::Limit::SQLITE_LIMIT_ATTACHED, 0)
            .map_err(|e| ctx("limiting attached databases", e))?;
        schema::initialise(&conn).map_err(|e| match e {
            schema::InitError::Sqlite(e) => {
                if let rusqlite::Error::SqliteFailure(f, _) = &e
                    && f.code == rusqlite::ErrorCode::NotADatabase
                {
                    return Error::IncompatibleStore(format!(
                        "{} is not an SQLite database",
                        path.display()
                    ));
                }
                ctx("initialising dsi tables", e)
            }
            schema::InitError::Incompatible(msg) => {
                Error::IncompatibleStore(format!("{}: {msg}", path.display()))
            }
        })?;
        tracing::debug!(store = %path.display(), "opened SQLite store");
        Ok(SqliteDriver {
            path,
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Builds the driver from registry options (`store`, `busy_timeout_ms`).
    pub fn from_options(options: &Options) -> Result<Box<dyn Driver>> {
        let store = options.get("store").unwrap_or(DEFAULT_STORE);
        let timeout = options
            .parse::<u64>("sqlite", "busy_timeout_ms")?
            .map_or(DEFAULT_BUSY_TIMEOUT, Duration::from_millis);
        Ok(Box::new(Self::open_with_timeout(store, timeout)?))
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while the lock was held has already rolled back any open
        // transaction (Transaction rolls back on drop), so the connection is usable.
        self.conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn err(&self, what: &str, e: rusqlite::Error) -> Error {
        err(&self.path, what, e)
    }
}

fn err(path: &Path, what: &str, source: rusqlite::Error) -> Error {
    Error::backend(
        "sqlite",
        SqliteError {
            path: path.display().to_string(),
            what: what.to_owned(),
            source,
        },
    )
}

impl Driver for SqliteDriver {
    fn name(&self) -> &str {
        "sqlite"
    }

    fn function(&self) -> DriverFunction {
        DriverFunction::BackEnd
    }

    fn put(&self, collection: &Collection) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| self.err("starting a write transaction", e))?;
        for table in collection.tables() {
            sql::put_table(&tx, table).map_err(|e| e.into_error(&self.path))?;
        }
        tx.commit().map_err(|e| self.err("committing", e))
    }

    fn get(&self, query: &Query) -> Result<Collection> {
        let conn = self.conn();
        let table = match query {
            Query::Table(q) => sql::get_table(&conn, q),
            Query::Sql(text) => sql::run_query(&conn, text),
        }
        .map_err(|e| e.into_error(&self.path))?;
        Ok(Collection::of(table))
    }

    fn inspect(&self) -> Result<Inspection> {
        let conn = self.conn();
        let mut inspection = sql::inspect(&conn).map_err(|e| e.into_error(&self.path))?;
        inspection.location = self.path.display().to_string();
        Ok(inspection)
    }

    fn put_blob(&self, blob: &BlobRef, content: &mut dyn std::io::Read) -> Result<BlobPut> {
        blobs::put(&mut self.conn(), &self.path, blob, content)
    }

    fn get_blob(&self, blob: &BlobRef) -> Result<dsi_core::blob::BlobReader<'_>> {
        blobs::open(Arc::clone(&self.conn), &self.path, blob)
    }

    fn has_blob(&self, blob: &BlobRef) -> Result<bool> {
        blobs::exists(&self.conn(), blob).map_err(|e| self.err("looking up a blob", e))
    }

    fn list_blobs(&self) -> Result<Vec<BlobRef>> {
        blobs::list(&self.conn()).map_err(|e| e.into_error(&self.path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let e = SqliteDriver::open(dir.path()).unwrap_err();
        assert!(e.to_string().contains("is a directory"), "{e}");
    }

    #[test]
    fn a_file_that_is_not_sqlite_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("notes.txt");
        let text = "these are my notes, not a database\n".repeat(200);
        std::fs::write(&p, &text).unwrap();
        let e = SqliteDriver::open(&p).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "incompatible store: {} is not an SQLite database",
                p.display()
            )
        );
        assert_eq!(std::fs::read_to_string(&p).unwrap(), text);
    }

    #[test]
    fn options_build_the_driver() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("x.db");
        let o = Options::new()
            .with("store", store.to_str().unwrap())
            .with("busy_timeout_ms", "10");
        let d = SqliteDriver::from_options(&o).unwrap();
        assert_eq!(d.name(), "sqlite");
        assert!(store.exists());
        let bad = Options::new().with("busy_timeout_ms", "soon");
        assert!(
            SqliteDriver::from_options(&bad)
                .unwrap_err()
                .to_string()
                .contains("'busy_timeout_ms'")
        );
    }
}

/// The examples of this crate's README, run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
