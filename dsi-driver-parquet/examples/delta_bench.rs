//! The driver-level benchmark of the Delta layout, run by `cargo xtask
//! bench --only delta` (xtask/src/bench/delta.rs), which builds it in
//! release mode and turns its output into a section of bench/REPORT.md.
//!
//! ```text
//! delta_bench local DIR SIZES           e.g. local target/bench-data/delta 1000,10000
//! delta_bench local-auto DIR SIZES      e.g. local-auto target/bench-data/delta-auto 1000,10000
//! delta_bench local-paced DIR SIZES     e.g. local-paced target/bench-data/delta-paced 1000,10000,100000
//! delta_bench local-read DIR SIZE       reads (and compacts a copy of) DIR/grow, already at SIZE runs
//! delta_bench s3-upload DIR URL         copies a local dataset's current state to S3
//! delta_bench s3 URL SIZES              (the s3 driver's environment: AWS_*)
//! delta_bench s3-read URL SIZE          reads (and compacts) a dataset already at SIZE runs
//! delta_bench writers local DIR N PUTS  N concurrent writers, PUTS records each
//! delta_bench writers s3 URL N PUTS
//! ```
//!
//! The store grows to each size by separately recorded runs (one put per
//! row, as `dsi record` makes them: two writer threads; automatic
//! compaction off, or on as in `dsi record` for `local-auto`), each a
//! representative `runs` row of 36 columns with a 30 KB JSON
//! `kernel_info`. At each size it measures, each time in a freshly opened
//! dataset (nothing cached, as a new `dsi` process): the "newest 20"
//! listing (ordered by `recorded_at` descending, limit 20), a filtered
//! count (one host of 100, recorded in the last third) and an unfiltered
//! count; then compacts a copy (local) or the store itself (S3, whose
//! sizes are separate prefixes) and measures again; locally also once the
//! compaction's tombstones have expired (phase `expired`: the state an
//! hour later, made by setting the copy's tombstone retention to zero and
//! writing a checkpoint). Every result is one JSON line on standard
//! output.
//!
//! `local-paced` grows as `local-auto` does, but with the table's
//! tombstone retention set to zero after its first put: the table a site
//! has when its records arrive slower than the automatic compaction's
//! tombstones expire (one hour), so that each checkpoint carries only the
//! recent ones. Growing 100,000 runs in an hour instead puts every
//! tombstone of the hour into every checkpoint (see bench/REPORT.md).
//! `s3-upload` copies what a reader of a local dataset needs (the dataset
//! record, each table's live data files, its last checkpoint and the
//! commits after it) to an S3 prefix, so that `s3-read` can measure reads
//! of a large S3 dataset without recording it there one put at a time.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use dsi_core::{
    BlobRef, Collection, Column, DataType, Driver, Filter, FilterOp, Query, Table, TableQuery,
    Timestamp, Value,
};
use dsi_driver_parquet::{CompactOptions, Dataset, DatasetBuilder};
use serde_json::json;

/// 2026-11-01T00:00:00Z.
const START: i64 = 1_793_491_200_000_000;
const HOSTS: i64 = 100;

type Opener = Arc<dyn Fn(&str) -> Dataset + Send + Sync>;

/// 30 KB of JSON shaped like `SystemKernel`'s `kernel_info`: compile-time
/// and run-time configuration, modules; a few values differ per run.
fn kernel_info(n: i64) -> String {
    let mut config = serde_json::Map::new();
    for i in 0..700 {
        config.insert(
            format!("CONFIG_OPTION_{i:04}"),
            json!(if i % 3 == 0 { "y" } else { "m" }),
        );
    }
    let sysctl: serde_json::Map<String, serde_json::Value> = (0..150)
        .map(|i| {
            (
                format!("kernel.param_{i}"),
                json!(format!("{}", i * 7 + n % 5)),
            )
        })
        .collect();
    let text = json!({
        "release": "6.1.0-28-amd64",
        "uptime_s": 1000 + n,
        "cmdline": "BOOT_IMAGE=/vmlinuz root=UUID=0000 ro quiet",
        "config": config,
        "sysctl": sysctl,
        "modules": (0..40).map(|i| format!("module_{i} 16384 0")).collect::<Vec<_>>(),
    })
    .to_string();
    text.chars().take(30_000).collect()
}

/// One representative `runs` row (36 columns).
fn run_row(n: i64, kernel: &str) -> Table {
    let text = |s: String| Value::Text(s);
    let host = n % HOSTS;
    let mut cols: Vec<(String, DataType, Value)> = vec![
        (
            "run_id".into(),
            DataType::Text,
            text(format!("01JRUN{n:020}")),
        ),
        ("function".into(), DataType::Text, text("consumer".into())),
        (
            "recorded_at".into(),
            DataType::Timestamp,
            Value::Timestamp(Timestamp::from_micros(START + n * 1_000_000)),
        ),
        ("parent_run_id".into(), DataType::Text, Value::Null),
        (
            "image_ref".into(),
            DataType::Text,
            text("registry.example.org/app:1.0".into()),
        ),
        (
            "image_digest".into(),
            DataType::Text,
            text(format!("sha256:{:064x}", n % 7)),
        ),
        ("commit".into(), DataType::Text, text(format!("{:040x}", n))),
        (
            "runfile_path".into(),
            DataType::Text,
            text("Runfile".into()),
        ),
        (
            "runfile_sha256".into(),
            DataType::Text,
            text(format!("{:064x}", n % 11)),
        ),
        (
            "container_run_commands".into(),
            DataType::Blob,
            Value::Blob(BlobRef::of_bytes(&n.to_le_bytes())),
        ),
        ("exit_code".into(), DataType::Int, Value::Int(n % 3)),
        ("signal".into(), DataType::Int, Value::Null),
        (
            "duration_ms".into(),
            DataType::Int,
            Value::Int(1000 + n % 977),
        ),
        (
            "stdout_sha256".into(),
            DataType::Text,
            text(format!("{:064x}", n * 3)),
        ),
        (
            "stderr_sha256".into(),
            DataType::Text,
            text(format!("{:064x}", n * 5)),
        ),
        ("uid".into(), DataType::Int, Value::Int(1000)),
        ("effective_gid".into(), DataType::Int, Value::Int(1000)),
        ("moniker".into(), DataType::Text, text("alice".into())),
        (
            "gid_list".into(),
            DataType::Text,
            text("1000,27,100".into()),
        ),
        (
            "hostname".into(),
            DataType::Text,
            text(format!("cn{host:04}")),
        ),
        (
            "kernel_info".into(),
            DataType::Text,
            text(kernel.to_owned()),
        ),
        (
            "kernel_release".into(),
            DataType::Text,
            text("6.1.0-28-amd64".into()),
        ),
        ("arch".into(), DataType::Text, text("x86_64".into())),
        ("cgroup_version".into(), DataType::Int, Value::Int(2)),
        (
            "cpu_model".into(),
            DataType::Text,
            text("AMD EPYC 7763".into()),
        ),
        (
            "charliecloud_version".into(),
            DataType::Text,
            text("0.31".into()),
        ),
        (
            "slurm_job_id".into(),
            DataType::Int,
            Value::Int(100_000 + n),
        ),
        ("slurm_step".into(), DataType::Text, text("0".into())),
        ("verdict".into(), DataType::Text, text("pass".into())),
        ("strict".into(), DataType::Bool, Value::Bool(n % 2 == 0)),
        (
            "load_avg".into(),
            DataType::Float,
            Value::Float((n % 100) as f64 / 10.0),
        ),
        (
            "finished_at".into(),
            DataType::Timestamp,
            Value::Timestamp(Timestamp::from_micros(START + n * 1_000_000 + 900_000)),
        ),
        ("outputs".into(), DataType::Text, text("[]".into())),
        ("inputs".into(), DataType::Text, text("[]".into())),
        ("schema_version".into(), DataType::Int, Value::Int(2)),
        ("notes".into(), DataType::Text, Value::Null),
    ];
    let columns = cols
        .drain(..)
        .map(|(name, t, v)| Column::new(name, t, vec![v]).expect("column"))
        .collect();
    Table::from_columns("runs", columns).expect("table")
}

/// Grows `runs` from `from` to `to` rows, one put per row, two writers.
fn grow(open: &Opener, location: &str, from: i64, to: i64) -> f64 {
    let kernel = kernel_info(0);
    let next = AtomicU64::new(u64::try_from(from).unwrap_or(0));
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..2 {
            let (next, kernel) = (&next, &kernel);
            s.spawn(move || {
                let d = open(location);
                loop {
                    let n = i64::try_from(next.fetch_add(1, Ordering::SeqCst)).unwrap_or(i64::MAX);
                    if n >= to {
                        break;
                    }
                    d.put(&Collection::of(run_row(n, kernel))).expect("put");
                }
            });
        }
    });
    started.elapsed().as_secs_f64()
}

/// Median of `runs` timings of `f` (each on a fresh dataset), and its result.
fn timed<T>(
    open: &Opener,
    location: &str,
    runs: usize,
    f: impl Fn(&Dataset) -> T,
) -> (f64, f64, T) {
    let mut times = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs {
        let started = Instant::now();
        let d = open(location);
        let out = f(&d);
        times.push(started.elapsed().as_secs_f64());
        last = Some(out);
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    (
        median,
        times[times.len() - 1],
        last.expect("at least one run"),
    )
}

fn measure(open: &Opener, location: &str, size: i64, phase: &str) {
    let newest = TableQuery::new("runs")
        .order_by("recorded_at", true)
        .limit(20);
    let (ms, max, rows) = timed(open, location, 5, |d| {
        d.get(&Query::Table(newest.clone()))
            .expect("newest 20")
            .tables()[0]
            .num_rows()
    });
    assert_eq!(rows, 20);
    let since = Timestamp::from_micros(START + size * 2 / 3 * 1_000_000);
    let filtered = TableQuery::new("runs")
        .filter(Filter::new("hostname", FilterOp::Eq, "cn0042"))
        .filter(Filter::new("recorded_at", FilterOp::Ge, since));
    let (fms, fmax, count) = timed(open, location, 5, |d| d.count(&filtered).expect("count"));
    let (cms, cmax, all) = timed(open, location, 5, |d| {
        d.count(&TableQuery::new("runs")).expect("count")
    });
    assert_eq!(all, u64::try_from(size).unwrap_or(0));
    let files = open(location).inspect().expect("inspect").tables[0].files;
    println!(
        "{}",
        json!({"kind": "read", "size": size, "phase": phase, "files": files,
               "newest20_s": ms, "newest20_max_s": max,
               "filtered_count_s": fms, "filtered_count_max_s": fmax, "filtered_count": count,
               "count_s": cms, "count_max_s": cmax})
    );
}

fn compact(open: &Opener, location: &str, size: i64) {
    let d = open(location);
    let started = Instant::now();
    let report = d
        .compact(&CompactOptions::default().unsafe_retention(Duration::ZERO))
        .expect("compact");
    let t = &report.tables[0];
    println!(
        "{}",
        json!({"kind": "compact", "size": size, "secs": started.elapsed().as_secs_f64(),
               "files_before": t.files_before, "files_after": t.files_after,
               "bytes_before": t.bytes_before, "bytes_after": t.bytes_after,
               "vacuumed": t.files_vacuumed})
    );
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// The `runs` Delta table of a local dataset.
async fn runs_table(dataset: &Path) -> deltalake_core::DeltaTable {
    let table_dir = std::fs::canonicalize(dataset.join("runs")).expect("table directory");
    let url = url::Url::from_directory_path(table_dir).expect("table url");
    deltalake_core::DeltaTable::try_from_url(url)
        .await
        .expect("open the table")
}

/// Sets a local dataset's tombstone retention to zero; with `checkpoint`,
/// also writes a checkpoint (which then carries no tombstones).
fn zero_tombstone_retention(dataset: &Path, checkpoint: bool) {
    runtime().block_on(async {
        let table = runs_table(dataset)
            .await
            .set_tbl_properties()
            .with_properties(
                [(
                    "delta.deletedFileRetentionDuration".to_owned(),
                    "interval 0 seconds".to_owned(),
                )]
                .into(),
            )
            .await
            .expect("set the retention");
        if checkpoint {
            deltalake_core::checkpoints::create_checkpoint(&table, None)
                .await
                .expect("checkpoint");
        }
    });
}

/// Copies a local dataset's current state to the S3 prefix `url`: the
/// dataset record, the live data files of `runs`, its last checkpoint and
/// the commits after it (what a reader opens; removed files and older
/// commits are left behind).
fn s3_upload(dir: &Path, url: &str) {
    use dsi_driver_parquet::object_store::{ObjectStoreExt, PutPayload, path::Path as StorePath};
    let rest = url.strip_prefix("s3://").expect("s3://bucket/prefix");
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let store = dsi_driver_parquet::object_store::aws::AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        .with_allow_http(true)
        .build()
        .expect("S3 client from AWS_* variables");
    let dir = std::fs::canonicalize(dir).expect("dataset directory");
    let started = Instant::now();
    runtime().block_on(async {
        let table = runs_table(&dir).await;
        let table_dir = dir.join("runs");
        let mut files: Vec<PathBuf> = table
            .get_file_uris()
            .expect("live files")
            .map(|uri| {
                // A path, or a file:// URL.
                let path = url::Url::parse(&uri)
                    .ok()
                    .and_then(|u| u.to_file_path().ok())
                    .unwrap_or_else(|| PathBuf::from(&uri));
                let rel = path
                    .strip_prefix(&table_dir)
                    .unwrap_or_else(|_| panic!("{uri}: a file of the table"));
                Path::new("runs").join(rel)
            })
            .collect();
        files.push(PathBuf::from("_dsi/dataset.json"));
        let log = dir.join("runs/_delta_log");
        let last: serde_json::Value = serde_json::from_slice(
            &std::fs::read(log.join("_last_checkpoint")).expect("_last_checkpoint"),
        )
        .expect("_last_checkpoint is JSON");
        let checkpoint = last["version"].as_u64().expect("checkpoint version");
        files.push(PathBuf::from("runs/_delta_log/_last_checkpoint"));
        for entry in std::fs::read_dir(&log).expect("log directory") {
            let name = entry.expect("log entry").file_name();
            let name = name.to_string_lossy();
            let version = name.split('.').next().and_then(|v| v.parse::<u64>().ok());
            let wanted = match version {
                Some(v) if name.ends_with(".json") => v > checkpoint,
                Some(v) => v == checkpoint && name.contains(".checkpoint"),
                None => false,
            };
            if wanted {
                files.push(Path::new("runs/_delta_log").join(name.as_ref()));
            }
        }
        let mut bytes = 0;
        for rel in &files {
            let data = std::fs::read(dir.join(rel)).expect("read a file to upload");
            bytes += data.len();
            let key = StorePath::from(format!(
                "{}/{}",
                prefix.trim_end_matches('/'),
                rel.display()
            ));
            store
                .put(&key, PutPayload::from(data))
                .await
                .expect("upload");
        }
        println!(
            "{}",
            json!({"kind": "upload", "files": files.len(), "bytes": bytes,
                   "checkpoint": checkpoint, "secs": started.elapsed().as_secs_f64()})
        );
    });
}

/// Reads `store` as recorded, then a copy of it compacted, then the copy
/// once its tombstones have expired.
fn read_local(open: &Opener, dir: &Path, store: &Path, size: i64) {
    let loc = store.display().to_string();
    measure(open, &loc, size, "before");
    let copy = dir.join(format!("compacted-{size}"));
    let _ = std::fs::remove_dir_all(&copy);
    copy_dir(store, &copy);
    let cloc = copy.display().to_string();
    compact(open, &cloc, size);
    measure(open, &cloc, size, "after");
    zero_tombstone_retention(&copy, true);
    measure(open, &cloc, size, "expired");
    let _ = std::fs::remove_dir_all(&copy);
}

fn copy_dir(from: &Path, to: &Path) {
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .expect("cp");
    assert!(status.success(), "copying {}", from.display());
}

/// As `Dataset::open_local`; automatic compaction off unless `auto`.
fn local_opener(auto: bool) -> Opener {
    Arc::new(move |loc: &str| {
        let builder =
            Dataset::local_builder(Path::new(loc), dsi_core::Access::ReadWrite).expect("builder");
        let builder = if auto {
            builder
        } else {
            builder.with_auto_compact(None)
        };
        builder.open().expect("open")
    })
}

fn s3_opener() -> Opener {
    Arc::new(|loc: &str| {
        dsi_driver_s3_builder(loc)
            .with_auto_compact(None)
            .open()
            .expect("open")
    })
}

/// The S3 dataset builder from the standard environment (as the s3
/// driver makes it), without depending on dsi-driver-s3.
fn dsi_driver_s3_builder(url: &str) -> DatasetBuilder {
    use dsi_driver_parquet::object_store::aws::AmazonS3Builder;
    let rest = url.strip_prefix("s3://").expect("s3://bucket/prefix");
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let store = AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        .with_allow_http(true)
        .build()
        .expect("S3 client from AWS_* variables");
    DatasetBuilder::new(
        Arc::new(store),
        url::Url::parse(&format!("s3://{bucket}/")).expect("url"),
        dsi_driver_parquet::object_store::path::Path::from(prefix),
    )
    .with_location(url)
}

fn writers(open: &Opener, location: &str, n: usize, puts: i64) {
    let kernel = kernel_info(0);
    let failed = AtomicU64::new(0);
    let started = Instant::now();
    std::thread::scope(|s| {
        for w in 0..n {
            let (kernel, failed) = (&kernel, &failed);
            s.spawn(move || {
                let d = open(location);
                for p in 0..puts {
                    let row = run_row(i64::try_from(w).unwrap_or(0) * 1_000_000 + p, kernel);
                    if d.put(&Collection::of(row)).is_err() {
                        failed.fetch_add(1, Ordering::SeqCst);
                    }
                }
            });
        }
    });
    let secs = started.elapsed().as_secs_f64();
    let commits = (n as f64) * (puts as f64);
    let stored = open(location)
        .count(&TableQuery::new("runs"))
        .expect("count");
    println!(
        "{}",
        json!({"kind": "writers", "writers": n, "puts": commits, "secs": secs,
               "commits_per_s": commits / secs, "failed": failed.load(Ordering::SeqCst),
               "stored": stored})
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let sizes = |s: &str| -> Vec<i64> { s.split(',').map(|x| x.parse().expect("size")).collect() };
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [mode @ ("local" | "local-auto" | "local-paced"), dir, list] => {
            let open = local_opener(*mode != "local");
            let dir = PathBuf::from(dir);
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("bench dir");
            let store = dir.join("grow");
            let loc = store.display().to_string();
            std::fs::create_dir_all(&store).expect("store");
            let mut have = 0;
            if *mode == "local-paced" {
                grow(&open, &loc, 0, 1);
                zero_tombstone_retention(&store, false);
                have = 1;
            }
            for size in sizes(list) {
                let secs = grow(&open, &loc, have, size);
                println!(
                    "{}",
                    json!({"kind": "grow", "size": size, "puts": size - have, "secs": secs})
                );
                have = size;
                read_local(&open, &dir, &store, size);
            }
        }
        ["local-read", dir, size] => {
            let dir = PathBuf::from(dir);
            read_local(
                &local_opener(true),
                &dir,
                &dir.join("grow"),
                size.parse().expect("size"),
            );
        }
        ["s3", url, list] => {
            let open = s3_opener();
            for size in sizes(list) {
                let loc = format!("{}/size-{size}", url.trim_end_matches('/'));
                let secs = grow(&open, &loc, 0, size);
                println!(
                    "{}",
                    json!({"kind": "grow", "size": size, "puts": size, "secs": secs})
                );
                measure(&open, &loc, size, "before");
                compact(&open, &loc, size);
                measure(&open, &loc, size, "after");
            }
        }
        ["s3-upload", dir, url] => s3_upload(Path::new(dir), url),
        ["s3-read", url, size] => {
            let open = s3_opener();
            let size = size.parse().expect("size");
            measure(&open, url, size, "before");
            compact(&open, url, size);
            measure(&open, url, size, "after");
        }
        ["writers", "local", dir, n, puts] => {
            let open = local_opener(false);
            let _ = std::fs::remove_dir_all(dir);
            std::fs::create_dir_all(dir).expect("dir");
            writers(
                &open,
                dir,
                n.parse().expect("n"),
                puts.parse().expect("puts"),
            );
        }
        ["writers", "s3", url, n, puts] => {
            writers(
                &s3_opener(),
                url,
                n.parse().expect("n"),
                puts.parse().expect("puts"),
            );
        }
        _ => {
            eprintln!(
                "usage: delta_bench (local|local-auto|local-paced DIR|s3 URL) SIZES \
                 | local-read DIR SIZE | s3-upload DIR URL | s3-read URL SIZE \
                 | writers (local DIR|s3 URL) N PUTS"
            );
            std::process::exit(2);
        }
    }
}
