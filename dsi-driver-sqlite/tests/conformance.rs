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
    for name in ["_dsi_blobs", "_DSI_BLOBS", "_Dsi_x", "sqlite_master"] {
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
    assert_eq!(ins.location, dsi_core::Location::File { path: p.clone() });
}

/// Many first opens of one fresh file at the same moment (a job array's
/// tasks writing into a new store): every open waits its turn, none fails
/// with "database is locked", and every put is kept.
#[test]
fn simultaneous_first_opens_of_a_fresh_store_all_succeed() {
    const WRITERS: i64 = 16;
    for round in 0..10 {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("dsi.db");
        let start = std::sync::Barrier::new(WRITERS as usize);
        std::thread::scope(|s| {
            for n in 0..WRITERS {
                let (p, start) = (&p, &start);
                s.spawn(move || {
                    start.wait();
                    let d = SqliteDriver::open(p)
                        .unwrap_or_else(|e| panic!("round {round} writer {n}: {e}"));
                    d.put(&one("runs", "n", Value::Int(n), DataType::Int))
                        .unwrap_or_else(|e| panic!("round {round} writer {n}: {e}"));
                });
            }
        });
        let t = SqliteDriver::open_read_only(&p)
            .unwrap()
            .get(&Query::Table(TableQuery::new("runs")))
            .unwrap();
        assert_eq!(t.tables()[0].num_rows(), WRITERS as usize, "round {round}");
    }
}

fn sha256_of(p: &std::path::Path) -> String {
    BlobRef::compute(&mut std::fs::File::open(p).unwrap())
        .unwrap()
        .sha256_hex()
}

fn files_in(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn read_only_opens_create_nothing_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("typo.db");
    let e = SqliteDriver::open_read_only(&missing).unwrap_err();
    assert!(e.is_not_found("store"), "{e}");
    assert_eq!(
        e.to_string(),
        format!("store '{}' not found", missing.display())
    );
    assert!(files_in(dir.path()).is_empty(), "nothing created");

    let p = dir.path().join("dsi.db");
    {
        let w = SqliteDriver::open(&p).unwrap();
        w.put(&one("runs", "n", Value::Int(1), DataType::Int))
            .unwrap();
    }
    let before = sha256_of(&p);
    let r = SqliteDriver::open_read_only(&p).unwrap();
    assert_eq!(r.count(&TableQuery::new("runs")).unwrap(), 1);
    let e = r
        .put(&one("runs", "n", Value::Int(2), DataType::Int))
        .unwrap_err();
    assert!(matches!(e, Error::Refused(_)), "{e}");
    drop(r);
    assert_eq!(sha256_of(&p), before);
}

#[test]
fn a_store_in_a_read_only_directory_is_readable() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("ro");
    std::fs::create_dir(&sub).unwrap();
    let p = sub.join("dsi.db");
    {
        let w = SqliteDriver::open(&p).unwrap();
        w.put(&one("runs", "n", Value::Int(7), DataType::Int))
            .unwrap();
    }
    let before = (files_in(&sub), sha256_of(&p));
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o444)).unwrap();
    std::fs::set_permissions(&sub, std::fs::Permissions::from_mode(0o555)).unwrap();
    let r = SqliteDriver::open_read_only(&p);
    let got = r.and_then(|r| r.get(&Query::Table(TableQuery::new("runs"))));
    std::fs::set_permissions(&sub, std::fs::Permissions::from_mode(0o755)).unwrap();
    let got = got.unwrap();
    assert_eq!(got.tables()[0].get(0, "n"), Some(&Value::Int(7)));
    assert_eq!(sha256_of(&p), before.1, "the database is unchanged");
    // Root may write into a 0555 directory, so SQLite creates its -shm
    // there; real read-only media are tested through the CLI (a read-only
    // bind mount). Another user gets the immutable fallback: nothing created.
    if !rustix_is_root() {
        assert_eq!(files_in(&sub), before.0);
    }
}

fn rustix_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

#[test]
fn devices_and_foreign_databases_are_not_written() {
    let e = SqliteDriver::open("/dev/null").unwrap_err();
    assert!(e.to_string().contains("is not a regular file"), "{e}");
    assert!(!std::path::Path::new("/dev/null-journal").exists());

    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("theirs.db");
    let c = rusqlite::Connection::open(&p).unwrap();
    c.execute_batch("CREATE TABLE runs (x INTEGER); INSERT INTO runs VALUES (5);")
        .unwrap();
    drop(c);
    let before = sha256_of(&p);
    let e = SqliteDriver::open(&p).unwrap_err();
    assert!(matches!(e, Error::IncompatibleStore(_)), "{e}");
    assert!(
        e.to_string()
            .contains("not a dsi store (it has tables runs"),
        "{e}"
    );
    let r = SqliteDriver::open_read_only(&p).unwrap();
    let t = r.get(&Query::Table(TableQuery::new("runs"))).unwrap();
    assert_eq!(t.tables()[0].get(0, "x"), Some(&Value::Int(5)));
    assert!(r.list_blobs().unwrap().is_empty());
    drop(r);
    assert_eq!(sha256_of(&p), before, "not altered");
}

#[test]
fn types_survive_another_tool_rewriting_the_table() {
    // What the Python DSI's update() and pandas to_sql do: drop the table and
    // create it again with their own declared types, keeping the values.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("dsi.db");
    let d = SqliteDriver::open(&p).unwrap();
    let t = dsi_core::conformance::all_types_table("runs");
    d.put(&Collection::of(t.clone())).unwrap();
    drop(d);
    let c = rusqlite::Connection::open(&p).unwrap();
    c.execute_batch(
        "CREATE TABLE copy AS SELECT * FROM runs;
         DROP TABLE runs;
         CREATE TABLE runs (b INTEGER, i INTEGER, f FLOAT, t TEXT, y BLOB, r TEXT, ts TEXT, n TEXT);
         INSERT INTO runs SELECT b, i, f, t, y, r, ts, n FROM copy;
         DROP TABLE copy;",
    )
    .unwrap();
    drop(c);
    let d = SqliteDriver::open_read_only(&p).unwrap();
    let got = d.get(&Query::Table(TableQuery::new("runs"))).unwrap();
    let g = &got.tables()[0];
    for col in ["b", "ts", "r"] {
        assert_eq!(
            g.column(col).unwrap().data_type(),
            t.column(col).unwrap().data_type(),
            "{col}"
        );
        assert_eq!(
            g.column(col).unwrap().values(),
            t.column(col).unwrap().values(),
            "{col}"
        );
    }
}

#[test]
fn projections_and_counts() {
    let dir = tempfile::tempdir().unwrap();
    let d = SqliteDriver::open(dir.path().join("dsi.db")).unwrap();
    let t = dsi_core::conformance::all_types_table("runs");
    d.put(&Collection::of(t.clone())).unwrap();
    let q = TableQuery::new("runs").select(["t", "i"]);
    let got = d.get(&Query::Table(q.clone())).unwrap();
    let names: Vec<&str> = got.tables()[0].columns().iter().map(|c| c.name()).collect();
    assert_eq!(names, ["i", "t"], "table order, only those asked for");
    assert_eq!(d.count(&q).unwrap(), t.num_rows() as u64);
    let q = q.filter(dsi_core::Filter::new("i", dsi_core::FilterOp::Eq, 0i64));
    assert_eq!(d.count(&q.limit(0)).unwrap(), 1, "count ignores the limit");
}

#[test]
fn a_version_1_store_is_read_as_is_and_upgraded_by_a_write() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("v1.db");
    let blob = BlobRef::of_bytes(b"packed repository");
    let c = rusqlite::Connection::open(&p).unwrap();
    c.execute_batch(
        "PRAGMA journal_mode = WAL;
         CREATE TABLE _dsi_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
         INSERT INTO _dsi_meta VALUES ('schema_version', '1');
         CREATE TABLE _dsi_blobs (sha256 TEXT PRIMARY KEY, len INTEGER NOT NULL, chunks INTEGER NOT NULL);
         CREATE TABLE _dsi_blob_chunks (sha256 TEXT NOT NULL, seq INTEGER NOT NULL, data BLOB NOT NULL,
             PRIMARY KEY (sha256, seq)) WITHOUT ROWID;
         CREATE TABLE runs (run_id TEXT, container_run_commands DSI_BLOBREF);",
    )
    .unwrap();
    c.execute(
        "INSERT INTO _dsi_blobs VALUES (?1, ?2, 1)",
        rusqlite::params![blob.sha256_hex(), blob.len() as i64],
    )
    .unwrap();
    c.execute(
        "INSERT INTO _dsi_blob_chunks VALUES (?1, 0, ?2)",
        rusqlite::params![blob.sha256_hex(), b"packed repository".to_vec()],
    )
    .unwrap();
    c.execute(
        "INSERT INTO runs VALUES ('01A', ?1)",
        [format!(
            "{{\"sha256\":\"{}\",\"len\":{}}}",
            blob.sha256_hex(),
            blob.len()
        )],
    )
    .unwrap();
    drop(c);
    let before = sha256_of(&p);
    let r = SqliteDriver::open_read_only(&p).unwrap();
    assert_eq!(
        dsi_core::blob::read_verified(r.get_blob(&blob).unwrap()).unwrap(),
        b"packed repository"
    );
    drop(r);
    assert_eq!(sha256_of(&p), before, "a read-only open does not migrate");

    let w = SqliteDriver::open(&p).unwrap();
    assert_eq!(
        dsi_core::blob::read_verified(w.get_blob(&blob).unwrap()).unwrap(),
        b"packed repository",
        "blobs survive the upgrade"
    );
    drop(w);
    let c = rusqlite::Connection::open(&p).unwrap();
    let version: String = c
        .query_row(
            "SELECT value FROM _dsi_meta WHERE key = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(version, "2");
    // What the Python DSI's search() selects from every table.
    let n: i64 = c
        .query_row(
            "SELECT count(*) FROM _dsi_blob_chunks AS t2 WHERE t2.rowid >= 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 1);
    let t: String = c
        .query_row(
            "SELECT dsi_type FROM _dsi_columns WHERE table_name = 'runs' AND column_name = 'container_run_commands'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(t, "DSI_BLOBREF");
}
