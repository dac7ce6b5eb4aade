//! Section "Bulk CSV: ingest, filtered count, read back": a deterministic
//! 100,000-row × 10-column CSV (`target/bench-data/bulk/bulk-100k.csv`,
//! generated once: integers, floats and text) through `dsi ingest csv`
//! into SQLite, a local Parquet dataset and S3 on loopback, next to the
//! Python DSI's `Csv` reader into its `Sqlite` back-end and the floors —
//! Python `sqlite3` `executemany` into a typed table, and pyarrow's
//! `read_csv` + `write_table` (zstd). Then, on the stores just written, a
//! filtered count (`SELECT count(*) FROM t WHERE c3 > 0.5`) and a full read
//! back (`dsi --json query "SELECT * FROM t"` to /dev/null; the floors read
//! into memory). Every list of peers is alternated round by round; peak RSS
//! from one extra run each.

use std::fmt::Write as _;
use std::fs;
use std::io::{BufWriter, Write as _};
use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, bail};

use super::fmt::{fmt_count, fmt_mb, fmt_secs, table};
use super::measure::{Prepared, Sample, SplitMix, measure, secs_stats};
use super::pydsi::{PyDsi, Ready};
use super::stores::{Store, cells_rss, disk_bytes, dsi, remove, timed_then_rss, to_dev_null};
use super::{Plan, Services, bench_data};
use crate::json::{self, Json};

/// Rows of the CSV.
const ROWS: u64 = 100_000;
/// The filtered count's condition.
const WHERE: &str = "c3 > 0.5";

const WORDS: [&str; 12] = [
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet",
    "kilo", "lima",
];

/// Writes the CSV once (a `.done` marker next to it); returns its path.
fn csv_file() -> anyhow::Result<PathBuf> {
    let dir = bench_data().join("bulk");
    fs::create_dir_all(&dir)?;
    let path = dir.join("bulk-100k.csv");
    let done = dir.join("bulk-100k.csv.done");
    if path.exists() && done.exists() {
        return Ok(path);
    }
    eprintln!("xtask: bench: writing {}", path.display());
    let mut w = BufWriter::new(fs::File::create(&path)?);
    writeln!(w, "c0,c1,c2,c3,c4,c5,c6,c7,c8,c9")?;
    let mut rng = SplitMix(0x00b0_1c5f);
    #[allow(clippy::cast_precision_loss, clippy::cast_possible_wrap)]
    for i in 0..ROWS {
        let c1 = (rng.next() % 2_000_001) as i64 - 1_000_000;
        let c2 = (rng.next() % 20_000_000) as f64 / 1e4 - 1000.0;
        let c3 = (rng.next() % 1_000_000) as f64 / 1e6;
        let c4 = WORDS[(rng.next() % WORDS.len() as u64) as usize];
        let len = 6 + (rng.next() % 9) as usize;
        let c5: String = (0..len)
            .map(|_| char::from(b'a' + (rng.next() % 26) as u8))
            .collect();
        let c6 = rng.next() % 100;
        let c7 = (rng.next() % 100_000_000) as f64 / 1e3;
        let c8 = format!("id-{:012x}", rng.next() >> 16);
        let c9 = 1_780_000_000_000_000_000u64 + rng.next() % 10_000_000_000_000_000;
        writeln!(
            w,
            "{i},{c1},{c2:.4},{c3:.6},{c4},{c5},{c6},{c7:.3},{c8},{c9}"
        )?;
    }
    w.into_inner().context("flushing the CSV")?.sync_all()?;
    fs::write(&done, "")?;
    Ok(path)
}

/// The first integer in a count's output: dsi's `--json` (`[{"count(*)":
/// N}]`), or the Python modes' `ROWS VALUE` / `N` lines.
fn count_of(sample: &Sample, json: bool) -> anyhow::Result<u64> {
    let text = String::from_utf8_lossy(&sample.stdout);
    if json {
        let v = json::parse(text.trim())?;
        let n = v
            .as_array()
            .and_then(|rows| rows.first())
            .and_then(Json::as_object)
            .and_then(|m| m.values().next())
            .and_then(Json::as_f64)
            .with_context(|| format!("no count in {text:?}"))?;
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        return Ok(n as u64);
    }
    let last = text.split_whitespace().last().unwrap_or_default();
    last.parse()
        .with_context(|| format!("no count in {text:?}"))
}

/// The stores of one ingest run.
struct Targets {
    dsi_sqlite: PathBuf,
    dsi_parquet: PathBuf,
    py_sqlite: PathBuf,
    floor_sqlite: PathBuf,
    floor_parquet: PathBuf,
}

pub(super) fn section(
    plan: Plan,
    services: &mut Services,
    py: &mut PyDsi,
) -> anyhow::Result<String> {
    let py: &Ready = py.ready()?;
    let s3 = super::stores::s3(services)?;
    let csv = csv_file()?;
    let csv_bytes = disk_bytes(&csv);
    let dir = bench_data().join("bulk");
    let t = Targets {
        dsi_sqlite: dir.join("dsi.db"),
        dsi_parquet: dir.join("dsi-parquet"),
        py_sqlite: dir.join("pydsi.db"),
        floor_sqlite: dir.join("floor.db"),
        floor_parquet: dir.join("floor.parquet"),
    };
    // A prefix per run, unique across invocations (the bucket outlives them).
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let s3_prefix = std::cell::Cell::new(0u32);
    let s3_store = |k: u32| Store::new("s3", s3.url(&format!("bench-bulk/{stamp}-{k}")));
    let sqlite = Store::new("sqlite", t.dsi_sqlite.display().to_string());
    let parquet = Store::new("parquet", t.dsi_parquet.display().to_string());
    let csv_arg = csv.display().to_string();
    let ingest = |store: &Store| dsi(store, &s3, &["ingest", "csv", &csv_arg, "--table", "t"]);

    // Ingest.
    let ingest_runs = if plan.quick { 1 } else { 5 };
    let mut peers: Vec<Prepared<'_>> = vec![
        Box::new(|| {
            remove(&t.dsi_sqlite)?;
            Ok(vec![ingest(&sqlite)])
        }),
        Box::new(|| {
            remove(&t.dsi_parquet)?;
            Ok(vec![ingest(&parquet)])
        }),
        Box::new(|| {
            s3_prefix.set(s3_prefix.get() + 1);
            Ok(vec![ingest(&s3_store(s3_prefix.get()))])
        }),
        Box::new(|| {
            remove(&t.py_sqlite)?;
            Ok(vec![py.script_paths("dsi-csv", &[&csv, &t.py_sqlite], &[])])
        }),
        Box::new(|| {
            remove(&t.floor_sqlite)?;
            Ok(vec![py.script_paths(
                "sqlite-load",
                &[&csv, &t.floor_sqlite],
                &[],
            )])
        }),
        Box::new(|| {
            remove(&t.floor_parquet)?;
            Ok(vec![py.script_paths(
                "arrow-load",
                &[&csv, &t.floor_parquet],
                &[],
            )])
        }),
    ];
    let (ingested, ingest_rss) = timed_then_rss(&mut peers, ingest_runs)?;
    drop(peers);
    let s3_last = s3_store(s3_prefix.get());
    let sizes = [
        fmt_mb(disk_bytes(&t.dsi_sqlite)),
        fmt_mb(disk_bytes(&t.dsi_parquet)),
        "—".to_owned(),
        fmt_mb(disk_bytes(&t.py_sqlite)),
        fmt_mb(disk_bytes(&t.floor_sqlite)),
        fmt_mb(disk_bytes(&t.floor_parquet)),
    ];

    // Filtered count and read back, on the stores just written.
    let count_sql = format!("SELECT count(*) FROM t WHERE {WHERE}");
    let read_sql = "SELECT * FROM t";
    let stores = [&sqlite, &parquet, &s3_last];
    let count_cmds: Vec<Command> = stores
        .iter()
        .map(|s| dsi(s, &s3, &["--json", "query", &count_sql]))
        .chain([
            py.script_paths("dsi-query", &[&t.py_sqlite], &[&count_sql]),
            py.script_paths("sqlite-query", &[&t.floor_sqlite], &[&count_sql]),
            py.script_paths("arrow-count", &[&t.floor_parquet], &[]),
        ])
        .collect();
    let mut counts = Vec::new();
    for (i, c) in count_cmds.iter().enumerate() {
        counts.push(count_of(&measure(c, false)?, i < 3)?);
    }
    if counts.iter().any(|c| *c != counts[0]) {
        bail!("the filtered counts differ: {counts:?}");
    }
    let read_cmds: Vec<Command> = stores
        .iter()
        .map(|s| to_dev_null(&dsi(s, &s3, &["--json", "query", read_sql])))
        .chain([
            py.script_paths("dsi-query", &[&t.py_sqlite], &[read_sql]),
            py.script_paths("sqlite-query", &[&t.floor_sqlite], &[read_sql]),
            py.script_paths("arrow-read", &[&t.floor_parquet], &[]),
        ])
        .collect();
    let query_runs = if plan.quick { 2 } else { 10 };
    let (counted, count_rss) = timed_then_rss(&mut as_peers(&count_cmds), query_runs)?;
    let (read, read_rss) = timed_then_rss(&mut as_peers(&read_cmds), query_runs)?;

    let labels = [
        "dsi → SQLite",
        "dsi → Parquet dataset (local)",
        "dsi → S3 (loopback s3s-fs)",
        "Python DSI (`Csv` reader → `Sqlite`)",
        "floor: Python `sqlite3` `executemany`, typed table",
        "floor: pyarrow `read_csv` + `write_table` (zstd)",
    ];
    let base = secs_stats(&ingested[0]).median;
    let ingest_rows: Vec<Vec<String>> = labels
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let mut r = vec![(*l).to_owned()];
            r.extend(cells_rss(&ingested[i], Some(base), ingest_rss[i]));
            #[allow(clippy::cast_precision_loss)]
            r.push(super::fmt::fmt_rate(
                ROWS as f64 / secs_stats(&ingested[i]).median,
            ));
            r.push(sizes[i].clone());
            r
        })
        .collect();
    let query_labels = [
        "dsi, SQLite",
        "dsi, Parquet dataset (DataFusion)",
        "dsi, S3 (DataFusion)",
        "Python DSI, `Sqlite` back-read (pandas `read_sql_query`)",
        "floor: Python `sqlite3`, `fetchall`",
        "floor: pyarrow `read_table` (Parquet file)",
    ];
    let query_rows = |samples: &[Vec<Sample>], rss: &[Option<u64>]| -> Vec<Vec<String>> {
        let base = secs_stats(&samples[0]).median;
        query_labels
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let mut r = vec![(*l).to_owned()];
                r.extend(cells_rss(&samples[i], Some(base), rss[i]));
                r
            })
            .collect()
    };

    let mut out = String::from("## Bulk CSV: ingest, filtered count, read back\n\n");
    let _ = writeln!(
        out,
        "`target/bench-data/bulk/bulk-100k.csv`: {} rows × 10 columns ({}), generated \
         once, deterministic: `c0`, `c1`, `c6`, `c9` integers, `c2`, `c3` (uniform in \
         [0, 1)), `c7` floats, `c4`, `c5`, `c8` text. Fresh processes; peers \
         alternated round by round after one untimed warm-up each; peak RSS from one \
         extra run each under `/usr/bin/time`. Ratio = median / median of the first \
         row. Python peers: {}.\n",
        fmt_count(ROWS),
        fmt_mb(csv_bytes),
        py.versions
    );
    let _ = writeln!(
        out,
        "### Ingest\n\n`dsi --driver D --store S ingest csv bulk-100k.csv --table t` (the \
         `csv` plugin: types inferred in a first pass, values read in a second, one \
         put) into a new store each run (S3: a new prefix). The Python DSI: `Csv` \
         reader (`load_module('plugin', 'Csv', 'reader', filenames=CSV, \
         table_name='t')`, pandas `read_csv`) and `Sqlite` `back-write` ingest. \
         Floors: Python's `csv` + `sqlite3` `executemany` into `CREATE TABLE t (c0 \
         INTEGER, …)` in one transaction; `pyarrow.csv.read_csv` + \
         `pyarrow.parquet.write_table(compression='zstd')` into one file.\n"
    );
    out.push_str(&table(
        &[
            "Variant",
            "n",
            "Median",
            "Min – max",
            "Ratio",
            "Peak RSS",
            "Rows/s (median)",
            "Store size",
        ],
        1,
        &ingest_rows,
    ));
    let _ = writeln!(
        out,
        "\n### Filtered count\n\n`SELECT count(*) FROM t WHERE {WHERE}` ({} rows match, \
         every peer agreeing) on the stores written above: `dsi --json query SQL`; the \
         Python DSI's `artifact_handler('query', query=SQL)` on a `back-read` `Sqlite` \
         back-end; Python `sqlite3`; pyarrow `read_table(columns=['c3'], \
         filters=[('c3', '>', 0.5)])`.\n",
        fmt_count(counts[0])
    );
    out.push_str(&table(
        &["Variant", "n", "Median", "Min – max", "Ratio", "Peak RSS"],
        1,
        &query_rows(&counted, &count_rss),
    ));
    let _ = writeln!(
        out,
        "\n### Full read back\n\n`dsi --json query \"SELECT * FROM t\"` with stdout to \
         /dev/null (every row serialised as JSON); the Python DSI's query (a pandas \
         DataFrame); Python `sqlite3` `fetchall` (tuples); pyarrow `read_table` (Arrow \
         in memory, nothing serialised). The floors do less than dsi: they print \
         nothing.\n"
    );
    out.push_str(&table(
        &["Variant", "n", "Median", "Min – max", "Ratio", "Peak RSS"],
        1,
        &query_rows(&read, &read_rss),
    ));
    let dsi_ingest = secs_stats(&ingested[0]).median;
    let floor_ingest = secs_stats(&ingested[4]).median;
    let _ = writeln!(
        out,
        "\ndsi's SQLite ingest takes {} ({:.1}× the `executemany` floor).",
        fmt_secs(dsi_ingest),
        dsi_ingest / floor_ingest
    );
    Ok(out)
}

/// Each command as a peer that runs a fresh copy of it every time.
fn as_peers(cmds: &[Command]) -> Vec<Prepared<'_>> {
    cmds.iter()
        .map(|c| -> Prepared<'_> { Box::new(move || Ok(vec![super::measure::copy_command(c)])) })
        .collect()
}
