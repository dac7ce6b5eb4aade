//! Other engines read what dsi wrote, through the Delta log: the Python
//! `deltalake` package, DuckDB with its `delta` extension, Polars and
//! DataFusion (over deltalake's table provider) see exactly the rows and
//! values dsi's own `get` returns, after separate puts, after a put that
//! adds a column (older rows null), and after compaction. The readers run
//! in the Python venv `cargo xtask ci` prepares (`DSI_TEST_PYTHON`).

mod common;

use std::path::PathBuf;
use std::process::Command;

use dsi_core::{
    BlobRef, Collection, Column, DataType, Driver, Query, Table, TableQuery, Timestamp, Value,
};
use dsi_driver_parquet::{CompactOptions, Dataset};
use serde_json::{Value as Json, json};

const READERS: &str = "deltalake,duckdb,polars,datafusion";

fn python() -> PathBuf {
    let p = std::env::var("DSI_TEST_PYTHON")
        .ok()
        .filter(|v| !v.is_empty());
    PathBuf::from(p.unwrap_or_else(|| {
        panic!(
            "DSI_TEST_PYTHON is not set: the reader tests need the Python venv with deltalake, \
             duckdb (+ duckdb-extension-delta), polars and datafusion; run them with \
             `cargo xtask ci` (or `cargo xtask services start` and export target/dsi-services/env)"
        )
    }))
}

/// What each reader reads of a table, by reader name.
fn read_with_engines(uri: &str, options: &Json, readers: &str) -> serde_json::Map<String, Json> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/readers.py");
    let out = Command::new(python())
        .arg(script)
        .arg(uri)
        .arg(options.to_string())
        .arg(readers)
        .output()
        .expect("running tests/readers.py");
    assert!(
        out.status.success(),
        "readers.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    match serde_json::from_slice(&out.stdout).expect("readers.py prints JSON") {
        Json::Object(m) => m,
        other => panic!("readers.py printed {other}"),
    }
}

/// dsi's rows in the readers' shape: [n, host, extra, date, recorded_at, blob len].
fn dsi_rows(d: &dyn Driver, table: &str) -> Json {
    let t = d.get(&Query::Table(TableQuery::new(table))).unwrap();
    let t = &t.tables()[0];
    let cell = |r: usize, c: &str| -> Json {
        match t.get(r, c) {
            None | Some(Value::Null) => Json::Null,
            Some(Value::Int(i)) => json!(i),
            Some(Value::Text(s)) => json!(s),
            Some(Value::Timestamp(ts)) => json!(ts.as_micros()),
            Some(Value::Blob(b)) => json!(b.len()),
            Some(other) => panic!("unexpected {other:?}"),
        }
    };
    let mut rows: Vec<Json> = (0..t.num_rows())
        .map(|r| {
            json!([
                cell(r, "n"),
                cell(r, "host"),
                cell(r, "extra"),
                cell(r, "date"),
                cell(r, "recorded_at"),
                cell(r, "artifact")
            ])
        })
        .collect();
    rows.sort_by_key(|r| r[0].as_i64());
    Json::Array(rows)
}

/// Every reader agrees with dsi.
pub fn assert_engines_agree(d: &dyn Driver, table: &str, uri: &str, options: &Json, readers: &str) {
    let expected = dsi_rows(d, table);
    for (reader, got) in read_with_engines(uri, options, readers) {
        assert_eq!(got, expected, "{reader} reads what dsi reads ({uri})");
    }
}

/// A run of the representative shape: a text column named `date` (once a
/// Hive partition key), a timestamp, a blob.
pub fn run(n: i64, extra: bool) -> Table {
    let blob = BlobRef::of_bytes(format!("artifact {n}").as_bytes());
    let mut columns = vec![
        Column::new("n", DataType::Int, vec![Value::Int(n)]).unwrap(),
        Column::new(
            "host",
            DataType::Text,
            vec![Value::Text(format!("cn{}", n % 3))],
        )
        .unwrap(),
        Column::new(
            "date",
            DataType::Text,
            vec![Value::Text(format!("day {n}"))],
        )
        .unwrap(),
        Column::new(
            "recorded_at",
            DataType::Timestamp,
            vec![Value::Timestamp(Timestamp::from_micros(
                1_795_910_400_000_000 + n * 1_234_567,
            ))],
        )
        .unwrap(),
        Column::new("artifact", DataType::Blob, vec![Value::Blob(blob)]).unwrap(),
    ];
    if extra {
        columns.push(
            Column::new("extra", DataType::Text, vec![Value::Text(format!("x{n}"))]).unwrap(),
        );
    }
    Table::from_columns("runs", columns).unwrap()
}

#[test]
fn delta_readers_read_what_dsi_wrote_local() {
    let dir = tempfile::tempdir().unwrap();
    let d = Dataset::open_local(dir.path()).unwrap();
    let uri = d.table_url("runs").unwrap().to_string();
    for n in 0..5 {
        d.put(&Collection::of(run(n, false))).unwrap();
    }
    assert_engines_agree(&d, "runs", &uri, &json!({}), READERS);
    // A put that adds a column: every reader sees it, older rows null.
    d.put(&Collection::of(run(5, true))).unwrap();
    assert_engines_agree(&d, "runs", &uri, &json!({}), READERS);
    // After compaction (and a vacuum that deletes the replaced files).
    let report = d
        .compact(&CompactOptions::default().unsafe_retention(std::time::Duration::ZERO))
        .unwrap();
    let t = &report.tables[0];
    assert_eq!((t.files_before, t.files_after), (6, 1), "{report:?}");
    assert_eq!(t.files_vacuumed, 6, "{report:?}");
    assert!(t.checkpoint_version.is_some());
    assert_engines_agree(&d, "runs", &uri, &json!({}), READERS);
    // And a put after compaction.
    d.put(&Collection::of(run(6, true))).unwrap();
    assert_engines_agree(&d, "runs", &uri, &json!({}), READERS);
}

#[test]
fn delta_readers_never_see_half_of_a_failed_multi_table_put() {
    let dir = tempfile::tempdir().unwrap();
    let (d, store) = common::faulty(dir.path());
    let both = |n: i64| {
        let mut c = Collection::of(run(n, false));
        let mut steps = run(n, false);
        steps.set_name("steps").unwrap();
        c.push(steps).unwrap();
        c
    };
    d.put(&both(0)).unwrap();
    // `runs` commits, the commit to `steps` fails: the put is rolled back.
    store.fail_when(|op, p| op == "put" && p.as_ref().starts_with("steps/_delta_log/"));
    d.put(&both(1)).unwrap_err();
    store.heal();
    for t in ["runs", "steps"] {
        let uri = d.table_url(t).unwrap().to_string();
        assert_engines_agree(&d, t, &uri, &json!({}), READERS);
        assert_eq!(d.count(&TableQuery::new(t)).unwrap(), 1, "{t}");
    }
    // The writer dies between the commits (nothing written after `runs`'s
    // commit): dsi shows nothing of it; once settled, no engine does.
    let committed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = committed.clone();
    store.fail_when(move |op, p| {
        use std::sync::atomic::Ordering::SeqCst;
        if op == "put"
            && p.as_ref().starts_with("runs/_delta_log/")
            && p.as_ref().ends_with(".json")
        {
            return flag.swap(true, SeqCst);
        }
        op == "put" && flag.load(SeqCst)
    });
    d.put(&both(2)).unwrap_err();
    store.heal();
    let other = Dataset::open_local(dir.path()).unwrap();
    assert_eq!(
        other.count(&TableQuery::new("runs")).unwrap(),
        1,
        "dsi shows none of it"
    );
    other
        .settle_abandoned_puts(std::time::Duration::ZERO)
        .unwrap();
    for t in ["runs", "steps"] {
        let uri = other.table_url(t).unwrap().to_string();
        assert_engines_agree(&other, t, &uri, &json!({}), READERS);
    }
}
