//! The dsi-core conformance suite against a real SQLite file, plus checks
//! specific to SQLite: hostile SQL, NaN, read-only queries, reopening.

use dsi_core::conformance::{Capabilities, run_all};
use dsi_core::{
    BlobRef, Collection, Column, DataType, Driver, Error, Query, Table, TableQuery, Value,
};
use dsi_driver_sqlite::SqliteDriver;

#[test]
fn sqlite_passes_the_conformance_suite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("dsi.db");
    let corrupt = |blob: &BlobRef, content: &[u8]| -> dsi_core::Result<()> {
        let c = rusqlite::Connection::open(&path).expect("open directly");
        let n = c
            .execute(
                "UPDATE _dsi_blob_chunks SET data = ?1 WHERE sha256 = ?2 AND seq = 0",
                rusqlite::params![content, blob.sha256_hex()],
            )
            .expect("update chunk");
        assert_eq!(n, 1, "one chunk corrupted");
        Ok(())
    };
    run_all(
        &|| Ok(Box::new(SqliteDriver::open(&path)?) as Box<dyn Driver>),
        &Capabilities {
            bounded_blob_memory: true,
            sql: true,
            corrupt_blob: &corrupt,
        },
    );
}

fn one(name: &str, col: &str, v: Value, t: DataType) -> Collection {
    Collection::of(Table::from_columns(name, vec![Column::new(col, t, vec![v]).unwrap()]).unwrap())
}

#[test]
fn nan_is_refused_naming_the_column() {
    let dir = tempfile::tempdir().unwrap();
    let d = SqliteDriver::open(dir.path().join("dsi.db")).unwrap();
    let e = d
        .put(&one("m", "ratio", Value::Float(f64::NAN), DataType::Float))
        .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("column 'ratio' of table 'm': NaN"),
        "{e}"
    );
    assert!(matches!(
        d.get(&Query::Table(TableQuery::new("m"))),
        Err(Error::NotFound { .. })
    ));
}

#[test]
fn sql_must_be_read_only() {
    let dir = tempfile::tempdir().unwrap();
    let d = SqliteDriver::open(dir.path().join("dsi.db")).unwrap();
    d.put(&one("t", "a", Value::Int(1), DataType::Int)).unwrap();
    for sql in [
        "DROP TABLE t",
        "DELETE FROM t",
        "INSERT INTO t VALUES (2)",
        "PRAGMA journal_mode = DELETE",
    ] {
        let e = d.get(&Query::Sql(sql.into())).unwrap_err();
        assert!(matches!(e, Error::Refused(_)), "{sql}: {e}");
    }
    let t = d.get(&Query::Sql("SELECT * FROM t".into())).unwrap();
    assert_eq!(t.tables()[0].num_rows(), 1);
    // A statement that does not parse is the caller's input at fault.
    let e = d.get(&Query::Sql("SELEC nonsense".into())).unwrap_err();
    assert!(matches!(e, Error::InvalidData(_)), "{e}");
    assert!(
        e.to_string().starts_with("SQL query: near \"SELEC\""),
        "{e}"
    );
}

#[test]
fn sql_results_keep_dsi_types() {
    let dir = tempfile::tempdir().unwrap();
    let d = SqliteDriver::open(dir.path().join("dsi.db")).unwrap();
    let t = dsi_core::conformance::all_types_table("runs");
    d.put(&Collection::of(t.clone())).unwrap();
    let got = d
        .get(&Query::Sql(
            "SELECT b, ts, r, i + 0 AS twice, 'x' AS lit FROM runs".into(),
        ))
        .unwrap();
    let g = &got.tables()[0];
    assert_eq!(g.column("b").unwrap().data_type(), DataType::Bool);
    assert_eq!(g.column("ts").unwrap().data_type(), DataType::Timestamp);
    assert_eq!(g.column("r").unwrap().data_type(), DataType::Blob);
    assert_eq!(g.column("twice").unwrap().data_type(), DataType::Int);
    assert_eq!(g.column("lit").unwrap().data_type(), DataType::Text);
    assert_eq!(
        g.column("ts").unwrap().values(),
        t.column("ts").unwrap().values()
    );
}

#[test]
fn reserved_names_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = SqliteDriver::open(dir.path().join("dsi.db")).unwrap();
    for name in ["_dsi_blobs", "sqlite_master"] {
        let e = d
            .put(&one(name, "a", Value::Int(1), DataType::Int))
            .unwrap_err();
        assert!(e.to_string().contains("is reserved"), "{e}");
    }
}

#[test]
fn store_written_by_other_processes_is_visible() {
    // Two handles on one file stand for two processes (each has its own connection).
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("dsi.db");
    let a = SqliteDriver::open(&p).unwrap();
    let b = SqliteDriver::open(&p).unwrap();
    a.put(&one("runs", "n", Value::Int(1), DataType::Int))
        .unwrap();
    b.put(&one("runs", "n", Value::Int(2), DataType::Int))
        .unwrap();
    let t = a.get(&Query::Table(TableQuery::new("runs"))).unwrap();
    assert_eq!(t.tables()[0].num_rows(), 2);
    let ins = b.inspect().unwrap();
    assert_eq!(ins.tables.len(), 1);
    assert_eq!(ins.tables[0].rows, 2);
    assert_eq!(ins.location, p.display().to_string());
}
