//! Many writers into one bucket prefix at once, on moto (whose
//! create-if-absent is atomic, as a Delta log needs): 64 threads with
//! separate driver instances (one record each, with a blob, every other one
//! spanning two tables), several processes, and one driver shared by
//! threads. Every put succeeds, no record is lost or duplicated, and the
//! dataset is fsck-clean: every blob a row references is stored and
//! verifies.

mod common;

use std::collections::BTreeMap;
use std::io::Read;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use dsi_core::{BlobRef, Collection, Column, DataType, Driver, Query, Table, TableQuery, Value};

const PUTS: i64 = 4;

fn rows(table: &str, writer: i64, put: i64, blob: Option<&BlobRef>) -> Table {
    let mut columns = vec![
        Column::new("writer", DataType::Int, vec![Value::Int(writer)]).unwrap(),
        Column::new("put", DataType::Int, vec![Value::Int(put)]).unwrap(),
    ];
    if let Some(b) = blob {
        columns.push(Column::new("artifact", DataType::Blob, vec![Value::Blob(*b)]).unwrap());
    }
    Table::from_columns(table, columns).unwrap()
}

/// One record: its blob first, then its rows.
fn record(d: &dyn Driver, writer: i64, put: i64) -> dsi_core::Result<()> {
    let content = format!("artifact of writer {writer} put {put}").into_bytes();
    let blob = BlobRef::of_bytes(&content);
    d.put_blob(&blob, &mut &content[..])?;
    let mut c = Collection::of(rows("runs", writer, put, Some(&blob)));
    if (writer + put) % 2 == 1 {
        c.push(rows("steps", writer, put, None)).unwrap();
    }
    d.put(&c)
}

fn write(d: &dyn Driver, writer: i64, puts: i64) {
    for p in 0..puts {
        record(d, writer, p).unwrap_or_else(|e| panic!("writer {writer} put {p}: {e}"));
    }
}

fn counts(d: &dyn Driver, table: &str) -> BTreeMap<(i64, i64), usize> {
    let t = d.get(&Query::Table(TableQuery::new(table))).unwrap();
    let t = &t.tables()[0];
    let mut out = BTreeMap::new();
    for r in 0..t.num_rows() {
        let w = t.get(r, "writer").unwrap().as_int().unwrap();
        let p = t.get(r, "put").unwrap().as_int().unwrap();
        *out.entry((w, p)).or_insert(0) += 1;
    }
    out
}

fn check(d: &dyn Driver, writers: impl Iterator<Item = i64> + Clone, puts: i64) {
    let runs = counts(d, "runs");
    let steps = counts(d, "steps");
    for w in writers.clone() {
        for p in 0..puts {
            assert_eq!(runs.get(&(w, p)), Some(&1), "runs: writer {w} put {p} once");
            let expected = ((w + p) % 2 == 1).then_some(&1);
            assert_eq!(steps.get(&(w, p)), expected, "steps: writer {w} put {p}");
        }
    }
    let total = writers.count() * puts as usize;
    assert_eq!(runs.len(), total, "nothing else");
    assert_eq!(d.count(&TableQuery::new("runs")).unwrap(), total as u64);
    let t = d.get(&Query::Table(TableQuery::new("runs"))).unwrap();
    for v in t.tables()[0].column("artifact").unwrap().values() {
        let b = v.as_blob().expect("every run references its blob");
        let mut content = Vec::new();
        d.get_blob(b)
            .unwrap_or_else(|e| panic!("blob {b}: {e}"))
            .read_to_end(&mut content)
            .unwrap_or_else(|e| panic!("blob {b} does not verify: {e}"));
        assert_eq!(content.len() as u64, b.len());
    }
}

#[test]
fn sixty_four_threads_with_their_own_drivers() {
    const WRITERS: i64 = 64;
    let server = common::moto();
    let prefix = common::unique_prefix("threads");
    let failed = AtomicUsize::new(0);
    let started = std::time::Instant::now();
    std::thread::scope(|s| {
        for w in 0..WRITERS {
            let (server, prefix, failed) = (&server, &prefix, &failed);
            s.spawn(move || {
                let d = server.builder(prefix).open().expect("open in thread");
                if let Err(e) = record(&d, w, 0) {
                    eprintln!("writer {w}: {e}");
                    failed.fetch_add(1, Ordering::SeqCst);
                }
            });
        }
    });
    eprintln!("64 concurrent records on moto in {:?}", started.elapsed());
    assert_eq!(failed.load(Ordering::SeqCst), 0, "failed puts");
    let d = server.builder(&prefix).open().unwrap();
    check(&d, 0..WRITERS, 1);
    let ins = d.inspect().unwrap();
    let runs = ins.tables.iter().find(|t| t.name == "runs").unwrap();
    assert_eq!(runs.rows, WRITERS as u64);
    assert_eq!(runs.files, Some(WRITERS as u64), "one file per put");
}

const CHILD_ENV: &str = "DSI_S3_TEST_CHILD";

/// Not a test of its own: the body of each writer process of
/// `several_processes`, which runs this binary again with `CHILD_ENV` set.
#[test]
fn child_writer() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (prefix, writer) = spec.split_once(' ').expect("prefix and writer");
    let server = common::moto();
    let d = server.builder(prefix).open().expect("open in child");
    write(&d, writer.parse().expect("writer number"), PUTS);
}

#[test]
fn several_processes() {
    const PROCESSES: i64 = 4;
    let server = common::moto();
    let prefix = common::unique_prefix("processes");
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..PROCESSES)
        .map(|w| {
            Command::new(&exe)
                .args(["child_writer", "--exact", "--test-threads=1"])
                .env(CHILD_ENV, format!("{prefix} {w}"))
                .spawn()
                .expect("spawn a writer process")
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success(), "a writer process failed");
    }
    let d = server.builder(&prefix).open().unwrap();
    check(&d, 0..PROCESSES, PUTS);
}

#[test]
fn one_driver_shared_by_threads() {
    // Callers on several threads drive the driver's runtime at once.
    let server = common::moto();
    let prefix = common::unique_prefix("shared");
    let d = server.builder(&prefix).open().unwrap();
    std::thread::scope(|s| {
        for w in 0..4 {
            let d = &d;
            s.spawn(move || {
                write(d, w, PUTS);
                let _ = d.get(&Query::Table(TableQuery::new("runs"))).unwrap();
            });
        }
    });
    check(&d, 0..4, PUTS);
}
