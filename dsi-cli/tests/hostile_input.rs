//! Regression tests for hostile input found by `cargo xtask reliability`:
//! CSV rows ingested into the records' table, and SQL that SQLite counts as
//! read-only although it writes (ATTACH creates the file it names), and the
//! robustness cases of issue 12 point 8: device and foreign stores, reserved
//! table names, remote-helper URLs, oversized Runfiles and CSV fields,
//! out-of-range ages and paths that are not UTF-8.

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

#[test]
fn bad_paths_sizes_and_names_are_one_line_errors_and_touch_nothing() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert!(run(d, &["collect", "hostname"]).status.success());
    let before = store_counts(d);
    let one_line = |out: &std::process::Output, code: i32, want: &str| {
        let err = stderr(out);
        assert_eq!(out.status.code(), Some(code), "{err}");
        assert!(err.starts_with("error: ") && err.contains(want), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    };

    // An age that overflows a date is an error, not a panic.
    let out = run(d, &["list", "--since", "99999999999d"]);
    one_line(&out, 65, "out of range");

    // A device is not a store, and nothing is created next to it.
    let _ = std::fs::remove_file("/dev/null-journal");
    let out = run(d, &["--store", "/dev/null", "list"]);
    one_line(&out, 2, "not a regular file");
    assert!(!std::path::Path::new("/dev/null-journal").exists());

    // Reserved table names are refused whatever their case.
    std::fs::write(d.join("x.csv"), "a,b\n1,2\n").unwrap();
    for table in ["_dsi_blobs", "_DSI_BLOBS", "_Dsi_x"] {
        let out = run(d, &["ingest", "csv", "x.csv", "--table", table]);
        one_line(&out, 65, "is reserved");
    }

    // A CSV field is bounded while it is read: /dev/zero ends, quickly.
    let out = dsi(d)
        .args(["ingest", "csv", "/dev/zero", "--table", "z"])
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap();
    one_line(&out, 65, "longer than the limit");

    // A 20 MB Runfile is refused by its size before it is parsed.
    let mut big = b"FROM 127.0.0.1:5000/x@sha256:".to_vec();
    big.extend(std::iter::repeat_n(b'a', 64));
    big.push(b'\n');
    big.extend(std::iter::repeat_n(&b"RUN true\n"[..], 2_300_000).flatten());
    std::fs::write(d.join("big.Runfile"), &big).unwrap();
    let out = run(d, &["runfile", "check", "big.Runfile"]);
    one_line(&out, 65, "larger than 1024 KiB");
    let out = run(d, &["record", "big.Runfile"]);
    one_line(&out, 65, "larger than 1024 KiB");

    // Remote-helper transports run programs or wait on descriptors: refused.
    for url in ["fd::3", "ext::sh -c id"] {
        for cmd in ["push", "pull"] {
            let mut args = vec![cmd, "--remote", url];
            if cmd == "push" {
                args.push("HEAD");
            }
            let out = dsi(d)
                .args(&args)
                .timeout(std::time::Duration::from_secs(60))
                .output()
                .unwrap();
            let err = stderr(&out);
            assert!(!out.status.success(), "{cmd} {url}: {err}");
            assert!(err.lines().count() <= 2, "{err}");
            if cmd == "pull" {
                assert!(err.contains("is not allowed"), "{err}");
            }
        }
    }

    // Paths that are not UTF-8 are refused, naming the argument, instead of
    // being mangled into another directory.
    let bad = OsStr::from_bytes(b"not-\xff-utf8");
    for (args, name) in [
        (vec!["record", "--repo"], "--repo <DIR>"),
        (vec!["checkout", "ZZZZ"], "<DIR>"),
        (vec!["replay", "ZZZZ", "--ch-storage"], "--ch-storage <DIR>"),
        (vec!["runfile", "check"], "<FILE>"),
    ] {
        let mut c = dsi(d);
        c.args(&args).arg(bad);
        if args[0] == "record" {
            c.arg("Runfile");
        }
        let out = c.output().unwrap();
        one_line(
            &out,
            2,
            &format!("{name}: 'not-\u{fffd}-utf8' is not valid UTF-8"),
        );
    }
    let out = dsi(d)
        .env("DSI_STORE", OsStr::from_bytes(b"s\xff.db"))
        .arg("list")
        .output()
        .unwrap();
    one_line(&out, 2, "DSI_STORE is not valid UTF-8");
    let names: Vec<_> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_str().is_none())
        .collect();
    assert!(names.is_empty(), "created {names:?}");
    assert_eq!(store_counts(d), before);
}
