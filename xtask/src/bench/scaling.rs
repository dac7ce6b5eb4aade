//! Section "Scaling with store size": `dsi list`, a filtered `dsi list` and
//! a SQL count over `runs` tables of 10,000, 100,000 and 1,000,000 rows in
//! each driver (SQLite, local Parquet dataset, S3 on loopback).
//!
//! The stores are made once under `target/bench-data/scaling/` (S3: under
//! `bench-scaling/` in the test bucket, the prefix remembered in a file
//! there) by the `gen_runs` example of `dsi-cli`, which puts batches of
//! 10,000 [`RunRow`]s with the real schema through each driver's `put` (see
//! its documentation for the content), and are reused while `SELECT
//! count(*) FROM runs` finds the expected rows. The S3 server keeps its data
//! only while it runs: a restart of the test services means new S3 stores.
//! S3 stops at 100,000 rows when putting 100,000 took over 30 s (a million
//! would take over five minutes on loopback); `--quick` stops every driver
//! at 100,000.
//!
//! [`RunRow`]: https://docs.rs/dsi-plugins-charliecloud (records::RunRow)

use std::fmt::Write as _;
use std::fs;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::bail;

use super::fmt::{fmt_count, fmt_kib, fmt_mb, fmt_range, fmt_secs, table};
use super::measure::{Prepared, alternate_prepared, copy_command, max_rss, measure, secs_stats};
use super::stores::{S3, Store, disk_bytes, dsi, file_count, remove};
use super::{Plan, Services, bench_data, example};
use crate::json;
use crate::util::run as sh;

/// Store sizes, in rows.
const SIZES: [u64; 3] = [10_000, 100_000, 1_000_000];
/// The host and date of the filtered listing (about 2 % of the rows).
const HOST: &str = "cn0102";
const SINCE: &str = "2026-11-22";
/// S3 goes to a million rows only if 100,000 took at most this long to put.
const S3_100K_LIMIT_SECS: f64 = 30.0;

fn size_name(rows: u64) -> &'static str {
    match rows {
        10_000 => "10k",
        100_000 => "100k",
        _ => "1m",
    }
}

fn dir() -> PathBuf {
    bench_data().join("scaling")
}

/// Rows in a store's `runs` (`None` when it cannot be read).
fn count(store: &Store, s3: &S3) -> Option<u64> {
    let out = measure(
        &dsi(
            store,
            s3,
            &["--json", "query", "SELECT count(*) AS n FROM runs"],
        ),
        false,
    )
    .ok()?;
    let v = json::parse(String::from_utf8_lossy(&out.stdout).trim()).ok()?;
    let n = v.as_array()?.first()?.get("n")?.as_f64()?;
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Some(n as u64)
}

/// A generated store and how long its generation took.
struct Made {
    store: Store,
    rows: u64,
    /// Seconds `gen_runs` took (this run or the one that made it).
    gen_secs: Option<f64>,
    /// Local path (not for S3).
    path: Option<PathBuf>,
}

/// The store of `rows` rows in `driver`, made if missing or incomplete.
fn ensure(driver: &'static str, rows: u64, s3: &S3) -> anyhow::Result<Made> {
    let name = size_name(rows);
    let (store, path, prefix_file) = match driver {
        "sqlite" => {
            let p = dir().join(format!("runs-{name}.db"));
            (Store::new(driver, p.display().to_string()), Some(p), None)
        }
        "parquet" => {
            let p = dir().join(format!("runs-{name}-parquet"));
            (Store::new(driver, p.display().to_string()), Some(p), None)
        }
        _ => {
            let f = dir().join(format!("s3-{name}.prefix"));
            let prefix = fs::read_to_string(&f)
                .map(|s| s.trim().to_owned())
                .unwrap_or_default();
            let url = if prefix.is_empty() {
                String::new()
            } else {
                s3.url(&prefix)
            };
            (Store::new(driver, url), None, Some(f))
        }
    };
    let gen_file = dir().join(format!("{driver}-{name}.secs"));
    if !store.store.is_empty() && count(&store, s3) == Some(rows) {
        let gen_secs = fs::read_to_string(&gen_file)
            .ok()
            .and_then(|s| s.trim().parse().ok());
        return Ok(Made {
            store,
            rows,
            gen_secs,
            path,
        });
    }
    // Make it anew: local stores removed, S3 under a new prefix.
    let store = match (&path, &prefix_file) {
        (Some(p), _) => {
            remove(p)?;
            store
        }
        (None, Some(f)) => {
            let stamp = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let prefix = format!("bench-scaling/runs-{name}-{stamp}");
            fs::write(f, &prefix)?;
            Store::new(driver, s3.url(&prefix))
        }
        (None, None) => unreachable!("every store has a path or a prefix file"),
    };
    eprintln!(
        "xtask: bench: generating {} runs rows in {driver} {}",
        fmt_count(rows),
        store.store
    );
    let mut cmd = std::process::Command::new(example("gen_runs"));
    cmd.args(["--driver", driver, "--store", &store.store])
        .args(["--rows", &rows.to_string()]);
    if driver == "s3" {
        cmd.envs(&s3.env);
    }
    let t0 = Instant::now();
    sh(&mut cmd)?;
    let secs = t0.elapsed().as_secs_f64();
    if count(&store, s3) != Some(rows) {
        bail!("{}: gen_runs did not leave {rows} rows", store.store);
    }
    fs::write(&gen_file, format!("{secs:.1}"))?;
    Ok(Made {
        store,
        rows,
        gen_secs: Some(secs),
        path,
    })
}

/// The three commands timed on each store.
const QUERIES: [(&str, &str); 3] = [
    ("list", "`dsi list` (newest 20)"),
    (
        "filtered",
        "`dsi list --host cn0102 --since 2026-11-22` (newest 20 of ~2 %)",
    ),
    (
        "count",
        "`dsi query \"SELECT count(*) FROM runs WHERE exit_code <> 0\"`",
    ),
];

fn args(query: &str) -> Vec<&'static str> {
    match query {
        "list" => vec!["list"],
        "filtered" => vec!["list", "--host", HOST, "--since", SINCE],
        _ => vec!["query", "SELECT count(*) FROM runs WHERE exit_code <> 0"],
    }
}

pub(super) fn section(plan: Plan, services: &mut Services) -> anyhow::Result<String> {
    let s3 = super::stores::s3(services)?;
    fs::create_dir_all(dir())?;
    let sizes: &[u64] = if plan.quick { &SIZES[..2] } else { &SIZES };
    let mut made: Vec<Made> = Vec::new();
    let mut s3_note = String::new();
    for &rows in sizes {
        for driver in ["sqlite", "parquet", "s3"] {
            if driver == "s3" && rows > 100_000 {
                let put_100k = made
                    .iter()
                    .find(|m| m.store.driver == "s3" && m.rows == 100_000)
                    .and_then(|m| m.gen_secs);
                match put_100k {
                    Some(s) if s > S3_100K_LIMIT_SECS => {
                        s3_note = format!(
                            " S3 stops at 100,000 rows: putting them took {} on loopback, so \
                             a million would take over five minutes.",
                            fmt_secs(s)
                        );
                        continue;
                    }
                    None => {
                        s3_note = " S3 stops at 100,000 rows: the time to put them is unknown \
                                   (remove target/bench-data/scaling to measure it)."
                            .into();
                        continue;
                    }
                    Some(_) => {}
                }
            }
            made.push(ensure(driver, rows, &s3)?);
        }
    }

    // Time every command on every store of a size, alternated.
    struct Timed {
        size: u64,
        driver: &'static str,
        query: &'static str,
        samples: Vec<super::measure::Sample>,
    }
    let mut results: Vec<Timed> = Vec::new();
    for &rows in sizes {
        let stores: Vec<&Made> = made.iter().filter(|m| m.rows == rows).collect();
        let mut keys = Vec::new();
        let mut cmds = Vec::new();
        for (q, _) in QUERIES {
            for m in &stores {
                keys.push((m.store.driver, q));
                cmds.push(dsi(&m.store, &s3, &args(q)));
            }
        }
        let mut peers: Vec<Prepared<'_>> = cmds
            .iter()
            .map(|c| -> Prepared<'_> { Box::new(move || Ok(vec![copy_command(c)])) })
            .collect();
        let runs = match (plan.quick, rows) {
            (true, _) => 2,
            (false, 1_000_000) => 3,
            (false, 100_000) => 5,
            (false, _) => 10,
        };
        eprintln!("xtask: bench: scaling, {} rows", fmt_count(rows));
        let timed = alternate_prepared(&mut peers, runs, &[], 0, true)?;
        for ((driver, query), samples) in keys.into_iter().zip(timed) {
            results.push(Timed {
                size: rows,
                driver,
                query,
                samples,
            });
        }
    }

    let mut out = String::from("## Scaling with store size\n\n");
    let _ = writeln!(
        out,
        "`runs` tables of {} rows in each driver, made once by the `gen_runs` example \
         (dsi-cli): realistic rows with the real schema (ULID run ids, 90 days from \
         2026-09-01, 4 hosts, 60 % records and 40 % replays of which ~5 % failed, a \
         ~2 KB `kernel_info` JSON per row) put through the driver's own `put` in batches \
         of 10,000 rows — the files are what dsi writes, but a store filled by `dsi \
         record` has one put per row (for Parquet and S3: one file per record). Each \
         size's 3 × {} commands are alternated round by round after one untimed \
         warm-up each (page cache warm), every run under `/usr/bin/time` (peak RSS is \
         the maximum over runs; it adds about 1 ms to each). × = median / median of \
         the same command on the store ten times smaller.{s3_note}\n",
        sizes
            .iter()
            .map(|r| fmt_count(*r))
            .collect::<Vec<_>>()
            .join(", "),
        made.iter().filter(|m| m.rows == sizes[0]).count(),
    );
    out.push_str("### The stores\n\n");
    let store_rows: Vec<Vec<String>> = made
        .iter()
        .map(|m| {
            let (bytes, files) = m.path.as_ref().map_or(("—".into(), "—".into()), |p| {
                (fmt_mb(disk_bytes(p)), fmt_count(file_count(p)))
            });
            #[allow(clippy::cast_precision_loss)]
            let rate = m
                .gen_secs
                .map_or_else(|| "—".into(), |s| super::fmt::fmt_rate(m.rows as f64 / s));
            vec![
                m.store.label().to_owned(),
                fmt_count(m.rows),
                bytes,
                files,
                m.gen_secs.map_or_else(|| "—".into(), fmt_secs),
                rate,
            ]
        })
        .collect();
    out.push_str(&table(
        &[
            "Driver",
            "Rows",
            "Size on disk",
            "Files",
            "`gen_runs` time",
            "Rows/s put",
        ],
        1,
        &store_rows,
    ));
    let _ = writeln!(
        out,
        "\nSizes and file counts of the S3 stores are those of the Parquet ones (same \
         writer); `gen_runs` time includes generating the rows.\n"
    );
    for (q, title) in QUERIES {
        let _ = writeln!(out, "### {title}\n");
        let mut rows = Vec::new();
        for driver in ["sqlite", "parquet", "s3"] {
            let mut previous: Option<f64> = None;
            for r in results
                .iter()
                .filter(|r| r.query == q && r.driver == driver)
            {
                let s = secs_stats(&r.samples);
                let label = Store::new(driver, "").label();
                rows.push(vec![
                    label.to_owned(),
                    fmt_count(r.size),
                    s.n.to_string(),
                    fmt_secs(s.median),
                    fmt_range(s.min, s.max),
                    previous.map_or_else(|| "—".into(), |p| format!("{:.1}", s.median / p)),
                    fmt_kib(max_rss(&r.samples)),
                ]);
                previous = Some(s.median);
            }
        }
        out.push_str(&table(
            &[
                "Driver",
                "Rows",
                "n",
                "Median",
                "Min – max",
                "×",
                "Peak RSS",
            ],
            2,
            &rows,
        ));
        out.push('\n');
    }
    Ok(out)
}
