//! What every section of the reliability suite shares: the plan (how many
//! of everything, full or quick), the work directory, the `dsi` binary with
//! the test services' environment, one store per check on each driver, a
//! seeded random generator, and the result rows of the report.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};

use crate::json::{self, Items as _};

/// How much of everything to run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plan {
    /// `--quick`.
    pub(crate) quick: bool,
    /// SIGKILLs per driver and workload.
    pub(crate) kills: usize,
    /// Processes recording at once.
    pub(crate) writers: usize,
    /// Records each of them makes.
    pub(crate) records_per_writer: usize,
    /// Seconds per fuzz target.
    pub(crate) fuzz_seconds: u32,
    /// Rows of the CSV file ingested while being killed.
    pub(crate) csv_rows: usize,
    /// The seed of every random choice (kill delays).
    pub(crate) seed: u64,
}

impl Plan {
    pub(crate) fn new(quick: bool) -> Self {
        Plan {
            quick,
            kills: if quick { 5 } else { 50 },
            writers: 16,
            records_per_writer: if quick { 2 } else { 5 },
            fuzz_seconds: if quick { 10 } else { 60 },
            csv_rows: 100_000,
            seed: 0x0D51_5EED,
        }
    }
}

/// The back-ends under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Driver {
    Sqlite,
    Parquet,
    S3,
}

impl Driver {
    pub(crate) const ALL: [Driver; 3] = [Driver::Sqlite, Driver::Parquet, Driver::S3];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Driver::Sqlite => "sqlite",
            Driver::Parquet => "parquet",
            Driver::S3 => "s3",
        }
    }
}

/// One store of one driver, fresh for one check.
#[derive(Debug, Clone)]
pub(crate) struct Store {
    pub(crate) driver: Driver,
    /// The file, directory or URL.
    pub(crate) location: String,
    /// Driver options (`--option key=value`), e.g. an S3 endpoint.
    pub(crate) options: Vec<String>,
}

impl Store {
    /// The global flags selecting this store.
    pub(crate) fn flags(&self) -> Vec<String> {
        let mut flags = vec![
            "--driver".into(),
            self.driver.name().into(),
            "--store".into(),
            self.location.clone(),
        ];
        for option in &self.options {
            flags.extend(["--option".into(), option.clone()]);
        }
        flags
    }

    /// The local directory of a Parquet store.
    pub(crate) fn local_dir(&self) -> Option<&Path> {
        (self.driver == Driver::Parquet).then(|| Path::new(&self.location))
    }
}

/// What `dsi --json inspect` says about a store.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StoreState {
    /// Rows per table.
    pub(crate) tables: BTreeMap<String, u64>,
    /// Column names per table.
    pub(crate) columns: BTreeMap<String, Vec<String>>,
    /// Blobs stored.
    pub(crate) blobs: u64,
    /// The whole output, for before/after comparisons.
    pub(crate) raw: String,
}

impl StoreState {
    pub(crate) fn rows(&self, table: &str) -> u64 {
        self.tables.get(table).copied().unwrap_or(0)
    }
}

/// What `dsi --json fsck` says.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Fsck {
    pub(crate) exit: Option<i32>,
    pub(crate) blobs: u64,
    pub(crate) runs: u64,
    pub(crate) problems: Vec<String>,
}

impl Fsck {
    pub(crate) fn clean(&self) -> bool {
        self.exit == Some(0) && self.problems.is_empty()
    }
}

/// The running suite: where things are and how `dsi` is run.
#[derive(Debug)]
pub(crate) struct Ctx {
    pub(crate) plan: Plan,
    /// The `dsi` binary (debug build).
    pub(crate) dsi: PathBuf,
    /// Everything the suite writes (removed at the start of each run).
    pub(crate) work: PathBuf,
    /// The test services' variables.
    pub(crate) env: BTreeMap<String, String>,
    /// `s3://bucket/reliability-<time>`: this run's S3 prefix, on the moto
    /// server (whose create-if-absent is atomic under races, as the S3
    /// driver requires of many writers; s3s-fs's is not).
    pub(crate) s3_base: String,
    /// The moto server's endpoint URL.
    pub(crate) s3_endpoint: String,
    /// A valid Runfile pinned to the local test image.
    pub(crate) runfile: PathBuf,
}

impl Ctx {
    /// A fresh store named `name` on `driver`.
    pub(crate) fn store(&self, driver: Driver, name: &str) -> anyhow::Result<Store> {
        let dir = self.work.join("stores").join(name);
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let (location, options) = match driver {
            Driver::Sqlite => (dir.join("dsi.db").display().to_string(), Vec::new()),
            Driver::Parquet => (dir.join("dsi-data").display().to_string(), Vec::new()),
            Driver::S3 => (
                format!("{}/{name}", self.s3_base),
                vec![format!("endpoint={}", self.s3_endpoint)],
            ),
        };
        Ok(Store {
            driver,
            location,
            options,
        })
    }

    /// `dsi FLAGS ARGS` in the work directory, with the services'
    /// environment, temporary files under the work directory, no colours.
    pub(crate) fn command(&self, store: Option<&Store>, args: &[&str]) -> Command {
        let mut c = Command::new(&self.dsi);
        if let Some(s) = store {
            c.args(s.flags());
        }
        c.args(args)
            .current_dir(&self.work)
            .envs(&self.env)
            .env("TMPDIR", self.work.join("tmp"))
            .env("NO_COLOR", "1")
            .env(
                "CH_IMAGE_STORAGE",
                self.env
                    .get("DSI_TEST_BUILD_STORAGE")
                    .map_or("", String::as_str),
            )
            .env_remove("DSI_DRIVER")
            .env_remove("DSI_STORE")
            .stdin(Stdio::null());
        c
    }

    /// Runs `dsi` to completion.
    pub(crate) fn output(&self, store: Option<&Store>, args: &[&str]) -> anyhow::Result<Output> {
        self.command(store, args)
            .output()
            .with_context(|| format!("running {} {args:?}", self.dsi.display()))
    }

    /// Runs `dsi`, failing with its stderr unless it succeeds.
    pub(crate) fn ok(&self, store: Option<&Store>, args: &[&str]) -> anyhow::Result<String> {
        let out = self.output(store, args)?;
        if !out.status.success() {
            bail!(
                "dsi {} failed ({}): {}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// `dsi --json inspect`: fails if the store does not open.
    pub(crate) fn inspect(&self, store: &Store) -> anyhow::Result<StoreState> {
        let raw = self.ok(Some(store), &["--json", "inspect"])?;
        let v = json::parse(&raw).context("parsing dsi inspect --json")?;
        let s = &v.items().first().context("no store in dsi inspect")?["store"];
        let mut tables = BTreeMap::new();
        let mut columns = BTreeMap::new();
        for t in s["tables"].items() {
            let name = t["name"].as_str().unwrap_or_default().to_owned();
            tables.insert(name.clone(), t["rows"].as_u64().unwrap_or(0));
            columns.insert(
                name,
                t["columns"]
                    .items()
                    .iter()
                    .filter_map(|c| c["name"].as_str().map(str::to_owned))
                    .collect(),
            );
        }
        Ok(StoreState {
            tables,
            columns,
            blobs: s["blobs"].as_u64().unwrap_or(0),
            raw,
        })
    }

    /// `dsi --json fsck`.
    pub(crate) fn fsck(&self, store: &Store) -> anyhow::Result<Fsck> {
        let out = self.output(Some(store), &["--json", "fsck"])?;
        let text = String::from_utf8_lossy(&out.stdout);
        let v = json::parse(&text).with_context(|| {
            format!(
                "dsi fsck printed no JSON ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )
        })?;
        Ok(Fsck {
            exit: out.status.code(),
            blobs: v["blobs"].as_u64().unwrap_or(0),
            runs: v["runs"].as_u64().unwrap_or(0),
            problems: v["problems"]
                .items()
                .iter()
                .filter_map(|p| p.as_str().map(str::to_owned))
                .collect(),
        })
    }

    /// Every run id in a store (`dsi --json list --all`), in list order.
    pub(crate) fn run_ids(&self, store: &Store) -> anyhow::Result<Vec<String>> {
        let raw = self.ok(Some(store), &["--json", "list", "--all"])?;
        Ok(json::parse(&raw)?["runs"]
            .items()
            .iter()
            .map(|r| r["run_id"].as_str().unwrap_or_default().to_owned())
            .collect())
    }
}

/// A section (or part of one): its rows, or why it could not run.
pub(crate) type Part = fn(&Ctx) -> anyhow::Result<Vec<Row>>;

/// One line of the report.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub(crate) section: &'static str,
    pub(crate) check: String,
    pub(crate) driver: String,
    /// How many times it ran, in words.
    pub(crate) runs: String,
    pub(crate) ok: bool,
    /// What was seen (numbers, or the failures).
    pub(crate) detail: String,
}

/// SplitMix64: small, seedable, good enough for kill delays.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64, stream: &str) -> Self {
        // FNV-1a of the stream name, so each check has its own sequence.
        let h = stream.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        Rng(seed ^ h)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub(crate) fn unit(&mut self) -> f64 {
        #[allow(clippy::cast_precision_loss, reason = "53 random bits")]
        let x = (self.next_u64() >> 11) as f64;
        x / (1u64 << 53) as f64
    }
}

/// Sends SIGKILL to a process group started with `process_group(0)` (the
/// writer and anything it started).
pub(crate) fn kill_group(pid: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pid}")])
        .stderr(Stdio::null())
        .status();
}

/// Milliseconds, for reports.
pub(crate) fn ms(d: Duration) -> u128 {
    d.as_millis()
}

/// The first line of a process's stderr, and how many lines it has that are
/// not hints.
pub(crate) fn message(out: &Output) -> (String, usize) {
    let err = String::from_utf8_lossy(&out.stderr);
    if let Some((message, _)) = json_error(&err) {
        return (format!("error: {message}"), 1);
    }
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| !l.trim_start().starts_with("hint:"))
        .collect();
    (
        lines.first().copied().unwrap_or_default().to_owned(),
        lines.len(),
    )
}

/// The message and hint of an error printed under `--json` (one
/// `{"error": {…}}` document on stderr).
pub(crate) fn json_error(stderr: &str) -> Option<(String, String)> {
    let text = stderr.trim();
    if !text.starts_with("{\"error\"") || text.lines().count() != 1 {
        return None;
    }
    let v = crate::json::parse(text).ok()?;
    let e = &v["error"];
    Some((
        e["message"].as_str()?.to_owned(),
        e["hint"].as_str().unwrap_or_default().to_owned(),
    ))
}

/// Files whose name marks an unfinished write (dsi's `.tmp`, object_store's
/// `#N` staging files) under a local dataset.
pub(crate) fn debris(dir: &Path) -> usize {
    let mut n = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(e.path());
            } else if name.ends_with(".tmp") || name.contains('#') {
                n += 1;
            }
        }
    }
    n
}
