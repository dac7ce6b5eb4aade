//! Many writers into one local dataset at once: 16 threads with separate
//! driver instances, and several processes. No record is lost or duplicated.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use dsi_core::{Collection, Column, DataType, Driver, Query, Table, TableQuery, Value};
use dsi_driver_parquet::Dataset;

const PUTS: i64 = 10;

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

/// One writer's puts: single-table and multi-table puts alternate.
fn write(root: &Path, writer: i64) {
    let d = Dataset::open_local(root).expect("open");
    for p in 0..PUTS {
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

fn check(root: &Path, writers: i64) {
    let d = Dataset::open_local(root).unwrap();
    let runs = counts(&d, "runs");
    let steps = counts(&d, "steps");
    for w in 0..writers {
        for p in 0..PUTS {
            assert_eq!(runs.get(&(w, p)), Some(&1), "runs: writer {w} put {p} once");
            let expected = (p % 2 == 1).then_some(&1);
            assert_eq!(steps.get(&(w, p)), expected, "steps: writer {w} put {p}");
        }
    }
    assert_eq!(runs.len(), (writers * PUTS) as usize, "nothing else");
    let files: Vec<_> = walk(root);
    assert!(
        !files.iter().any(|f| f.contains(".tmp")),
        "no temporary files"
    );
    // Every commit finished its renames; the records are retired later.
    let records = files.iter().filter(|f| f.starts_with("_dsi/puts/")).count();
    assert_eq!(d.roll_forward(std::time::Duration::ZERO).unwrap(), records);
    assert!(!walk(root).iter().any(|f| f.starts_with("_dsi/puts/")));
}

fn walk(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    out
}

#[test]
fn sixteen_threads_with_their_own_drivers() {
    const THREADS: i64 = 16;
    let dir = tempfile::tempdir().unwrap();
    std::thread::scope(|s| {
        for w in 0..THREADS {
            let root = dir.path();
            s.spawn(move || write(root, w));
        }
    });
    check(dir.path(), THREADS);
}

const CHILD_ENV: &str = "DSI_PARQUET_TEST_CHILD";

/// Not a test of its own: the body of each writer process of
/// `several_processes`, which runs this binary again with `CHILD_ENV` set.
#[test]
fn child_writer() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (root, writer) = spec.rsplit_once(' ').expect("root and writer");
    write(Path::new(root), writer.parse().expect("writer number"));
}

#[test]
fn several_processes() {
    const PROCESSES: i64 = 6;
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..PROCESSES)
        .map(|w| {
            Command::new(&exe)
                .args(["child_writer", "--exact", "--test-threads=1"])
                .env(CHILD_ENV, format!("{} {w}", dir.path().display()))
                .spawn()
                .expect("spawn a writer process")
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success(), "a writer process failed");
    }
    check(dir.path(), PROCESSES);
}
