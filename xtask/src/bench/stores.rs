//! What the store sections (“Start-up”, “Environment capture”, “Bulk CSV”,
//! “Scaling”) share: `dsi` commands on a chosen driver and store, the S3
//! test server's environment (checked to answer), file and directory sizes,
//! and the common table row (n, median, min–max, ratio, peak RSS).

use std::collections::BTreeMap;
use std::fs;
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};

use super::fmt::{fmt_kib, fmt_range, fmt_secs};
use super::measure::{Sample, max_rss, secs_stats};
use super::{Services, dsi_binary};
use crate::services;

/// A back-end and its store, as `dsi --driver D --store S` takes them.
#[derive(Debug, Clone)]
pub(super) struct Store {
    /// `sqlite`, `parquet` or `s3`.
    pub(super) driver: &'static str,
    /// A path, or `s3://bucket/prefix`.
    pub(super) store: String,
}

impl Store {
    pub(super) fn new(driver: &'static str, store: impl Into<String>) -> Self {
        Store {
            driver,
            store: store.into(),
        }
    }

    /// The driver's name as the report shows it.
    pub(super) fn label(&self) -> &'static str {
        match self.driver {
            "sqlite" => "SQLite",
            "parquet" => "Parquet (local)",
            _ => "S3 (loopback)",
        }
    }
}

/// The environment a `dsi` process on S3 needs (`AWS_*`), plus the bucket.
#[derive(Debug, Clone, Default)]
pub(super) struct S3 {
    pub(super) env: BTreeMap<String, String>,
    pub(super) bucket: String,
}

impl S3 {
    /// `s3://BUCKET/prefix`.
    pub(super) fn url(&self, prefix: &str) -> String {
        format!("s3://{}/{prefix}", self.bucket)
    }
}

/// The S3 test server's variables; the services are (re)started when the
/// server does not answer.
pub(super) fn s3(services: &mut Services) -> anyhow::Result<S3> {
    let alive = |env: &BTreeMap<String, String>| {
        env.get("AWS_ENDPOINT_URL")
            .and_then(|u| u.strip_prefix("http://"))
            .and_then(|hp| hp.trim_end_matches('/').parse().ok())
            .is_some_and(|addr| TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_ok())
    };
    let env = services.env(false)?.clone();
    let env = if alive(&env) {
        env
    } else {
        eprintln!("xtask: bench: the S3 test server does not answer: restarting the services");
        let env = services::start()?;
        services.env = Some(env.clone());
        services.started = true;
        env
    };
    if !alive(&env) {
        bail!(
            "the S3 test server at {:?} does not answer",
            env.get("AWS_ENDPOINT_URL")
        );
    }
    let bucket = env
        .get("DSI_TEST_S3_BUCKET")
        .cloned()
        .context("DSI_TEST_S3_BUCKET missing from the services' environment")?;
    Ok(S3 {
        env: env
            .into_iter()
            .filter(|(k, _)| k.starts_with("AWS_"))
            .collect(),
        bucket,
    })
}

/// `dsi --driver D --store S ARGS` (the S3 variables set for S3).
pub(super) fn dsi(store: &Store, s3: &S3, args: &[&str]) -> Command {
    let mut c = Command::new(dsi_binary());
    c.args(["--driver", store.driver, "--store", &store.store])
        .args(args)
        .env("USER", services::user())
        .env("NO_COLOR", "1");
    if store.driver == "s3" {
        c.envs(&s3.env);
    }
    c
}

/// `sh -c 'exec "$0" "$@" >/dev/null'` around `cmd`: the process writes to
/// /dev/null rather than to a pipe the harness drains.
pub(super) fn to_dev_null(cmd: &Command) -> Command {
    super::measure::copy_with(
        cmd,
        "sh".as_ref(),
        &[
            "-c".as_ref(),
            "exec \"$0\" \"$@\" >/dev/null".as_ref(),
            cmd.get_program(),
        ],
    )
}

/// Bytes in a file, or in all files under a directory.
pub(super) fn disk_bytes(path: &Path) -> u64 {
    let Ok(meta) = fs::symlink_metadata(path) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.len();
    }
    fs::read_dir(path)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| disk_bytes(&e.path()))
                .sum()
        })
        .unwrap_or(0)
}

/// Number of files under a directory (1 for a file).
pub(super) fn file_count(path: &Path) -> u64 {
    let Ok(meta) = fs::symlink_metadata(path) else {
        return 0;
    };
    if !meta.is_dir() {
        return 1;
    }
    fs::read_dir(path)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| file_count(&e.path()))
                .sum()
        })
        .unwrap_or(0)
}

/// Removes a file or a directory if it exists.
pub(super) fn remove(path: &Path) -> anyhow::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(_) => return Ok(()),
    }
    .with_context(|| format!("removing {}", path.display()))
}

/// The usual cells: n, median, min – max, ratio to `base` (median), peak
/// RSS (the maximum over the samples).
pub(super) fn cells(samples: &[Sample], base: Option<f64>) -> Vec<String> {
    let s = secs_stats(samples);
    vec![
        s.n.to_string(),
        fmt_secs(s.median),
        fmt_range(s.min, s.max),
        base.map_or_else(|| "—".into(), |b| format!("{:.2}", s.median / b)),
        fmt_kib(max_rss(samples)),
    ]
}

/// Per peer: the timed samples, and the peak RSS of one extra run.
pub(super) type TimedRss = (Vec<Vec<Sample>>, Vec<Option<u64>>);

/// Times prepared peers alternately (`runs` rounds, one warm-up), then one
/// extra run each under `/usr/bin/time` for the peak RSS, so that the timed
/// runs carry no `/usr/bin/time` of their own.
pub(super) fn timed_then_rss(
    peers: &mut [super::measure::Prepared<'_>],
    runs: usize,
) -> anyhow::Result<TimedRss> {
    let timed = super::measure::alternate_prepared(peers, runs, &[], 0, false)?;
    let rss = peers
        .iter_mut()
        .map(|p| Ok(super::measure::measure_seq(&p()?, true)?.rss_kib))
        .collect::<anyhow::Result<_>>()?;
    Ok((timed, rss))
}

/// [`cells`] with the peak RSS of a separate run.
pub(super) fn cells_rss(samples: &[Sample], base: Option<f64>, rss: Option<u64>) -> Vec<String> {
    let mut c = cells(samples, base);
    c[4] = fmt_kib(rss);
    c
}
