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
    Access, BlobPut, BlobRef, Collection, Driver, DriverEntry, DriverFunction, Error, Inspection,
    Location, OptionSpec, Options, Query, Result, TableQuery,
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
        migrate: None,
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
    access: Access,
    conn: Arc<Mutex<Connection>>,
    /// A private copy of a read-only WAL store whose `-shm` could not be
    /// opened (see [`open_read_only`]); removed when the driver is
    /// dropped, after the connection (fields drop in order).
    _snapshot: Option<Arc<tempfile::TempDir>>,
}

impl SqliteDriver {
    /// Opens the database at `path` for writing, creating it if needed.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path, Access::ReadWrite, DEFAULT_BUSY_TIMEOUT)
    }

    /// Opens an existing database for reading only (see [`Access::ReadOnly`]).
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path, Access::ReadOnly, DEFAULT_BUSY_TIMEOUT)
    }

    /// Opens for writing with a specific busy timeout.
    pub fn open_with_timeout(path: impl AsRef<Path>, busy_timeout: Duration) -> Result<Self> {
        Self::open_with(path, Access::ReadWrite, busy_timeout)
    }

    /// Opens with the given access and busy timeout.
    ///
    /// * The path must be a regular file, or (for writing) not exist yet: a
    ///   directory, a device (`/dev/null`), a fifo or a socket is refused
    ///   before SQLite creates anything next to it.
    /// * Read-only: the file must exist; it is opened `SQLITE_OPEN_READONLY`
    ///   with `query_only`, nothing is created, migrated or switched. A WAL
    ///   database in a read-only directory (whose `-shm` cannot be created)
    ///   is opened as immutable, or, when its `-wal` still holds
    ///   transactions, read from a private copy of both files (immutable
    ///   opens ignore the WAL).
    /// * Writing: WAL journal, the internal tables created or upgraded; a
    ///   database with tables that dsi did not write is refused.
    pub fn open_with(
        path: impl AsRef<Path>,
        access: Access,
        busy_timeout: Duration,
    ) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        match std::fs::metadata(&path) {
            Ok(m) if m.is_dir() => {
                return Err(Error::config(
                    "sqlite",
                    format!(
                        "store '{}' is a directory, not a database file",
                        path.display()
                    ),
                ));
            }
            Ok(m) if !m.is_file() => {
                return Err(Error::config(
                    "sqlite",
                    format!(
                        "store '{}' is not a regular file (a device, fifo or socket); give a database file",
                        path.display()
                    ),
                ));
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && access == Access::ReadOnly => {
                return Err(Error::not_found("store", path.display().to_string()));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(format!("opening store {}", path.display()), e)),
        }
        let (conn, snapshot) = match access {
            Access::ReadOnly => open_read_only(&path, busy_timeout)?,
            Access::ReadWrite => (open_read_write(&path, busy_timeout)?, None),
        };
        conn.busy_timeout(busy_timeout)
            .map_err(|e| err(&path, "setting busy timeout", e))?;
        tracing::debug!(store = %path.display(), ?access, "opened SQLite store");
        Ok(SqliteDriver {
            path,
            access,
            conn: Arc::new(Mutex::new(conn)),
            _snapshot: snapshot.map(Arc::new),
        })
    }

    /// Builds the driver from registry options (`store`, `busy_timeout_ms`).
    pub fn from_options(options: &Options, access: Access) -> Result<Box<dyn Driver>> {
        let store = options.get("store").unwrap_or(DEFAULT_STORE);
        let timeout = options
            .parse::<u64>("sqlite", "busy_timeout_ms")?
            .map_or(DEFAULT_BUSY_TIMEOUT, Duration::from_millis);
        Ok(Box::new(Self::open_with(store, access, timeout)?))
    }

    fn writable(&self, operation: &'static str) -> Result<()> {
        match self.access {
            Access::ReadWrite => Ok(()),
            Access::ReadOnly => Err(Error::Refused(format!(
                "{operation}: store {} is open read-only",
                self.path.display()
            ))),
        }
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

/// Flags shared by both modes: one connection per driver, guarded by a mutex.
const COMMON_FLAGS: OpenFlags = OpenFlags::SQLITE_OPEN_NO_MUTEX;

fn init_error(path: &Path, e: schema::InitError) -> Error {
    match e {
        schema::InitError::Sqlite(e) => {
            if let rusqlite::Error::SqliteFailure(f, _) = &e
                && f.code == rusqlite::ErrorCode::NotADatabase
            {
                return Error::IncompatibleStore(format!(
                    "{} is not an SQLite database",
                    path.display()
                ));
            }
            err(path, "initialising dsi tables", e)
        }
        schema::InitError::Incompatible(msg) => {
            Error::IncompatibleStore(format!("{}: {msg}", path.display()))
        }
    }
}

/// SQLite counts ATTACH as read-only, yet it creates the file it names: dsi
/// never attaches, so no query may either.
fn forbid_attach(path: &Path, conn: &Connection) -> Result<()> {
    conn.set_limit(rusqlite::limits::Limit::SQLITE_LIMIT_ATTACHED, 0)
        .map(|_| ())
        .map_err(|e| err(path, "limiting attached databases", e))
}

fn open_read_write(path: &Path, busy_timeout: Duration) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | COMMON_FLAGS;
    let conn =
        Connection::open_with_flags(path, flags).map_err(|e| err(path, "opening database", e))?;
    forbid_attach(path, &conn)?;
    conn.busy_timeout(busy_timeout)
        .map_err(|e| err(path, "setting busy timeout", e))?;
    retrying_busy(busy_timeout, || schema::initialise(&conn)).map_err(|e| init_error(path, e))?;
    Ok(conn)
}

/// Runs a step of opening a store again while another process holds a lock
/// that SQLite will not wait for: switching a new file to WAL and the first
/// opens of a WAL file return `SQLITE_BUSY` at once, without the busy
/// handler, when several processes open a fresh store together.
fn retrying_busy<T>(
    busy_timeout: Duration,
    mut step: impl FnMut() -> Result<T, schema::InitError>,
) -> Result<T, schema::InitError> {
    let started = std::time::Instant::now();
    // Spreads the retries of processes that started together.
    let jitter = u64::from(std::process::id() % 7);
    let mut attempt = 0u64;
    loop {
        match step() {
            Err(schema::InitError::Sqlite(rusqlite::Error::SqliteFailure(f, _)))
                if f.code == rusqlite::ErrorCode::DatabaseBusy
                    && started.elapsed() < busy_timeout =>
            {
                attempt += 1;
                std::thread::sleep(Duration::from_millis(attempt.min(10) * 5 + jitter));
            }
            other => return other,
        }
    }
}

/// `file:` URI of a path, for `immutable=1` (`%`, `?` and `#` escaped).
fn immutable_uri(path: &Path) -> String {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut uri = String::from("file:");
    for b in abs.as_os_str().as_encoded_bytes() {
        match b {
            b'%' | b'?' | b'#' => uri.push_str(&format!("%{b:02X}")),
            _ if b.is_ascii() && !b.is_ascii_control() => uri.push(char::from(*b)),
            _ => uri.push_str(&format!("%{b:02X}")),
        }
    }
    uri.push_str("?immutable=1");
    uri
}

fn open_read_only(
    path: &Path,
    busy_timeout: Duration,
) -> Result<(Connection, Option<tempfile::TempDir>)> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | COMMON_FLAGS;
    let first = Connection::open_with_flags(path, flags)
        .map_err(schema::InitError::Sqlite)
        .and_then(|c| {
            c.pragma_update(None, "query_only", true)?;
            c.busy_timeout(busy_timeout)?;
            retrying_busy(busy_timeout, || schema::check_readable(&c))?;
            Ok(c)
        });
    let (conn, snapshot) = match first {
        Ok(c) => (c, None),
        // A WAL database whose `-shm` cannot be created (read-only
        // directory or media): no writer can be at work in that directory
        // (a writer needs the `-shm`), so its files are at rest.
        Err(schema::InitError::Sqlite(rusqlite::Error::SqliteFailure(f, _)))
            if matches!(
                f.code,
                rusqlite::ErrorCode::CannotOpen | rusqlite::ErrorCode::ReadOnly
            ) =>
        {
            open_at_rest(path)?
        }
        Err(e) => return Err(init_error(path, e)),
    };
    forbid_attach(path, &conn)?;
    Ok((conn, snapshot))
}

/// Opens a WAL database read-only without its `-shm`: as immutable when
/// its `-wal` is empty or absent, else from a private copy of both files
/// (an immutable open ignores the WAL, so it would miss the newest
/// transactions).
fn open_at_rest(path: &Path) -> Result<(Connection, Option<tempfile::TempDir>)> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | COMMON_FLAGS;
    let wal = sidecar(path, "-wal");
    let pending = std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0);
    let (c, snapshot) = if pending {
        let (copy, dir) = snapshot(path, &wal)?;
        let c = Connection::open_with_flags(&copy, flags)
            .map_err(|e| err(path, "opening database read-only", e))?;
        (c, Some(dir))
    } else {
        let c =
            Connection::open_with_flags(immutable_uri(path), flags | OpenFlags::SQLITE_OPEN_URI)
                .map_err(|e| err(path, "opening database read-only", e))?;
        (c, None)
    };
    c.pragma_update(None, "query_only", true)
        .map_err(|e| err(path, "opening database read-only", e))?;
    schema::check_readable(&c).map_err(|e| init_error(path, e))?;
    Ok((c, snapshot))
}

/// `PATH` with `suffix` appended to its file name (`-wal`, `-shm`).
fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Copies a database and its WAL into a new private directory; returns the
/// copy's path and the directory (deleted on drop).
fn snapshot(path: &Path, wal: &Path) -> Result<(PathBuf, tempfile::TempDir)> {
    let io = |what: &str, e| Error::io(format!("{what} {}", path.display()), e);
    let dir = tempfile::Builder::new()
        .prefix("dsi-sqlite-snapshot-")
        .tempdir()
        .map_err(|e| io("making a private copy of", e))?;
    let copy = dir.path().join("store.db");
    std::fs::copy(path, &copy).map_err(|e| io("copying", e))?;
    std::fs::copy(wal, sidecar(&copy, "-wal")).map_err(|e| io("copying the WAL of", e))?;
    tracing::debug!(store = %path.display(), copy = %copy.display(), "read-only WAL store read from a copy");
    Ok((copy, dir))
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

    fn location(&self) -> Location {
        Location::File {
            path: self.path.clone(),
        }
    }

    fn put(&self, collection: &Collection) -> Result<()> {
        self.writable("put")?;
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

    fn count(&self, query: &TableQuery) -> Result<u64> {
        sql::count_rows(&self.conn(), query).map_err(|e| e.into_error(&self.path))
    }

    fn inspect(&self) -> Result<Inspection> {
        sql::inspect(&self.conn(), &self.location()).map_err(|e| e.into_error(&self.path))
    }

    fn put_blob(&self, blob: &BlobRef, content: &mut dyn std::io::Read) -> Result<BlobPut> {
        self.writable("put_blob")?;
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

    /// A WAL store left with transactions in its `-wal` (a reader held a
    /// snapshot while the last writer closed) and no `-shm`, as a copy onto
    /// read-only media finds it: the at-rest open sees every transaction,
    /// an immutable open would not, and the original files are unchanged.
    #[test]
    fn a_store_at_rest_with_a_pending_wal_reads_every_transaction() {
        use dsi_core::{Collection, Column, DataType, Query, Table, TableQuery, Value};
        let row = |n| {
            Collection::of(
                Table::from_columns(
                    "runs",
                    vec![Column::new("n", DataType::Int, vec![Value::Int(n)]).unwrap()],
                )
                .unwrap(),
            )
        };
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("dsi.db");
        SqliteDriver::open(&p).unwrap().put(&row(1)).unwrap();
        let reader = Connection::open_with_flags(&p, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
        reader.execute_batch("BEGIN").unwrap();
        let seen: i64 = reader
            .query_row("SELECT count(*) FROM runs", [], |r| r.get(0))
            .unwrap();
        assert_eq!(seen, 1);
        SqliteDriver::open(&p).unwrap().put(&row(2)).unwrap();
        drop(reader);
        let wal = sidecar(&p, "-wal");
        assert!(
            std::fs::metadata(&wal).unwrap().len() > 0,
            "the WAL holds row 2"
        );
        std::fs::remove_file(sidecar(&p, "-shm")).unwrap();
        let before = (std::fs::read(&p).unwrap(), std::fs::read(&wal).unwrap());

        let immutable = Connection::open_with_flags(
            immutable_uri(&p),
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI,
        )
        .unwrap();
        let stale: i64 = immutable
            .query_row("SELECT count(*) FROM runs", [], |r| r.get(0))
            .unwrap();
        assert!(stale < 2, "an immutable open misses the WAL");
        drop(immutable);

        let (conn, snapshot) = open_at_rest(&p).unwrap();
        assert!(snapshot.is_some(), "read from a copy");
        let d = SqliteDriver {
            path: p.clone(),
            access: Access::ReadOnly,
            conn: Arc::new(Mutex::new(conn)),
            _snapshot: snapshot.map(Arc::new),
        };
        assert_eq!(d.count(&TableQuery::new("runs")).unwrap(), 2);
        let got = d.get(&Query::Table(TableQuery::new("runs"))).unwrap();
        assert_eq!(got.tables()[0].get(1, "n"), Some(&Value::Int(2)));
        drop(d);
        assert_eq!(
            (std::fs::read(&p).unwrap(), std::fs::read(&wal).unwrap()),
            before,
            "the store's files are unchanged"
        );
    }

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
        let d = SqliteDriver::from_options(&o, Access::ReadWrite).unwrap();
        assert_eq!(d.name(), "sqlite");
        assert!(store.exists());
        let bad = Options::new().with("busy_timeout_ms", "soon");
        assert!(
            SqliteDriver::from_options(&bad, Access::ReadWrite)
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
