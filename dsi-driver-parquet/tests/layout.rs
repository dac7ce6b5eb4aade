//! The dataset layout as other engines see it, and what failures leave
//! behind: Hive paths, one file per put, no temporary files after success
//! or failure, schema evolution, readers ignoring debris, pruning.

mod common;

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::time::Duration;

use dsi_core::{
    BlobRef, Collection, Column, DataType, Driver, Error, Filter, FilterOp, Query, Table,
    TableQuery, Timestamp, Value,
};
use dsi_driver_parquet::Dataset;
use parquet::basic::Compression;
use parquet::file::reader::{FileReader, SerializedFileReader};

const DAY: i64 = 86_400_000_000;
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

#[test]
fn hive_partitions_and_one_ulid_file_per_put() {
    let dir = tempfile::tempdir().unwrap();
    let d = Dataset::open_local(dir.path()).unwrap();
    d.put(&Collection::of(runs(1, NOV29 + 5))).unwrap();
    d.put(&Collection::of(runs(2, NOV29 + 7))).unwrap();
    let data: Vec<String> = common::files(dir.path())
        .into_iter()
        .filter(|f| f.starts_with("runs/"))
        .collect();
    assert_eq!(data.len(), 2, "{data:?}");
    for f in &data {
        let name = f.strip_prefix("runs/date=2026-11-29/").expect("Hive path");
        let id = name.strip_suffix(".parquet").expect(".parquet");
        assert_eq!(id.len(), 26, "a ULID: {id}");
    }
    assert!(data[0] < data[1], "ULIDs order the puts");
    let others: BTreeSet<String> = common::files(dir.path())
        .into_iter()
        .filter(|f| !f.starts_with("runs/"))
        .map(|f| f.split('/').take(2).collect::<Vec<_>>().join("/"))
        .collect();
    assert_eq!(
        others,
        BTreeSet::from(["_dsi/dataset.json".into(), "_dsi/schemas".into()])
    );

    // Standard Parquet: zstd, statistics, the table readable without dsi.
    let file = std::fs::File::open(dir.path().join(&data[0])).unwrap();
    let reader = SerializedFileReader::new(file).unwrap();
    let rg = reader.metadata().row_group(0);
    assert_eq!(rg.num_rows(), 1);
    for c in rg.columns() {
        assert!(matches!(c.compression(), Compression::ZSTD(_)), "zstd");
        assert!(c.statistics().is_some(), "statistics");
    }
    let fields: Vec<String> = reader
        .metadata()
        .file_metadata()
        .schema_descr()
        .columns()
        .iter()
        .map(|c| c.path().string())
        .collect();
    assert_eq!(fields, ["n", "recorded_at"]);
}

#[test]
fn rows_go_to_the_day_they_were_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let d = Dataset::open_local(dir.path()).unwrap();
    let mut t = runs(1, NOV29 + DAY);
    t.append_rows(runs(2, NOV29)).unwrap();
    t.append_rows(runs(3, NOV29 + DAY + 1)).unwrap();
    d.put(&Collection::of(t)).unwrap();
    let data: Vec<String> = common::files(dir.path())
        .into_iter()
        .filter(|f| f.starts_with("runs/"))
        .collect();
    assert_eq!(data.len(), 2, "{data:?}");
    assert!(data[0].starts_with("runs/date=2026-11-29/"));
    assert!(data[1].starts_with("runs/date=2026-11-30/"));
    let stem = |f: &str| f.rsplit('/').next().unwrap().to_owned();
    assert_eq!(stem(&data[0]), stem(&data[1]), "one put, one ULID");
    assert_eq!(
        common::files(&dir.path().join("_dsi/puts")).len(),
        1,
        "the commit record stays until a later put retires it"
    );
    assert!(
        !common::files(dir.path())
            .iter()
            .any(|f| f.ends_with(".tmp"))
    );
    assert_eq!(d.roll_forward(Duration::ZERO).unwrap(), 1);
    assert!(common::files(&dir.path().join("_dsi/puts")).is_empty());
    // Read back grouped by day, in put order within a day.
    assert_eq!(
        column_ints(&read(&d, TableQuery::new("runs")), "n"),
        [2, 1, 3]
    );
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
            "%2E.%2Fescape".into(),
            "a%2Fb".into(),
            "%2Ehidden".into(),
            "x%3D1".into(),
            "100%25%20ünï".into(),
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
fn schema_evolution_unions_columns_with_nulls() {
    let dir = tempfile::tempdir().unwrap();
    let d = Dataset::open_local(dir.path()).unwrap();
    d.put(&Collection::of(ints("t", "a", [1]))).unwrap();
    let mut two = ints("t", "b", [20]);
    two.add_column(Column::new("c", DataType::Text, vec!["x".into()]).unwrap())
        .unwrap();
    d.put(&Collection::of(two)).unwrap();
    d.put(&Collection::of(ints("t", "a", [3]))).unwrap();
    let t = read(&d, TableQuery::new("t"));
    assert_eq!(
        t.schema(),
        [
            ("a", DataType::Int),
            ("b", DataType::Int),
            ("c", DataType::Text)
        ]
    );
    assert_eq!(
        t.column("a").unwrap().values(),
        [Value::Int(1), Value::Null, Value::Int(3)]
    );
    assert_eq!(
        t.column("c").unwrap().values(),
        [Value::Null, "x".into(), Value::Null]
    );
    // Filters on a column older files lack.
    let q = TableQuery::new("t").filter(Filter::new("b", FilterOp::Ge, 0i64));
    assert_eq!(read(&d, q.clone()).num_rows(), 1);
    assert_eq!(read(&d, q.clone()), q.apply(t.clone()).unwrap());
    let ins = d.inspect().unwrap();
    let info = &ins.tables[0];
    assert_eq!((info.rows, info.files), (3, Some(3)));
    let cols: Vec<(&str, DataType)> = info
        .columns
        .iter()
        .map(|c| (c.name.as_str(), c.data_type))
        .collect();
    assert_eq!(
        cols,
        [
            ("a", DataType::Int),
            ("b", DataType::Int),
            ("c", DataType::Text)
        ]
    );
    // A type change is refused, naming the column; nothing is written.
    let before = common::files(dir.path());
    let e = d
        .put(&Collection::of(
            Table::from_columns(
                "t",
                vec![Column::new("b", DataType::Float, vec![Value::Float(1.0)]).unwrap()],
            )
            .unwrap(),
        ))
        .unwrap_err();
    assert!(e.to_string().contains("column 'b'"), "{e}");
    assert_eq!(common::files(dir.path()), before);
}

#[test]
fn readers_ignore_debris_and_files_of_other_tools() {
    let dir = tempfile::tempdir().unwrap();
    let d = Dataset::open_local(dir.path()).unwrap();
    d.put(&Collection::of(runs(1, NOV29))).unwrap();
    let part = dir.path().join("runs/date=2026-11-29");
    std::fs::write(part.join(".01JDEADBEEF.parquet.tmp"), b"half a file").unwrap();
    std::fs::write(part.join("notes.txt"), b"not data").unwrap();
    std::fs::write(dir.path().join("runs/_SUCCESS"), b"").unwrap();
    std::fs::create_dir_all(dir.path().join("runs/_temporary/0")).unwrap();
    std::fs::write(
        dir.path().join("runs/_temporary/0/part.parquet"),
        b"spark debris",
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join(".trash")).unwrap();
    std::fs::write(dir.path().join(".trash/x.parquet"), b"junk").unwrap();
    // A put leaves temporary files of others alone and still works.
    d.put(&Collection::of(runs(2, NOV29))).unwrap();
    assert_eq!(column_ints(&read(&d, TableQuery::new("runs")), "n"), [1, 2]);
    let ins = d.inspect().unwrap();
    assert_eq!(ins.tables.len(), 1);
    assert_eq!(ins.tables[0].files, Some(2));
}

#[test]
fn a_failed_multi_table_put_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (d, store) = common::faulty(dir.path());
    d.put(&Collection::of(ints("a", "n", [0]))).unwrap();
    // Schema records are written first (a put's column types are claimed
    // before its data appears) and may stay; data and temporary files may not.
    let data = |root: &std::path::Path| -> Vec<String> {
        common::files(root)
            .into_iter()
            .filter(|f| !f.starts_with("_dsi/schemas/"))
            .collect()
    };
    let before = data(dir.path());
    let mut c = Collection::new();
    c.push(ints("a", "n", [1])).unwrap();
    c.push(ints("b", "n", [1])).unwrap();

    // The second data file cannot be written.
    store.fail_when(|op, p| op == "put" && p.as_ref().starts_with("b/"));
    let e = d.put(&c).unwrap_err();
    assert!(!e.to_string().contains('\n'), "{e}");
    assert!(e.to_string().contains("injected failure"), "{e}");
    assert_eq!(data(dir.path()), before, "no debris");

    // The commit record cannot be written.
    store.fail_when(|op, p| op == "put" && p.as_ref().starts_with("_dsi/puts/"));
    d.put(&c).unwrap_err();
    store.heal();
    assert_eq!(data(dir.path()), before, "no debris");
    assert_eq!(column_ints(&read(&d, TableQuery::new("a")), "n"), [0]);
    assert!(matches!(
        d.get(&Query::Table(TableQuery::new("b"))),
        Err(Error::NotFound { .. })
    ));
    let empty = Table::new("nocolumns").unwrap();
    d.put(&Collection::of(empty)).unwrap_err();
    assert_eq!(data(dir.path()), before, "no debris");
}

#[test]
fn a_put_interrupted_after_its_commit_is_whole_for_dsi_and_rolled_forward() {
    let dir = tempfile::tempdir().unwrap();
    let (d, store) = common::faulty(dir.path());
    let mut c = Collection::new();
    c.push(ints("a", "n", [1])).unwrap();
    c.push(ints("b", "n", [2])).unwrap();
    // The rename of b's file fails after the commit record and a's rename:
    // the put is committed, half renamed.
    store.fail_when(|op, p| op == "rename" && p.as_ref().starts_with("b/"));
    d.put(&c).unwrap();
    store.heal();
    let published = |t: &str| {
        common::files(dir.path())
            .into_iter()
            .filter(|f| f.starts_with(&format!("{t}/")) && f.ends_with(".parquet"))
            .count()
    };
    assert_eq!(
        (published("a"), published("b")),
        (1, 0),
        "other engines see the renamed part only"
    );
    assert_eq!(common::files(&dir.path().join("_dsi/puts")).len(), 1);
    // dsi sees the whole put, in every table.
    assert_eq!(column_ints(&read(&d, TableQuery::new("a")), "n"), [1]);
    assert_eq!(column_ints(&read(&d, TableQuery::new("b")), "n"), [2]);
    let other = Dataset::open_local(dir.path()).unwrap();
    assert_eq!(column_ints(&read(&other, TableQuery::new("b")), "n"), [2]);
    // Young records are left to their writer; old ones are finished.
    assert_eq!(other.roll_forward(Duration::from_secs(3600)).unwrap(), 0);
    assert_eq!(other.roll_forward(Duration::ZERO).unwrap(), 1);
    assert_eq!((published("a"), published("b")), (1, 1));
    assert!(common::files(&dir.path().join("_dsi/puts")).is_empty());
    assert!(
        !common::files(dir.path())
            .iter()
            .any(|f| f.ends_with(".tmp"))
    );
    assert_eq!(column_ints(&read(&other, TableQuery::new("a")), "n"), [1]);
}

#[test]
fn filters_skip_files_by_their_statistics() {
    let dir = tempfile::tempdir().unwrap();
    let (d, store) = common::faulty(dir.path());
    for i in 0..10 {
        let mut t = runs(i * 10, NOV29 + i);
        t.append_rows(runs(i * 10 + 5, NOV29 + i)).unwrap();
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
            Timestamp::from_micros(NOV29 + 8),
        )),
    ];
    for q in queries {
        store.data_reads.store(0, Ordering::SeqCst);
        let got = read(&d, q.clone());
        assert_eq!(got, q.apply(all.clone()).unwrap(), "{q:?}");
        let reads = store.data_reads.load(Ordering::SeqCst);
        let matching_files = got.num_rows().div_ceil(2).max(1);
        if !matches!(q.filters[0].op, FilterOp::Ne)
            && !matches!(q.filters[0].value, Value::Float(_))
        {
            assert!(reads <= matching_files + 1, "{q:?}: read {reads} files");
        }
    }
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
fn sql_reads_the_partitions_and_refuses_writes() {
    let dir = tempfile::tempdir().unwrap();
    let d = Dataset::open_local(dir.path()).unwrap();
    d.put(&Collection::of(runs(1, NOV29))).unwrap();
    d.put(&Collection::of(runs(2, NOV29 + DAY))).unwrap();
    let mut evolved = runs(3, NOV29 + DAY);
    evolved
        .add_column(Column::new("host", DataType::Text, vec!["n1".into()]).unwrap())
        .unwrap();
    d.put(&Collection::of(evolved)).unwrap();
    let q = |sql: &str| {
        d.get(&Query::Sql(sql.into()))
            .map(|c| c.tables()[0].clone())
    };
    let t = q("SELECT date, count(*) AS n, max(recorded_at) AS last FROM runs GROUP BY date ORDER BY date").unwrap();
    assert_eq!(t.name(), "query");
    assert_eq!(t.get(0, "date"), Some(&Value::Text("2026-11-29".into())));
    assert_eq!(t.get(1, "n"), Some(&Value::Int(2)));
    assert_eq!(
        t.get(1, "last"),
        Some(&Value::Timestamp(Timestamp::from_micros(NOV29 + DAY)))
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
