//! Many writers into one bucket prefix at once: 16 threads with separate
//! driver instances, and several processes. No record is lost or duplicated.

mod common;

use std::collections::BTreeMap;
use std::process::Command;

use dsi_core::{Collection, Column, DataType, Driver, Query, Table, TableQuery, Value};

const THREADS: i64 = 16;
const PUTS: i64 = 6;

fn rows(table: &str, writer: i64, put: i64) -> Table {
    Table::from_columns(
        table,
        vec![
            Column::new("writer", DataType::Int, vec![Value::Int(writer)]).unwrap(),
            Column::new("put", DataType::Int, vec![Value::Int(put)]).unwrap(),
        ],
    )
    .unwrap()
}

/// One writer's puts: single-table puts and multi-table puts alternate.
fn write(d: &dyn Driver, writer: i64, puts: i64) {
    for p in 0..puts {
        let mut c = Collection::of(rows("runs", writer, p));
        if p % 2 == 1 {
            c.push(rows("steps", writer, p)).unwrap();
        }
        d.put(&c)
            .unwrap_or_else(|e| panic!("writer {writer} put {p}: {e}"));
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
            let expected = (p % 2 == 1).then_some(&1);
            assert_eq!(steps.get(&(w, p)), expected, "steps: writer {w} put {p}");
        }
    }
    assert_eq!(runs.len(), writers.count() * puts as usize, "nothing else");
}

#[test]
fn sixteen_threads_with_their_own_drivers() {
    let server = common::server();
    let prefix = common::unique_prefix("threads");
    std::thread::scope(|s| {
        for w in 0..THREADS {
            let (server, prefix) = (&server, &prefix);
            s.spawn(move || {
                let d = server.builder(prefix).open().expect("open in thread");
                write(&d, w, PUTS);
            });
        }
    });
    let d = server.builder(&prefix).open().unwrap();
    check(&d, 0..THREADS, PUTS);
    let ins = d.inspect().unwrap();
    let runs = ins.tables.iter().find(|t| t.name == "runs").unwrap();
    assert_eq!(runs.rows, (THREADS * PUTS) as u64);
    assert_eq!(
        runs.files,
        Some((THREADS * PUTS) as u64),
        "one file per put"
    );
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
    let server = common::server();
    let d = server.builder(prefix).open().expect("open in child");
    write(&d, writer.parse().expect("writer number"), PUTS);
}

#[test]
fn several_processes() {
    const PROCESSES: i64 = 4;
    let server = common::server();
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
    // The driver's runtime is current-thread; callers on several threads
    // take turns driving it.
    let server = common::server();
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
