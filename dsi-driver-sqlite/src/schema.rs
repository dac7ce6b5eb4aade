//! The database schema: pragmas, internal tables, the schema version, and the
//! mapping between dsi types and declared SQLite column types.
//!
//! Version history (`_dsi_meta.schema_version`):
//! * 1 — user tables with dsi declared types; `_dsi_blobs` + `_dsi_blob_chunks`
//!   (`WITHOUT ROWID`).
//! * 2 — `_dsi_blob_chunks` is an ordinary rowid table (the Python DSI's
//!   `search()`/`find()` select `rowid` from every table); `_dsi_columns`
//!   records the dsi type of every column dsi created, so that a table
//!   rewritten by another tool (the Python DSI's `update()`, pandas
//!   `to_sql`) keeps its timestamps, booleans and blob references.
//!
//! A store written by a newer schema is refused rather than misread; an older
//! one is upgraded in place, inside one write transaction, when it is opened
//! for writing. Opened read-only, nothing is created, migrated or written: a
//! version-1 store is read as it is.

use std::collections::BTreeMap;

use dsi_core::DataType;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

/// The schema version this build writes.
pub(crate) const SCHEMA_VERSION: i64 = 2;

/// Prefix reserved for dsi's own tables (compared case-insensitively).
pub(crate) const INTERNAL_PREFIX: &str = "_dsi";

/// Why a database could not be prepared.
#[derive(Debug)]
pub(crate) enum InitError {
    Sqlite(rusqlite::Error),
    Incompatible(String),
}

impl From<rusqlite::Error> for InitError {
    fn from(e: rusqlite::Error) -> Self {
        InitError::Sqlite(e)
    }
}

/// Whether a table exists.
fn has_table(conn: &Connection, name: &str) -> rusqlite::Result<bool> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?1",
            [name],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// The schema version recorded in the store, if it has `_dsi_meta`.
fn recorded_version(conn: &Connection) -> Result<Option<i64>, InitError> {
    if !has_table(conn, "_dsi_meta")? {
        return Ok(None);
    }
    let v: Option<String> = conn
        .query_row(
            "SELECT value FROM _dsi_meta WHERE key = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    let Some(v) = v else { return Ok(None) };
    let v: i64 = v
        .parse()
        .map_err(|_| InitError::Incompatible(format!("schema version '{v}' is not a number")))?;
    if v > SCHEMA_VERSION {
        return Err(InitError::Incompatible(format!(
            "written by a newer dsi (schema version {v}; this dsi reads up to {SCHEMA_VERSION})"
        )));
    }
    Ok(Some(v))
}

/// Checks a store opened read-only: refuses only a newer schema. A store
/// that dsi did not write (no `_dsi_meta`) is readable as it is.
pub(crate) fn check_readable(conn: &Connection) -> Result<(), InitError> {
    recorded_version(conn).map(|_| ())
}

/// User tables (not dsi's, not SQLite's), for the foreign-store check.
fn user_tables(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut stmt =
        conn.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")?;
    let names = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(names
        .into_iter()
        .filter(|n| !is_reserved(n) && !n.to_ascii_lowercase().starts_with("sqlite_"))
        .collect())
}

/// Sets the pragmas and creates, checks or upgrades dsi's internal tables,
/// for a store opened for writing.
pub(crate) fn initialise(conn: &Connection) -> Result<(), InitError> {
    let existing = recorded_version(conn)?;
    if existing.is_none() {
        // Writing into a database another program made would add columns
        // to its tables and tables to its schema: refuse.
        let foreign = user_tables(conn)?;
        // Each statement reads its own snapshot: a dsi writer that
        // initialised the store and put a record between the two reads
        // makes its tables look foreign. `_dsi_meta` commits before any
        // user table, so reading it again after them settles it.
        if !foreign.is_empty() && recorded_version(conn)?.is_none() {
            let shown: Vec<&str> = foreign.iter().take(4).map(String::as_str).collect();
            return Err(InitError::Incompatible(format!(
                "not a dsi store (it has tables {}{} but no _dsi_meta); dsi reads it but never writes to it",
                shown.join(", "),
                if foreign.len() > 4 { ", …" } else { "" }
            )));
        }
    }
    // WAL lets readers proceed while one process writes; FULL sync makes a
    // committed record survive power loss, not just a crash of dsi.
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(InitError::Incompatible(format!(
            "cannot switch to WAL journal mode (got '{mode}'); is the file on a network file system?"
        )));
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    if existing == Some(SCHEMA_VERSION) {
        return Ok(());
    }

    // Create (or upgrade) under the write lock so concurrent first opens agree.
    let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
    // Another process may have upgraded while we waited for the lock.
    if recorded_version(&tx)? == Some(SCHEMA_VERSION) {
        return Ok(tx.commit()?);
    }
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS _dsi_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
         CREATE TABLE IF NOT EXISTS _dsi_blobs (
             sha256 TEXT PRIMARY KEY,
             len INTEGER NOT NULL,
             chunks INTEGER NOT NULL
         );
         CREATE TABLE IF NOT EXISTS _dsi_columns (
             table_name TEXT NOT NULL,
             column_name TEXT NOT NULL,
             dsi_type TEXT NOT NULL,
             PRIMARY KEY (table_name, column_name)
         );",
    )?;
    if has_table(&tx, "_dsi_blob_chunks")? {
        // Version 1: the chunks table was WITHOUT ROWID; copy it into a
        // rowid table, and record the types of the existing user tables.
        tx.execute_batch(
            "CREATE TABLE _dsi_blob_chunks_v2 (
                 sha256 TEXT NOT NULL,
                 seq INTEGER NOT NULL,
                 data BLOB NOT NULL,
                 UNIQUE (sha256, seq)
             );
             INSERT INTO _dsi_blob_chunks_v2 (sha256, seq, data)
                 SELECT sha256, seq, data FROM _dsi_blob_chunks ORDER BY sha256, seq;
             DROP TABLE _dsi_blob_chunks;
             ALTER TABLE _dsi_blob_chunks_v2 RENAME TO _dsi_blob_chunks;",
        )?;
        for table in user_tables(&tx)? {
            for (column, decl) in declared_columns(&tx, &table)? {
                if let Some(t) = from_decl_type(&decl) {
                    record_column(&tx, &table, &column, t)?;
                }
            }
        }
    } else {
        tx.execute_batch(
            "CREATE TABLE _dsi_blob_chunks (
                 sha256 TEXT NOT NULL,
                 seq INTEGER NOT NULL,
                 data BLOB NOT NULL,
                 UNIQUE (sha256, seq)
             );",
        )?;
    }
    tx.execute(
        "INSERT OR REPLACE INTO _dsi_meta (key, value) VALUES ('schema_version', ?1)",
        [SCHEMA_VERSION.to_string()],
    )?;
    tx.execute(
        "INSERT OR IGNORE INTO _dsi_meta (key, value) VALUES ('created_by', ?1)",
        [format!("dsi {}", env!("CARGO_PKG_VERSION"))],
    )?;
    tx.commit()?;
    Ok(())
}

/// The columns of a table as SQLite declares them: (name, declared type).
pub(crate) fn declared_columns(
    conn: &Connection,
    table: &str,
) -> rusqlite::Result<Vec<(String, String)>> {
    let mut stmt = conn.prepare("SELECT name, type FROM pragma_table_info(?1) ORDER BY cid")?;
    stmt.query_map([table], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })?
    .collect()
}

/// Records the dsi type of a column dsi created (inside the put's transaction).
pub(crate) fn record_column(
    conn: &Connection,
    table: &str,
    column: &str,
    t: DataType,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT OR REPLACE INTO _dsi_columns (table_name, column_name, dsi_type) VALUES (?1, ?2, ?3)",
        [table, column, decl_type(t)],
    )?;
    Ok(())
}

/// The dsi types dsi recorded for a table's columns (empty for a store
/// without `_dsi_columns`: version 1, or not written by dsi).
pub(crate) fn recorded_columns(
    conn: &Connection,
    table: &str,
) -> rusqlite::Result<BTreeMap<String, DataType>> {
    if !has_table(conn, "_dsi_columns")? {
        return Ok(BTreeMap::new());
    }
    let mut stmt =
        conn.prepare("SELECT column_name, dsi_type FROM _dsi_columns WHERE table_name = ?1")?;
    let rows = stmt
        .query_map([table], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows
        .into_iter()
        .filter_map(|(c, t)| from_decl_type(&t).map(|t| (c, t)))
        .collect())
}

/// Whether a table name is reserved for dsi (`_dsi…`, any case).
pub(crate) fn is_reserved(name: &str) -> bool {
    name.get(..INTERNAL_PREFIX.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(INTERNAL_PREFIX))
}

/// The declared column type used for a dsi type.
pub(crate) fn decl_type(t: DataType) -> &'static str {
    match t {
        DataType::Bool => "BOOLEAN",
        DataType::Int => "INTEGER",
        DataType::Float => "REAL",
        DataType::Text => "TEXT",
        DataType::Bytes => "BLOB",
        DataType::Blob => "DSI_BLOBREF",
        DataType::Timestamp => "TIMESTAMP",
    }
}

/// The dsi type of a declared column type, following SQLite's affinity rules
/// for types dsi did not write (tables created by other tools).
pub(crate) fn from_decl_type(decl: &str) -> Option<DataType> {
    let d = decl.to_ascii_uppercase();
    Some(match d.as_str() {
        "BOOLEAN" | "BOOL" => DataType::Bool,
        "DSI_BLOBREF" => DataType::Blob,
        "TIMESTAMP" | "DATETIME" => DataType::Timestamp,
        _ if d.contains("INT") => DataType::Int,
        _ if d.contains("CHAR") || d.contains("CLOB") || d.contains("TEXT") => DataType::Text,
        _ if d.contains("BLOB") => DataType::Bytes,
        _ if d.contains("REAL") || d.contains("FLOA") || d.contains("DOUB") => DataType::Float,
        _ => return None,
    })
}

/// Quotes an identifier for SQLite (`"` doubled inside).
pub(crate) fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_maps_back() {
        for t in DataType::ALL {
            assert_eq!(from_decl_type(decl_type(t)), Some(t));
        }
        assert_eq!(from_decl_type("varchar(20)"), Some(DataType::Text));
        assert_eq!(from_decl_type("NUMERIC"), None);
    }

    #[test]
    fn quoting_doubles_quotes() {
        assert_eq!(
            quote(r#"x"; DROP TABLE t; --"#),
            r#""x""; DROP TABLE t; --""#
        );
    }

    #[test]
    fn reserved_names_are_case_insensitive() {
        assert!(is_reserved("_dsi_blobs"));
        assert!(is_reserved("_DSI_BLOBS"));
        assert!(is_reserved("_Dsi"));
        assert!(!is_reserved("dsi_blobs"));
        assert!(!is_reserved("_ds"));
    }

    #[test]
    fn newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("future.db");
        let f = Connection::open(&p).unwrap();
        f.execute_batch(
            "CREATE TABLE _dsi_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
             INSERT INTO _dsi_meta VALUES ('schema_version', '99');",
        )
        .unwrap();
        match initialise(&f) {
            Err(InitError::Incompatible(m)) => {
                assert!(m.contains("newer dsi (schema version 99"), "{m}")
            }
            other => panic!("expected incompatible, got {other:?}"),
        }
    }
}
