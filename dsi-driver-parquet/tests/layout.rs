//! The dataset layout as other engines see it, and what failures leave
//! behind: one Delta table per table, one data file and one commit per put,
//! schema evolution through the log, multi-table puts all-or-nothing with
//! failures injected between their commits, read-only opens, pruning by
//! the log's statistics, blobs.

mod common;

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::time::Duration;

use dsi_core::{
    Access, BlobRef, Collection, Column, DataType, Driver, Error, Filter, FilterOp, Query, Table,
    TableQuery, Timestamp, Value,
};
use dsi_driver_parquet::Dataset;
use parquet::basic::Compression;
use parquet::file::reader::{FileReader, SerializedFileReader};

/// 2026-11-29T00:00:00Z.
const NOV29: i64 = 1_795_910_400_000_000;

fn ints(table: &str, column: &str, values: impl IntoIterator<Item = i64>) -> Table {
    Table::from_columns(
        table,
        vec![
            Column::new(
                column,
                DataType::Int,
                values.into_iter().map(Value::Int).collect(),
            )
            .unwrap(),
        ],
    )
    .unwrap()
}

fn runs(n: i64, at: i64) -> Table {
    Table::from_columns(
        "runs",
        vec![
            Column::new("n", DataType::Int, vec![Value::Int(n)]).unwrap(),
            Column::new(
                "recorded_at",
                DataType::Timestamp,
                vec![Timestamp::from_micros(at).into()],
            )
            .unwrap(),
        ],
    )
    .unwrap()
}

fn read(d: &dyn Driver, q: TableQuery) -> Table {
    d.get(&Query::Table(q)).unwrap().tables()[0].clone()
}

fn column_ints(t: &Table, c: &str) -> Vec<i64> {
    t.column(c)
        .unwrap()
        .values()
        .iter()
        .map(|v| v.as_int().unwrap())
        .collect()
}

/// The JSON actions of one commit of a table.
fn commit(root: &std::path::Path, table: &str, version: u64) -> Vec<serde_json::Value> {
    let p = root
        .join(table)
        .join(format!("_delta_log/{version:020}.json"));
    std::fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The data files a table's log currently references (adds less removes,
/// replayed from the JSON commits, as any Delta reader would).
fn active_files(root: &std::path::Path, table: &str) -> BTreeSet<String> {
    let mut active = BTreeSet::new();
    for v in 0.. {
        if !root
            .join(table)
            .join(format!("_delta_log/{v:020}.json"))
            .exists()
        {
            break;
        }
        for a in commit(root, table, v) {
            if let Some(p) = a["add"]["path"].as_str() {
                active.insert(p.to_owned());
            }
            if let Some(p) = a["remove"]["path"].as_str() {
                active.remove(p);
            }
        }
    }
    active
}

#[test]
fn one_delta_table_per_table_one_file_and_one_commit_per_put() {
    let dir = tempfile::tempdir().unwrap();
    let d = Dataset::open_local(dir.path()).unwrap();
    // A user column named `date` is an ordinary column: nothing is
    // Hive-partitioned by a user-visible name.
    let mut first = runs(1, NOV29 + 5);
    first
        .add_column(Column::new("date", DataType::Text, vec!["yesterday".into()]).unwrap())
        .unwrap();
    d.put(&Collection::of(first)).unwrap();
    d.put(&Collection::of(runs(2, NOV29 + 7))).unwrap();
    let files = common::files(dir.path());
    let data: Vec<&String> = files
        .iter()
        .filter(|f| f.starts_with("runs/") && f.ends_with(".parquet"))
        .collect();
    assert_eq!(data.len(), 2, "{files:?}");
    for f in &data {
        let id = f
            .strip_prefix("runs/")
            .and_then(|n| n.strip_suffix(".parquet"))
            .expect("runs/<ULID>.parquet");
        assert_eq!(id.len(), 26, "a ULID: {id}");
    }
    assert!(data[0] < data[1], "ULIDs order the puts");
    let logs: Vec<&String> = files.iter().filter(|f| f.contains("_delta_log/")).collect();
    assert_eq!(
        logs,
        [
            "runs/_delta_log/00000000000000000000.json",
            "runs/_delta_log/00000000000000000001.json"
        ]
    );
    let others: BTreeSet<&String> = files.iter().filter(|f| !f.starts_with("runs/")).collect();
    assert_eq!(others.len(), 1, "{others:?}");
    assert!(others.contains(&"_dsi/dataset.json".to_owned()));

    // Version 0: reader 1 / writer 2 (no table features), no partition
    // columns, dsi types in the field metadata; the put's id is its file's
    // name, and no application transaction stays behind per put.
    let v0 = commit(dir.path(), "runs", 0);
    let protocol = v0.iter().find_map(|a| a.get("protocol")).unwrap();
    assert_eq!(protocol["minReaderVersion"], 1);
    assert_eq!(protocol["minWriterVersion"], 2);
    let meta = v0.iter().find_map(|a| a.get("metaData")).unwrap();
    assert_eq!(meta["partitionColumns"], serde_json::json!([]));
    assert_eq!(
        meta["configuration"]["delta.deletedFileRetentionDuration"], "interval 1 hours",
        "tombstones kept an hour, the shortest vacuum retention dsi accepts"
    );
    let schema: serde_json::Value =
        serde_json::from_str(meta["schemaString"].as_str().unwrap()).unwrap();
    let fields: Vec<(&str, &str)> = schema["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["name"].as_str().unwrap(), f["type"].as_str().unwrap()))
        .collect();
    assert_eq!(
        fields,
        [
            ("n", "long"),
            ("recorded_at", "timestamp"),
            ("date", "string")
        ]
    );
    for v in [0, 1] {
        let c = commit(dir.path(), "runs", v);
        assert!(c.iter().all(|a| a.get("txn").is_none()), "no txn: {c:?}");
        let add = c.iter().find_map(|a| a.get("add")).expect("add");
        assert_eq!(
            add["path"].as_str().unwrap(),
            data[usize::try_from(v).unwrap()]
                .strip_prefix("runs/")
                .unwrap(),
            "the put's file"
        );
        let stats: serde_json::Value =
            serde_json::from_str(add["stats"].as_str().unwrap()).unwrap();
        assert_eq!(stats["numRecords"], 1);
        assert!(stats["minValues"]["recorded_at"].is_string(), "{stats}");
        assert_eq!(c.iter().filter(|a| a.get("add").is_some()).count(), 1);
    }
    let t = read(&d, TableQuery::new("runs"));
    assert_eq!(
        t.column("date").unwrap().values(),
        ["yesterday".into(), Value::Null]
    );

    // Standard Parquet: zstd, statistics.
    let file = std::fs::File::open(dir.path().join(data[0])).unwrap();
    let reader = SerializedFileReader::new(file).unwrap();
    let rg = reader.metadata().row_group(0);
    assert_eq!(rg.num_rows(), 1);
    for c in rg.columns() {
        assert!(matches!(c.compression(), Compression::ZSTD(_)), "zstd");
        assert!(c.statistics().is_some(), "statistics");
    }
}

#[test]
fn hostile_table_names_stay_inside_their_directory() {
    let dir = tempfile::tempdir().unwrap();
    let d = Dataset::open_local(dir.path()).unwrap();
    for name in ["../escape", "a/b", ".hidden", "x=1", "100% ünï"] {
        d.put(&Collection::of(ints(name, "a", [1]))).unwrap();
        assert_eq!(column_ints(&read(&d, TableQuery::new(name)), "a"), [1]);
    }
    let dirs: BTreeSet<String> = common::files(dir.path())
        .into_iter()
        .map(|f| f.split('/').next().unwrap().to_owned())
        .collect();
    assert_eq!(
        dirs,
        BTreeSet::from([
            "+2E.+2Fescape".into(),
            "a+2Fb".into(),
            "+2Ehidden".into(),
            "x+3D1".into(),
            "100+25+20ünï".into(),
            "_dsi".into(),
        ])
    );
    assert!(!dir.path().parent().unwrap().join("escape").exists());
    let names: Vec<String> = d
        .inspect()
        .unwrap()
        .tables
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names.len(), 5, "{names:?}");
    let e = d.put(&Collection::of(ints("blobs", "a", [1]))).unwrap_err();
    assert!(e.to_string().contains("reserved"), "{e}");
}

#[test]
fn schema_evolution_goes_through_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let d = Dataset::open_local(dir.path()).unwrap();
    d.put(&Collection::of(ints("t", "a", [1]))).unwrap();
    let mut two = ints("t", "a", [2]);
    two.add_column(Column::new("b", DataType::Text, vec!["x".into()]).unwrap())
        .unwrap();
    d.put(&Collection::of(two)).unwrap();
    let meta = commit(dir.path(), "t", 1)
        .into_iter()
        .find_map(|a| a.get("metaData").cloned())
        .expect("the put that adds a column commits the new schema");
    assert!(meta["schemaString"].as_str().unwrap().contains("\"b\""));
    let t = read(&d, TableQuery::new("t"));
    assert_eq!(t.column("b").unwrap().values(), [Value::Null, "x".into()]);
    // A type change is refused before anything is written.
    let before = common::files(dir.path());
    let e = d
        .put(&Collection::of(
            Table::from_columns(
                "t",
                vec![Column::new("b", DataType::Int, vec![Value::Int(3)]).unwrap()],
            )
            .unwrap(),
        ))
        .unwrap_err();
    assert!(e.to_string().contains("column 'b'"), "{e}");
    assert_eq!(common::files(dir.path()), before);
    // The column set is answered from the log.
    let cols: Vec<String> = d.inspect().unwrap().tables[0]
        .columns
        .iter()
        .map(|c| c.name.clone())
        .collect();
    assert_eq!(cols, ["a", "b"]);
}

#[test]
fn read_only_opens_create_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let e = Dataset::open_local_with(&missing, Access::ReadOnly).unwrap_err();
    assert!(e.is_not_found("store"), "{e}");
    assert!(!missing.exists());
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let e = Dataset::open_local_with(&empty, Access::ReadOnly).unwrap_err();
    assert!(e.is_not_found("store"), "{e}");
    assert!(common::files(&empty).is_empty());

    let data = dir.path().join("data");
    let w = Dataset::open_local(&data).unwrap();
    for i in 0..3 {
        w.put(&Collection::of(ints("t", "a", [i]))).unwrap();
    }
    let before = common::files(&data);
    let r = Dataset::open_local_with(&data, Access::ReadOnly).unwrap();
    assert_eq!(r.count(&TableQuery::new("t")).unwrap(), 3);
    assert_eq!(column_ints(&read(&r, TableQuery::new("t")), "a"), [0, 1, 2]);
    r.inspect().unwrap();
    let e = r.put(&Collection::of(ints("t", "a", [9]))).unwrap_err();
    assert!(matches!(e, Error::Refused(_)), "{e}");
    assert_eq!(common::files(&data), before, "nothing written read-only");
}

#[test]
fn a_failed_multi_table_put_leaves_nothing_for_any_reader() {
    let dir = tempfile::tempdir().unwrap();
    let (d, store) = common::faulty(dir.path());
    d.put(&Collection::of(ints("a", "n", [0]))).unwrap();
    d.put(&Collection::of(ints("b", "n", [0]))).unwrap();
    let mut c = Collection::new();
    c.push(ints("a", "n", [1])).unwrap();
    c.push(ints("b", "n", [1])).unwrap();

    // The second data file cannot be written: no commit anywhere.
    store.fail_when(|op, p| {
        op == "put" && p.as_ref().starts_with("b/") && p.as_ref().ends_with(".parquet")
    });
    let e = d.put(&c).unwrap_err();
    assert!(!e.to_string().contains('\n'), "{e}");
    assert!(e.to_string().contains("injected failure"), "{e}");
    store.heal();
    assert_eq!(active_files(dir.path(), "a").len(), 1);

    // Table a commits, b's commit fails: a's file is taken out again.
    store.fail_when(|op, p| op == "put" && p.as_ref().starts_with("b/_delta_log/"));
    let e = d.put(&c).unwrap_err();
    assert!(e.to_string().contains("injected failure"), "{e}");
    store.heal();
    let log_a = common::files(&dir.path().join("a/_delta_log"));
    assert!(
        log_a.len() >= 3,
        "a committed, then removed its file: {log_a:?}"
    );
    for (t, d) in [("a", &d), ("b", &d)] {
        assert_eq!(column_ints(&read(d, TableQuery::new(t)), "n"), [0], "{t}");
        assert_eq!(
            active_files(dir.path(), t).len(),
            1,
            "{t}: Delta readers see one put"
        );
    }
    let fresh = Dataset::open_local(dir.path()).unwrap();
    assert_eq!(column_ints(&read(&fresh, TableQuery::new("a")), "n"), [0]);
    assert!(
        common::files(&dir.path().join("_dsi/puts")).is_empty(),
        "no record left"
    );
    // The next multi-table put works; only its commit to the last table
    // holds its transaction.
    d.put(&c).unwrap();
    for t in ["a", "b"] {
        assert_eq!(
            column_ints(&read(&fresh, TableQuery::new(t)), "n"),
            [0, 1],
            "{t}"
        );
    }
    let newest = |t: &str| {
        let log = common::files(&dir.path().join(t).join("_delta_log"));
        let last = log.iter().filter(|f| f.ends_with(".json")).max().unwrap();
        let version: u64 = last.trim_end_matches(".json").parse().unwrap();
        commit(dir.path(), t, version)
    };
    let (a, b) = (newest("a"), newest("b"));
    assert!(a.iter().all(|x| x.get("txn").is_none()), "{a:?}");
    let txn = b.iter().find_map(|x| x.get("txn")).expect("txn in b");
    assert_eq!(txn["version"], 1);
    let add = b.iter().find_map(|x| x.get("add")).expect("add in b");
    let id = txn["appId"].as_str().unwrap();
    assert_eq!(add["path"].as_str().unwrap(), format!("{id}.m.parquet"));
}

#[test]
fn a_writer_dying_between_commits_is_invisible_to_dsi_and_settled_later() {
    let dir = tempfile::tempdir().unwrap();
    let (d, store) = common::faulty(dir.path());
    d.put(&Collection::of(ints("a", "n", [0]))).unwrap();
    d.put(&Collection::of(ints("b", "n", [0]))).unwrap();
    let mut c = Collection::new();
    c.push(ints("a", "n", [1])).unwrap();
    c.push(ints("b", "n", [1])).unwrap();
    // After a's commit nothing can be written any more (as if the writer
    // died): no rollback either.
    let a_committed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = a_committed.clone();
    store.fail_when(move |op, p| {
        let s = p.as_ref();
        if op == "put" && s.starts_with("a/_delta_log/") && s.ends_with(".json") {
            return flag.swap(true, Ordering::SeqCst);
        }
        op == "put" && flag.load(Ordering::SeqCst)
    });
    d.put(&c).unwrap_err();
    store.heal();
    assert!(a_committed.load(Ordering::SeqCst));
    // The put record is left; a's log has the put's file (other engines
    // see it until the put is settled), dsi does not show it.
    assert_eq!(common::files(&dir.path().join("_dsi/puts")).len(), 1);
    assert_eq!(active_files(dir.path(), "a").len(), 2);
    let other = Dataset::open_local(dir.path()).unwrap();
    assert_eq!(column_ints(&read(&other, TableQuery::new("a")), "n"), [0]);
    assert_eq!(other.count(&TableQuery::new("a")).unwrap(), 1);
    assert_eq!(column_ints(&read(&other, TableQuery::new("b")), "n"), [0]);
    // Young records are left to their writer; old ones are aborted.
    assert_eq!(
        other
            .settle_abandoned_puts(Duration::from_secs(3600))
            .unwrap(),
        0
    );
    assert_eq!(other.settle_abandoned_puts(Duration::ZERO).unwrap(), 1);
    assert!(common::files(&dir.path().join("_dsi/puts")).is_empty());
    for t in ["a", "b"] {
        assert_eq!(
            active_files(dir.path(), t).len(),
            1,
            "{t}: Delta readers see one put"
        );
        assert_eq!(
            column_ints(&read(&other, TableQuery::new(t)), "n"),
            [0],
            "{t}"
        );
    }
}

/// Makes the next commit to table `t` be stored while its writer hears
/// "already exists" (as when a retried conditional PUT finds its own first
/// attempt); the flag tells that it happened.
fn lose_next_log_reply(store: &common::Faulty) -> std::sync::Arc<std::sync::atomic::AtomicBool> {
    let once = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = once.clone();
    store.after_put_when(move |p| {
        p.as_ref().starts_with("t/_delta_log/") && !flag.swap(true, Ordering::SeqCst)
    });
    once
}

#[test]
fn a_lost_reply_to_the_creating_commit_is_not_applied_twice() {
    let dir = tempfile::tempdir().unwrap();
    let (d, store) = common::faulty(dir.path());
    let once = lose_next_log_reply(&store);
    d.put(&Collection::of(ints("t", "n", [0]))).unwrap();
    store.heal();
    assert!(once.load(Ordering::SeqCst));
    let fresh = Dataset::open_local(dir.path()).unwrap();
    assert_eq!(column_ints(&read(&fresh, TableQuery::new("t")), "n"), [0]);
    assert_eq!(active_files(dir.path(), "t").len(), 1);
    assert_eq!(
        common::files(&dir.path().join("t/_delta_log")),
        ["00000000000000000000.json"]
    );
}

#[test]
fn a_lost_reply_is_not_applied_twice() {
    let dir = tempfile::tempdir().unwrap();
    let (d, store) = common::faulty(dir.path());
    d.put(&Collection::of(ints("t", "n", [0]))).unwrap();
    let once = lose_next_log_reply(&store);
    d.put(&Collection::of(ints("t", "n", [1]))).unwrap();
    store.heal();
    assert!(once.load(Ordering::SeqCst));
    let fresh = Dataset::open_local(dir.path()).unwrap();
    assert_eq!(
        column_ints(&read(&fresh, TableQuery::new("t")), "n"),
        [0, 1]
    );
    assert_eq!(active_files(dir.path(), "t").len(), 2);
}

#[test]
fn filters_skip_files_by_the_logs_statistics() {
    let dir = tempfile::tempdir().unwrap();
    let (d, store) = common::faulty(dir.path());
    for i in 0..10 {
        let mut t = runs(i * 10, NOV29 + i);
        t.append_rows(runs(i * 10 + 5, NOV29 + i * 1000)).unwrap();
        d.put(&Collection::of(t)).unwrap();
    }
    let all = read(&d, TableQuery::new("runs"));
    assert_eq!(all.num_rows(), 20);
    let queries = [
        TableQuery::new("runs").filter(Filter::new("n", FilterOp::Eq, 45i64)),
        TableQuery::new("runs").filter(Filter::new("n", FilterOp::Lt, 10i64)),
        TableQuery::new("runs").filter(Filter::new("n", FilterOp::Gt, 90i64)),
        TableQuery::new("runs").filter(Filter::new("n", FilterOp::Ge, 95i64)),
        TableQuery::new("runs").filter(Filter::new("n", FilterOp::Le, 0i64)),
        TableQuery::new("runs").filter(Filter::new("n", FilterOp::Ne, 0i64)),
        TableQuery::new("runs").filter(Filter::new("n", FilterOp::Eq, 4.5f64)),
        TableQuery::new("runs").filter(Filter::new(
            "recorded_at",
            FilterOp::Ge,
            Timestamp::from_micros(NOV29 + 8000),
        )),
    ];
    // The files one read of every file touches.
    store.data_reads.store(0, Ordering::SeqCst);
    let _ = common::faulty_again(dir.path(), &store)
        .get(&Query::Table(TableQuery::new("runs")))
        .unwrap();
    let per_file = store.data_reads.load(Ordering::SeqCst) / 10;
    assert!(per_file >= 1);
    for q in queries {
        let fresh = common::faulty_again(dir.path(), &store);
        store.data_reads.store(0, Ordering::SeqCst);
        let got = read(&fresh, q.clone());
        assert_eq!(got, q.apply(all.clone()).unwrap(), "{q:?}");
        let reads = store.data_reads.load(Ordering::SeqCst);
        let matching_files = got.num_rows().div_ceil(2).max(1);
        if !matches!(q.filters[0].op, FilterOp::Ne)
            && !matches!(q.filters[0].value, Value::Float(_))
        {
            assert!(
                reads <= (matching_files + 1) * per_file.max(3),
                "{q:?}: {reads} reads for {matching_files} files"
            );
        }
    }
    // An unfiltered count reads no data file at all: the log has it.
    let fresh = common::faulty_again(dir.path(), &store);
    store.data_reads.store(0, Ordering::SeqCst);
    assert_eq!(fresh.count(&TableQuery::new("runs")).unwrap(), 20);
    assert_eq!(store.data_reads.load(Ordering::SeqCst), 0);
    // A projection decodes only what was asked for.
    let t = read(&fresh, TableQuery::new("runs").select(["n"]));
    assert_eq!(t.num_columns(), 1);
}

#[test]
fn blobs_are_content_addressed_and_never_partial() {
    let dir = tempfile::tempdir().unwrap();
    let d = Dataset::open_local(dir.path()).unwrap();
    let content = b"blob content".to_vec();
    let r = BlobRef::of_bytes(&content);
    d.put_blob(&r, &mut &content[..]).unwrap();
    let hex = r.sha256_hex();
    assert_eq!(
        common::files(&dir.path().join("blobs")),
        [format!("sha256/{}/{}", &hex[..2], &hex[2..])]
    );
    // A large blob whose content does not match: nothing at all is left.
    let len = 20u64 << 20;
    let claimed = BlobRef::new([7; 32], len);
    let e = d
        .put_blob(
            &claimed,
            &mut dsi_core::conformance::PatternReader::new(len),
        )
        .unwrap_err();
    assert!(matches!(e, Error::Corrupt(_)), "{e}");
    assert_eq!(
        common::files(&dir.path().join("blobs")).len(),
        1,
        "no partial object"
    );
    // Longer than recorded: refused before the end.
    let short = BlobRef::new([8; 32], 10 << 20);
    let e = d
        .put_blob(&short, &mut dsi_core::conformance::PatternReader::new(len))
        .unwrap_err();
    assert!(e.to_string().contains("longer than the recorded"), "{e}");
    assert_eq!(
        common::files(&dir.path().join("blobs")).len(),
        1,
        "no partial object"
    );
    // A damaged (truncated) object is replaced by the next put.
    let path = dir
        .path()
        .join("blobs/sha256")
        .join(&hex[..2])
        .join(&hex[2..]);
    std::fs::write(&path, b"blob").unwrap();
    assert!(!d.has_blob(&r).unwrap());
    assert_eq!(
        d.put_blob(&r, &mut &content[..]).unwrap(),
        dsi_core::BlobPut::Stored
    );
    assert_eq!(std::fs::read(&path).unwrap(), content);
    let ins = d.inspect().unwrap();
    assert_eq!((ins.blobs, ins.blob_bytes), (1, content.len() as u64));
}

#[cfg(not(feature = "sql"))]
#[test]
fn sql_without_the_feature_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = Dataset::open_local(dir.path()).unwrap();
    let e = d.get(&Query::Sql("SELECT 1".into())).unwrap_err();
    assert!(matches!(e, Error::NotSupported { .. }), "{e}");
    assert!(e.to_string().contains("`sql` cargo feature"), "{e}");
}

#[cfg(feature = "sql")]
#[test]
fn sql_reads_the_snapshot_and_refuses_writes() {
    let dir = tempfile::tempdir().unwrap();
    let d = Dataset::open_local(dir.path()).unwrap();
    d.put(&Collection::of(runs(1, NOV29))).unwrap();
    d.put(&Collection::of(runs(2, NOV29 + 86_400_000_000)))
        .unwrap();
    let mut evolved = runs(3, NOV29 + 86_400_000_000);
    evolved
        .add_column(Column::new("host", DataType::Text, vec!["n1".into()]).unwrap())
        .unwrap();
    d.put(&Collection::of(evolved)).unwrap();
    let q = |sql: &str| {
        d.get(&Query::Sql(sql.into()))
            .map(|c| c.tables()[0].clone())
    };
    let t = q("SELECT count(*) AS n, max(recorded_at) AS last FROM runs").unwrap();
    assert_eq!(t.name(), "query");
    assert_eq!(t.get(0, "n"), Some(&Value::Int(3)));
    assert_eq!(
        t.get(0, "last"),
        Some(&Value::Timestamp(Timestamp::from_micros(
            NOV29 + 86_400_000_000
        )))
    );
    let t = q("SELECT n, host FROM runs ORDER BY n").unwrap();
    assert_eq!(
        t.column("host").unwrap().values(),
        [Value::Null, Value::Null, "n1".into()]
    );
    for sql in [
        "DROP TABLE runs",
        "CREATE TABLE x AS SELECT 1",
        "INSERT INTO runs VALUES (1)",
        "SET datafusion.execution.batch_size = 1",
    ] {
        let e = q(sql).unwrap_err();
        assert!(!e.to_string().contains('\n'), "{e}");
        assert!(
            matches!(e, Error::Refused(_)) || e.to_string().contains("SQL"),
            "{sql}: {e}"
        );
    }
    let e = q("SELECT * FROM no_such_table").unwrap_err();
    assert!(e.to_string().contains("no_such_table"), "{e}");
}

#[test]
fn a_put_that_writes_a_checkpoint_compacts_a_table_of_many_small_files() {
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    let prefix = dsi_driver_parquet::object_store::path::Path::from_absolute_path(&root).unwrap();
    let d = dsi_driver_parquet::DatasetBuilder::new(
        std::sync::Arc::new(dsi_driver_parquet::object_store::local::LocalFileSystem::new()),
        url::Url::parse("file:///").unwrap(),
        prefix,
    )
    .with_auto_compact(Some(5))
    .open()
    .unwrap();
    for i in 0..101 {
        d.put(&Collection::of(ints("t", "n", [i]))).unwrap();
    }
    assert!(
        root.join("t/_delta_log/00000000000000000100.checkpoint.parquet")
            .is_file(),
        "a checkpoint every 100 commits"
    );
    let files = d.inspect().unwrap().tables[0].files.unwrap();
    assert!(files < 10, "compacted at the checkpoint: {files} files");
    assert_eq!(
        column_ints(&read(&d, TableQuery::new("t")), "n"),
        (0..101).collect::<Vec<_>>()
    );
}
