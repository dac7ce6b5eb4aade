//! Section "Delta tables": the parquet and s3 drivers' Delta layout at the
//! driver level, by the `delta_bench` example of `dsi-driver-parquet` (see
//! its documentation): the "newest 20" listing (`recorded_at` descending,
//! limit 20), a filtered count and an unfiltered count over 1k, 10k and
//! 100k separately recorded runs (one put per run, 36 columns with a 30 KB
//! `kernel_info`), before and after `compact`, each in a freshly opened
//! dataset; and the record rate of 64 concurrent writers. Locally the table
//! grows twice: with the automatic compaction `dsi record` does (size
//! tiers) and without it (to 10k; growing further is quadratic); with it,
//! once as records arriving over months do (`local-paced`: tombstones
//! expire between checkpoints; to 100k) and once as fast as the machine
//! records (within the hour every checkpoint carries every tombstone; to
//! 10k).
//!
//! Local datasets grow under `target/bench-data/delta/`; S3 datasets are
//! prefixes of the moto test bucket (loopback; its create-if-absent is
//! atomic, s3s-fs's is not), which stop at 10k (growing by 100k separate
//! puts there would take hours: moto is one Python process); the 100k S3
//! figures read the paced local table uploaded to moto (`s3-upload`: the
//! dataset record, the live files, the last checkpoint and later commits).
//! The concurrent writers on S3 use moto too.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::Command;

use anyhow::Context;
use serde_json::Value;

use super::fmt::table;
use super::{Plan, Services, bench_data, example};

/// Runs the example and returns its JSON lines.
fn run(args: &[&str], env: &[(&str, &str)]) -> anyhow::Result<Vec<Value>> {
    let mut cmd = Command::new(example("delta_bench"));
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    eprintln!("xtask: bench: delta_bench {}", args.join(" "));
    let out = cmd.output().context("running the delta_bench example")?;
    if !out.status.success() {
        anyhow::bail!(
            "delta_bench {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).with_context(|| format!("delta_bench printed {l}")))
        .collect()
}

fn ms(v: &Value, key: &str) -> String {
    v[key]
        .as_f64()
        .map_or_else(|| "–".into(), |s| format!("{:.1}", s * 1000.0))
}

fn size_name(n: i64) -> String {
    if n % 1000 == 0 {
        format!("{}k", n / 1000)
    } else {
        n.to_string()
    }
}

/// The reads table of one store kind.
fn reads(store: &str, lines: &[Value], out: &mut Vec<Vec<String>>) {
    let mut grow: BTreeMap<i64, f64> = BTreeMap::new();
    let mut compact: BTreeMap<i64, &Value> = BTreeMap::new();
    for l in lines {
        let size = l["size"].as_i64().unwrap_or(0);
        match l["kind"].as_str() {
            Some("grow") => {
                grow.insert(
                    size,
                    l["secs"].as_f64().unwrap_or(0.0) / l["puts"].as_f64().unwrap_or(1.0),
                );
            }
            Some("compact") => {
                compact.insert(size, l);
            }
            _ => {}
        }
    }
    for l in lines.iter().filter(|l| l["kind"] == "read") {
        let size = l["size"].as_i64().unwrap_or(0);
        let phase = l["phase"].as_str().unwrap_or("");
        let extra = match phase {
            "before" => grow
                .get(&size)
                .map_or_else(String::new, |s| format!("{:.1} ms/put to grow", s * 1000.0)),
            "expired" => "the same, its tombstones expired".to_owned(),
            _ => compact.get(&size).map_or_else(String::new, |c| {
                format!(
                    "compact {:.1} s, {} → {} files, {:.1} → {:.1} MiB",
                    c["secs"].as_f64().unwrap_or(0.0),
                    c["files_before"],
                    c["files_after"],
                    c["bytes_before"].as_f64().unwrap_or(0.0) / 1048576.0,
                    c["bytes_after"].as_f64().unwrap_or(0.0) / 1048576.0
                )
            }),
        };
        out.push(vec![
            store.to_owned(),
            size_name(size),
            phase.to_owned(),
            l["files"].to_string(),
            ms(l, "newest20_s"),
            ms(l, "filtered_count_s"),
            ms(l, "count_s"),
            extra,
        ]);
    }
}

/// The section's Markdown.
pub(super) fn section(plan: Plan, services: &mut Services) -> anyhow::Result<String> {
    let (local_sizes, auto_sizes, paced_sizes) = if plan.quick {
        ("1000", "1000", "1000,10000")
    } else {
        ("1000,10000", "1000,10000", "1000,10000,100000")
    };
    let largest = paced_sizes.rsplit(',').next().unwrap_or("1000");
    let s3_sizes = if plan.quick { "1000" } else { "1000,10000" };
    let dir = bench_data().join("delta");
    let local = run(
        &[
            "local",
            &dir.join("sizes").display().to_string(),
            local_sizes,
        ],
        &[],
    )?;
    // As `dsi record` writes a table: automatic compaction by size tiers.
    // (Without it, growing to 100k separate puts is quadratic: every
    // checkpoint rewrites every file's entry.)
    let auto = run(
        &[
            "local-auto",
            &dir.join("auto").display().to_string(),
            auto_sizes,
        ],
        &[],
    )?;
    // Records arriving slower than tombstones expire (an hour), so that a
    // checkpoint carries only the recent ones: how a site's table grows
    // over months, grown here in minutes.
    let paced_dir = dir.join("paced");
    let paced = run(
        &["local-paced", &paced_dir.display().to_string(), paced_sizes],
        &[],
    )?;
    let env = services.env(false)?.clone();
    let var = |k: &str| {
        env.get(k)
            .cloned()
            .with_context(|| format!("{k} missing from the services"))
    };
    // The S3 figures come from moto: s3s-fs's create-if-absent is not
    // atomic, so two writers growing one table there can both "create" a
    // log version and a put is lost (the driver requires an atomic
    // `If-None-Match: *`, as AWS S3, MinIO, Ceph RGW and moto give).
    let moto_bucket = var("DSI_TEST_MOTO_BUCKET")?;
    let moto_endpoint = var("DSI_TEST_MOTO_ENDPOINT")?;
    let moto_env: Vec<(&str, &str)> = vec![
        ("AWS_ACCESS_KEY_ID", "moto-bench"),
        ("AWS_SECRET_ACCESS_KEY", "moto-bench-secret"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ALLOW_HTTP", "true"),
        ("AWS_ENDPOINT_URL", &moto_endpoint),
    ];
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let s3 = run(
        &[
            "s3",
            &format!("s3://{moto_bucket}/bench-delta-{stamp}"),
            s3_sizes,
        ],
        &moto_env,
    )?;

    // The largest paced table as an S3 dataset: its current state
    // uploaded (recording it there one put at a time would take hours on
    // moto, one Python process), then read and compacted there.
    let uploaded = format!("s3://{moto_bucket}/bench-delta-paced-{stamp}");
    run(
        &[
            "s3-upload",
            &paced_dir.join("grow").display().to_string(),
            &uploaded,
        ],
        &moto_env,
    )?;
    let s3_large = run(&["s3-read", &uploaded, largest], &moto_env)?;

    let (writers, puts) = if plan.quick { ("64", "1") } else { ("64", "4") };
    let mut writer_lines = run(
        &[
            "writers",
            "local",
            &dir.join("writers").display().to_string(),
            writers,
            puts,
        ],
        &[],
    )?;
    writer_lines.extend(run(
        &[
            "writers",
            "s3",
            &format!("s3://{moto_bucket}/bench-writers-{stamp}"),
            writers,
            "1",
        ],
        &moto_env,
    )?);

    let mut rows = Vec::new();
    reads(
        "local, automatic compaction, records over time",
        &paced,
        &mut rows,
    );
    reads(
        "local, automatic compaction, records within the hour",
        &auto,
        &mut rows,
    );
    reads("local, no automatic compaction", &local, &mut rows);
    reads("S3 (moto, loopback)", &s3, &mut rows);
    reads(
        "S3 (moto), the paced local table uploaded",
        &s3_large,
        &mut rows,
    );
    let mut out =
        String::from("## Delta tables: listing, counts, compaction, concurrent writers\n\n");
    out.push_str(
        "Driver level (`delta_bench` example, release build): each figure is the median of 5 \
         runs, each opening the dataset afresh (its log read from the store, as a new `dsi` \
         process does). Runs are recorded one put each (two writers; automatic compaction \
         by size tiers as `dsi record` does, or off), 36 columns with a 30 KB `kernel_info`. \
         *newest 20*: ordered by `recorded_at` descending, limit 20; *filtered count*: one \
         host of 100 in the last third; *count*: all rows, from the log. \"before\": as \
         written; \"after\": `compact` (bin-packing, vacuum, checkpoint); \"expired\": the \
         same once the compaction's tombstones have expired (an hour later; simulated by a \
         zero tombstone retention and a new checkpoint).\n\n",
    );
    out.push_str(&table(
        &[
            "store",
            "runs",
            "phase",
            "files",
            "newest 20 (ms)",
            "filtered count (ms)",
            "count (ms)",
            "notes",
        ],
        3,
        &rows,
    ));
    let mut w = Vec::new();
    for l in &writer_lines {
        let stored = l["stored"].as_u64().unwrap_or(0);
        w.push(vec![
            if w.is_empty() {
                "local".to_owned()
            } else {
                "S3 (moto)".to_owned()
            },
            l["writers"].to_string(),
            format!("{}", l["puts"].as_f64().unwrap_or(0.0)),
            format!("{:.1}", l["secs"].as_f64().unwrap_or(0.0)),
            format!("{:.1}", l["commits_per_s"].as_f64().unwrap_or(0.0)),
            l["failed"].to_string(),
            stored.to_string(),
        ]);
    }
    let _ = writeln!(
        out,
        "\nConcurrent writers, each with its own driver, one table:\n"
    );
    out.push_str(&table(
        &[
            "store",
            "writers",
            "puts",
            "seconds",
            "commits/s",
            "failed puts",
            "records stored",
        ],
        1,
        &w,
    ));
    Ok(out)
}
