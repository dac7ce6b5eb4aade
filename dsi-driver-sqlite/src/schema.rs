//! The database schema: pragmas, internal tables, the schema version, and the
//! mapping between dsi types and declared SQLite column types.
//!
//! Version history (`_dsi_meta.schema_version`):
//! * 1 — user tables with dsi declared types; `_dsi_blobs` + `_dsi_blob_chunks`.
//!
//! A store written by a newer schema is refused rather than misread; an older
//! one is upgraded in place inside the opening transaction.

use dsi_core::DataType;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

/// The schema version this build writes.
pub(crate) const SCHEMA_VERSION: i64 = 1;

/// Prefix reserved for dsi's own tables.
pub(crate) const INTERNAL_PREFIX: &str = "_dsi_";

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

/// Sets the pragmas and creates or checks dsi's internal tables.
pub(crate) fn initialise(conn: &Connection) -> Result<(), InitError> {
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

    let existing: Option<String> = conn
        .query_row(
            "SELECT value FROM _dsi_meta WHERE key = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .optional()
        .or_else(|e| match e {
            rusqlite::Error::SqliteFailure(_, Some(ref m)) if m.starts_with("no such table") => {
                Ok(None)
            }
            e => Err(e),
        })?;
    if let Some(v) = &existing {
        let v: i64 = v.parse().map_err(|_| {
            InitError::Incompatible(format!("schema version '{v}' is not a number"))
        })?;
        if v > SCHEMA_VERSION {
            return Err(InitError::Incompatible(format!(
                "written by a newer dsi (schema version {v}; this dsi reads up to {SCHEMA_VERSION})"
            )));
        }
        if v == SCHEMA_VERSION {
            return Ok(());
        }
    }

    // Create (or upgrade) under the write lock so concurrent first opens agree.
    let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS _dsi_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
         CREATE TABLE IF NOT EXISTS _dsi_blobs (
             sha256 TEXT PRIMARY KEY,
             len INTEGER NOT NULL,
             chunks INTEGER NOT NULL
         );
         CREATE TABLE IF NOT EXISTS _dsi_blob_chunks (
             sha256 TEXT NOT NULL,
             seq INTEGER NOT NULL,
             data BLOB NOT NULL,
             PRIMARY KEY (sha256, seq)
         ) WITHOUT ROWID;",
    )?;
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
