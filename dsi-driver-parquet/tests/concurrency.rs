//! Many writers into one local dataset at once: 64 threads with separate
//! driver instances (one record each, with a blob, half of them spanning
//! two tables), and several processes. Every put succeeds, no record is
//! lost or duplicated, and the dataset is fsck-clean: every blob a row
//! references is stored and verifies.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use dsi_core::{BlobRef, Collection, Column, DataType, Driver, Query, Table, TableQuery, Value};
use dsi_driver_parquet::Dataset;

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

/// One record: its blob first, then its rows (every other one spans two
/// tables).
fn record(d: &Dataset, writer: i64, put: i64) -> dsi_core::Result<()> {
    let content = format!("artifact of writer {writer} put {put}").into_bytes();
    let blob = BlobRef::of_bytes(&content);
    d.put_blob(&blob, &mut &content[..])?;
    let mut c = Collection::of(rows("runs", writer, put, Some(&blob)));
    if (writer + put) % 2 == 1 {
        c.push(rows("steps", writer, put, None)).unwrap();
    }
    d.put(&c)
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

/// Exactly the records written, and fsck-clean.
fn check(root: &Path, writers: i64, puts: i64) {
    let d = Dataset::open_local(root).unwrap();
    let runs = counts(&d, "runs");
    let steps = counts(&d, "steps");
    for w in 0..writers {
        for p in 0..puts {
            assert_eq!(runs.get(&(w, p)), Some(&1), "runs: writer {w} put {p} once");
            let expected = ((w + p) % 2 == 1).then_some(&1);
            assert_eq!(steps.get(&(w, p)), expected, "steps: writer {w} put {p}");
        }
    }
    assert_eq!(runs.len(), (writers * puts) as usize, "nothing else");
    assert_eq!(
        d.count(&TableQuery::new("runs")).unwrap(),
        (writers * puts) as u64
    );
    // fsck: every referenced blob is stored and verifies.
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
    assert!(
        std::fs::read_dir(root.join("_dsi/puts")).map_or(true, |mut d| d.next().is_none()),
        "no multi-table put left unfinished"
    );
}

#[test]
fn sixty_four_threads_with_their_own_drivers() {
    const WRITERS: i64 = 64;
    let dir = tempfile::tempdir().unwrap();
    let failed = AtomicUsize::new(0);
    let started = std::time::Instant::now();
    std::thread::scope(|s| {
        for w in 0..WRITERS {
            let (root, failed) = (dir.path(), &failed);
            s.spawn(move || {
                let d = Dataset::open_local(root).expect("open");
                if let Err(e) = record(&d, w, 0) {
                    eprintln!("writer {w}: {e}");
                    failed.fetch_add(1, Ordering::SeqCst);
                }
            });
        }
    });
    eprintln!("64 concurrent records in {:?}", started.elapsed());
    assert_eq!(failed.load(Ordering::SeqCst), 0, "failed puts");
    check(dir.path(), WRITERS, 1);
}

const CHILD_ENV: &str = "DSI_PARQUET_TEST_CHILD";
const PROCESS_PUTS: i64 = 8;

/// Not a test of its own: the body of each writer process of
/// `several_processes`, which runs this binary again with `CHILD_ENV` set.
#[test]
fn child_writer() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (root, writer) = spec.rsplit_once(' ').expect("root and writer");
    let writer: i64 = writer.parse().expect("writer number");
    let d = Dataset::open_local(Path::new(root)).expect("open");
    for p in 0..PROCESS_PUTS {
        record(&d, writer, p).unwrap_or_else(|e| panic!("writer {writer} put {p}: {e}"));
    }
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
    check(dir.path(), PROCESSES, PROCESS_PUTS);
}

#[test]
fn compaction_while_others_record() {
    const WRITERS: i64 = 4;
    const PUTS: i64 = 25;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    record(&Dataset::open_local(root).unwrap(), 99, 0).unwrap();
    let done = std::sync::atomic::AtomicBool::new(false);
    let mut compactions = Vec::new();
    std::thread::scope(|s| {
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                s.spawn(move || {
                    let d = Dataset::open_local(root).expect("open");
                    for p in 0..PUTS {
                        record(&d, w, p).unwrap_or_else(|e| panic!("writer {w} put {p}: {e}"));
                    }
                })
            })
            .collect();
        let compactor = s.spawn(|| {
            let d = Dataset::open_local(root).expect("open");
            let mut reports = Vec::new();
            while !done.load(Ordering::SeqCst) {
                // The default retention: files of puts in flight are safe.
                reports.push(
                    d.compact(&dsi_driver_parquet::CompactOptions::default())
                        .unwrap(),
                );
            }
            reports
        });
        for w in writers {
            w.join().unwrap();
        }
        done.store(true, Ordering::SeqCst);
        compactions = compactor.join().unwrap();
    });
    assert!(!compactions.is_empty());
    let merged: u64 = compactions
        .iter()
        .flat_map(|r| r.tables.iter())
        .map(|t| t.files_merged)
        .sum();
    assert!(
        merged > 0,
        "compaction replaced files while others recorded"
    );
    let d = Dataset::open_local(root).unwrap();
    let runs = counts(&d, "runs");
    for w in 0..WRITERS {
        for p in 0..PUTS {
            assert_eq!(runs.get(&(w, p)), Some(&1), "writer {w} put {p} once");
        }
    }
    assert_eq!(
        d.count(&TableQuery::new("runs")).unwrap(),
        (WRITERS * PUTS + 1) as u64
    );
    // A final compaction leaves one file per table, every row still there.
    let report = d
        .compact(&dsi_driver_parquet::CompactOptions::default())
        .unwrap();
    assert!(
        report.tables.iter().all(|t| t.files_after == 1),
        "{report:?}"
    );
    assert_eq!(counts(&d, "runs"), runs);
}
