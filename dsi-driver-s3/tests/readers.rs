//! Other engines read the S3 driver's Delta tables at their S3 URL: the
//! Python `deltalake` package, Polars and DataFusion (over deltalake's
//! table provider) see exactly what dsi's `get` returns, after separate
//! puts, a put that adds a column, and compaction. (DuckDB's `delta`
//! extension needs `httpfs` for S3, which cannot be downloaded here; it
//! reads the local datasets in the parquet driver's tests.) The server is
//! s3s-fs; the readers run in the venv of `DSI_TEST_PYTHON`.

mod common;

use std::path::PathBuf;
use std::process::Command;

use dsi_core::{
    BlobRef, Collection, Column, DataType, Driver, Query, Table, TableQuery, Timestamp, Value,
};
use dsi_driver_parquet::CompactOptions;
use serde_json::{Value as Json, json};

const READERS: &str = "deltalake,polars,datafusion";

fn python() -> PathBuf {
    let p = std::env::var("DSI_TEST_PYTHON")
        .ok()
        .filter(|v| !v.is_empty());
    PathBuf::from(p.unwrap_or_else(|| {
        panic!(
            "DSI_TEST_PYTHON is not set: the reader tests need the Python venv with deltalake, \
             polars and datafusion; run them with `cargo xtask ci` (or `cargo xtask services \
             start` and export target/dsi-services/env)"
        )
    }))
}

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

fn assert_engines_agree(d: &dyn Driver, server: &common::Server, url: &str) {
    let options = json!({
        "AWS_ENDPOINT_URL": server.endpoint,
        "AWS_ACCESS_KEY_ID": server.access_key,
        "AWS_SECRET_ACCESS_KEY": server.secret_key,
        "AWS_REGION": "us-east-1",
        "AWS_ALLOW_HTTP": "true",
    });
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../dsi-driver-parquet/tests/readers.py"
    );
    let out = Command::new(python())
        .arg(script)
        .arg(url)
        .arg(options.to_string())
        .arg(READERS)
        .output()
        .expect("running readers.py");
    assert!(
        out.status.success(),
        "readers.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: serde_json::Map<String, Json> =
        serde_json::from_slice(&out.stdout).expect("readers.py prints JSON");
    let expected = dsi_rows(d, "runs");
    for (reader, rows) in got {
        assert_eq!(rows, expected, "{reader} reads what dsi reads ({url})");
    }
}

fn run(n: i64, extra: bool) -> Table {
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
fn delta_readers_read_what_dsi_wrote_on_s3() {
    let server = common::server();
    let prefix = common::unique_prefix("readers");
    let d = server.builder(&prefix).open().unwrap();
    let url = d.table_url("runs").unwrap().to_string();
    assert!(url.starts_with("s3://"), "{url}");
    for n in 0..4 {
        d.put(&Collection::of(run(n, false))).unwrap();
    }
    assert_engines_agree(&d, &server, &url);
    d.put(&Collection::of(run(4, true))).unwrap();
    assert_engines_agree(&d, &server, &url);
    let report = d
        .compact(&CompactOptions::default().unsafe_retention(std::time::Duration::ZERO))
        .unwrap();
    assert_eq!(report.tables[0].files_after, 1, "{report:?}");
    assert_engines_agree(&d, &server, &url);
}
