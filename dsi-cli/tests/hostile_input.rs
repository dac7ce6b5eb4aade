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
                 replay); write into another table\n"
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
    assert!(run(d, &["collect", "hostname"]).status.success());
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

#[test]
fn a_query_that_does_not_parse_or_plan_is_invalid_input_on_every_driver() {
    // Regression: syntax errors, unknown tables and stacked statements were
    // reported as store errors (exit 74), as if the store were broken.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for driver in ["sqlite", "parquet"] {
        let out = run(d, &["--driver", driver, "collect", "hostname"]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    for driver in ["sqlite", "parquet"] {
        for sql in ["SELEC 1", "SELECT * FROM nope", "SELECT 1; SELECT 2"] {
            let out = run(d, &["--driver", driver, "query", sql]);
            assert_eq!(
                out.status.code(),
                Some(65),
                "{driver} {sql}: {}",
                stderr(&out)
            );
            let err = stderr(&out);
            assert!(
                err.starts_with("error: SQL query: ") && err.lines().count() == 1,
                "{driver} {sql}: {err}"
            );
        }
    }
}
