//! Regression tests for hostile input found by `cargo xtask reliability`:
//! CSV rows ingested into the records' table, and SQL that SQLite counts as
//! read-only although it writes (ATTACH creates the file it names).

mod common;

use common::*;

#[test]
fn ingesting_into_the_runs_table_is_refused_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_runfile(d, "CMD [\"/bin/true\"]\n");
    assert!(run(d, &["record", "Runfile"]).status.success());
    std::fs::write(d.join("rows.csv"), "id,name\n1,x\n").unwrap();
    let before = store_counts(d);
    for table in ["runs", "RUNS"] {
        let out = run(d, &["ingest", "csv", "rows.csv", "--table", table]);
        assert_eq!(out.status.code(), Some(65), "{}", stderr(&out));
        assert_eq!(
            stderr(&out),
            format!(
                "error: table '{table}' holds dsi's records (written by dsi record and dsi \
                 replay); ingest into another table\n"
            )
        );
    }
    assert_eq!(store_counts(d), before);
    assert!(run(d, &["fsck"]).status.success());
}

#[test]
fn a_query_cannot_attach_a_database_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert!(run(d, &["list"]).status.success());
    let target = d.join("attached.db");
    let sql = format!("ATTACH DATABASE '{}' AS x", target.display());
    let out = run(d, &["query", &sql]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).starts_with("error: ") && stderr(&out).lines().count() == 1,
        "{}",
        stderr(&out)
    );
    assert!(!target.exists(), "ATTACH created {}", target.display());
}
