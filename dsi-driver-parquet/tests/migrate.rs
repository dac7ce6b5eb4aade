//! `migrate`: a dataset of the first layout (one Parquet file per put under
//! Hive `date=` directories, commit records, `%XX` table directories)
//! becomes Delta tables from its committed puts only, without re-encoding a
//! data file; before that it is refused with the hint.

use std::path::Path;
use std::sync::Arc;

use dsi_core::{
    Access, BlobRef, Collection, Column, DataType, Driver, Error, Query, Table, TableQuery, Value,
};
use dsi_driver_parquet::{CompactOptions, Dataset, migrate_local};
use parquet::arrow::ArrowWriter;

/// A first-layout data file, as the first layout wrote it (Arrow types of
/// dsi-core as they are: a blob's length unsigned).
fn write_file(path: &Path, table: &Table) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let batch = dsi_core::arrow::to_record_batch(table).unwrap();
    let mut w = ArrowWriter::try_new(
        std::fs::File::create(path).unwrap(),
        Arc::new(batch.schema().as_ref().clone()),
        None,
    )
    .unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

fn run(n: i64, extra: bool) -> Table {
    let mut columns = vec![
        Column::new("n", DataType::Int, vec![Value::Int(n)]).unwrap(),
        Column::new(
            "artifact",
            DataType::Blob,
            vec![Value::Blob(BlobRef::of_bytes(&n.to_le_bytes()))],
        )
        .unwrap(),
    ];
    if extra {
        columns.push(
            Column::new("extra", DataType::Text, vec![Value::Text(format!("x{n}"))]).unwrap(),
        );
    }
    Table::from_columns("runs", columns).unwrap()
}

fn ints(d: &dyn Driver, table: &str) -> Vec<i64> {
    let t = d.get(&Query::Table(TableQuery::new(table))).unwrap();
    t.tables()[0]
        .column("n")
        .unwrap()
        .values()
        .iter()
        .map(|v| v.as_int().unwrap())
        .collect()
}

#[test]
fn the_first_layout_is_migrated_from_its_committed_puts() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("_dsi/puts")).unwrap();
    std::fs::create_dir_all(root.join("_dsi/schemas/runs")).unwrap();
    std::fs::write(
        root.join("_dsi/dataset.json"),
        r#"{"format":"dsi-parquet-dataset","version":1}"#,
    )
    .unwrap();
    std::fs::write(root.join("_dsi/schemas/runs/x.json"), "{}").unwrap();
    let id = |k: u8| format!("01AAAAAAAAAAAAAAAAAAAAAAA{}", char::from(b'0' + k));
    write_file(
        &root.join(format!("runs/date=2026-11-29/{}.parquet", id(1))),
        &run(1, false),
    );
    write_file(
        &root.join(format!("runs/date=2026-11-30/{}.parquet", id(2))),
        &run(2, true),
    );
    // Committed, not renamed yet: in the dataset.
    let tmp3 = format!("runs/date=2026-11-30/.{}.parquet.tmp", id(3));
    write_file(&root.join(&tmp3), &run(3, true));
    std::fs::write(
        root.join(format!("_dsi/puts/{}.json", id(3))),
        format!(
            r#"{{"version":1,"files":[{{"temporary":"{tmp3}","published":"runs/date=2026-11-30/{}.parquet"}}]}}"#,
            id(3)
        ),
    )
    .unwrap();
    // Never committed: not in the dataset.
    write_file(
        &root.join(format!("runs/date=2026-11-30/.{}.parquet.tmp", id(4))),
        &run(4, true),
    );
    // A table whose first-layout directory had a `%XX` escape.
    let mut spaced = run(5, false);
    spaced.set_name("a b").unwrap();
    write_file(
        &root.join(format!("a%20b/date=2026-11-30/{}.parquet", id(5))),
        &spaced,
    );

    for access in [Access::ReadOnly, Access::ReadWrite] {
        let e = Dataset::open_local_with(root, access).unwrap_err();
        assert!(matches!(e, Error::IncompatibleStore(_)), "{e}");
        assert!(e.to_string().contains("dsi migrate"), "{e}");
    }
    let data_before =
        std::fs::read(root.join(format!("runs/date=2026-11-29/{}.parquet", id(1)))).unwrap();

    let report = migrate_local(root).unwrap();
    assert!(!report.already_current);
    let runs = report.tables.iter().find(|t| t.table == "runs").unwrap();
    assert_eq!((runs.files, runs.rows), (3, 3), "{report:?}");
    assert_eq!(runs.rolled_forward, 1, "{report:?}");
    assert_eq!(runs.uncommitted_ignored, 1, "{report:?}");
    assert_eq!(
        std::fs::read(root.join(format!("runs/date=2026-11-29/{}.parquet", id(1)))).unwrap(),
        data_before,
        "data files are not rewritten"
    );
    assert!(
        root.join("runs/_delta_log/00000000000000000000.json")
            .is_file()
    );
    assert!(!root.join("_dsi/schemas").join("runs/x.json").exists());

    let d = Dataset::open_local_with(root, Access::ReadOnly).unwrap();
    assert_eq!(ints(&d, "runs"), [1, 2, 3], "committed puts, in put order");
    let t = d.get(&Query::Table(TableQuery::new("runs"))).unwrap();
    let t = &t.tables()[0];
    assert!(t.column("date").is_none(), "Hive directories are no column");
    assert_eq!(t.column("extra").unwrap().values()[0], Value::Null);
    assert_eq!(
        t.get(0, "artifact"),
        Some(&Value::Blob(BlobRef::of_bytes(&1i64.to_le_bytes())))
    );
    assert_eq!(d.count(&TableQuery::new("runs")).unwrap(), 3);
    assert_eq!(ints(&d, "a b"), [5]);
    assert!(
        root.join("a+20b/_delta_log").is_dir(),
        "moved to its directory name now"
    );

    // Again: nothing to do. Then the dataset is an ordinary one.
    assert!(migrate_local(root).unwrap().already_current);
    let w = Dataset::open_local(root).unwrap();
    w.put(&Collection::of(run(6, true))).unwrap();
    assert_eq!(ints(&w, "runs"), [1, 2, 3, 6]);
    let report = w
        .compact(&CompactOptions::default().unsafe_retention(std::time::Duration::ZERO))
        .unwrap();
    assert_eq!(
        report
            .tables
            .iter()
            .find(|t| t.table == "runs")
            .unwrap()
            .files_after,
        1
    );
    assert_eq!(ints(&w, "runs"), [1, 2, 3, 6]);
}
