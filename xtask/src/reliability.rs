//! `cargo xtask reliability [--quick]`: the reliability suite, written to
//! `bench/RELIABILITY.md`.
//!
//! Five sections, each a list of checks on every driver (SQLite, a local
//! Parquet dataset, S3 on the test server), all through the debug `dsi`
//! binary as a user runs it:
//!
//! * **Crash safety** ([`crash`]) — writers killed with SIGKILL at seeded
//!   random points during `dsi record` and a 100k-row `dsi ingest csv`; the
//!   store must always open, hold whole puts only, and pass `dsi fsck`;
//! * **Concurrency** ([`concurrency`]) — 16 processes recording into one
//!   store at once: every record there exactly once, fsck clean;
//! * **Hostile input** ([`hostile`]) — malicious tarballs and zstd bombs as
//!   stored artifacts, malformed Runfiles, bad CSV, SQL injection: each
//!   refused with one line, nothing stored;
//! * **Faults** ([`faults`]) — the S3 server stopped in the middle of a
//!   put, the registry unreachable during image acquisition, the disk full:
//!   one line, and a store that fsck accepts;
//! * **Fuzzing** ([`fuzzing`]) — the cargo-fuzz targets (`runfile_parse`,
//!   `unpack`, `csv_reader`), time-boxed.
//!
//! `--quick` (what `cargo xtask ci` runs) does fewer kills, fewer records
//! and 10 s per fuzz target; `--only SECTION` runs some sections. Both write
//! their report to `target/reliability/RELIABILITY.md` unless `--out` says
//! otherwise, so that only a full run replaces `bench/RELIABILITY.md`. The
//! test services are reused when running, else started (and stopped again
//! afterwards). Everything else the suite writes is under
//! `target/reliability/` and, on S3, under a prefix named after the run.
//! The task fails if any check fails, after writing the report.

mod concurrency;
mod crash;
mod faults;
mod fuzzing;
mod harness;
mod hostile;
mod report;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};

use crate::services;
use crate::util::{cargo, project_root, run as sh, target_dir};
use harness::{Ctx, Part, Plan, Row};

/// A section of the suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Section {
    /// Writers killed with SIGKILL.
    Crash,
    /// 16 writers at once.
    Concurrency,
    /// Hostile artifacts, Runfiles, CSV, SQL.
    Hostile,
    /// The S3 server stopped, the registry unreachable, the disk full.
    Faults,
    /// The fuzz targets.
    Fuzz,
}

/// `cargo xtask reliability` options.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    /// Fewer repetitions (CI).
    pub(crate) quick: bool,
    /// Only these sections (all when empty).
    pub(crate) only: Vec<Section>,
    /// Where to write the report.
    pub(crate) out: Option<PathBuf>,
}

/// The test services, reused or started.
struct Services {
    env: BTreeMap<String, String>,
    started: bool,
}

fn alive(pidfile: &Path) -> bool {
    fs::read_to_string(pidfile).is_ok_and(|pid| Path::new("/proc").join(pid.trim()).exists())
}

impl Services {
    /// The running services' environment, or freshly started ones.
    fn acquire() -> anyhow::Result<Self> {
        let dir = services::services_dir();
        let env: Option<BTreeMap<String, String>> =
            fs::read_to_string(services::env_file()).ok().map(|t| {
                t.lines()
                    .filter_map(|l| l.split_once('='))
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect()
            });
        if let Some(env) = env
            && alive(&dir.join("s3").join("s3s-fs.pid"))
            && env
                .get("DSI_TEST_BUILD_STORAGE")
                .is_some_and(|s| Path::new(s).is_dir())
            && env.contains_key("DSI_TEST_S3_BUCKET")
            && env.contains_key("DSI_TEST_MOTO_ENDPOINT")
        {
            eprintln!("xtask: reliability: reusing the running test services");
            return Ok(Services {
                env,
                started: false,
            });
        }
        eprintln!("xtask: reliability: starting the test services");
        Ok(Services {
            env: services::start()?,
            started: true,
        })
    }

    fn finish(&self) -> anyhow::Result<()> {
        if self.started {
            eprintln!("xtask: reliability: stopping the test services it started");
            services::stop()?;
        }
        Ok(())
    }
}

/// Builds `dsi` (and the hostile-artifact test) and prepares the work
/// directory and a valid Runfile.
fn prepare(plan: Plan, env: BTreeMap<String, String>) -> anyhow::Result<Ctx> {
    // The same build as CI's tests, so nothing is rebuilt there.
    sh(cargo().args([
        "test",
        "--workspace",
        "--all-features",
        "--no-run",
        "--test",
        "hostile_artifacts",
    ]))?;
    let dsi = target_dir().join("debug").join("dsi");
    if !dsi.is_file() {
        bail!("{} was not built", dsi.display());
    }
    let work = target_dir().join("reliability").join("work");
    if work.exists() {
        fs::remove_dir_all(&work).with_context(|| format!("removing {}", work.display()))?;
    }
    fs::create_dir_all(work.join("tmp"))?;
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let var = |name: &str| {
        env.get(name)
            .cloned()
            .with_context(|| format!("{name} missing from the services' environment"))
    };
    let (bucket, s3_endpoint) = (var("DSI_TEST_MOTO_BUCKET")?, var("DSI_TEST_MOTO_ENDPOINT")?);
    let mut ctx = Ctx {
        plan,
        dsi,
        work,
        env,
        s3_base: format!("s3://{bucket}/reliability-{stamp}"),
        s3_endpoint,
        runfile: PathBuf::new(),
    };
    let storage = ctx
        .env
        .get("DSI_TEST_BUILD_STORAGE")
        .cloned()
        .context("DSI_TEST_BUILD_STORAGE missing from the services' environment")?;
    let from = ctx.ok(
        None,
        &["runfile", "pin", "dsi-test", "--ch-storage", &storage],
    )?;
    let runfile = ctx.work.join("Runfile");
    fs::write(&runfile, format!("{}\nCMD [\"/bin/true\"]\n", from.trim()))?;
    ctx.runfile = runfile;
    Ok(ctx)
}

/// `cargo xtask reliability`.
pub(crate) fn run(options: &Options) -> anyhow::Result<()> {
    let start = Instant::now();
    let plan = Plan::new(options.quick);
    let services = Services::acquire()?;
    let result = suite(plan, &services.env, &options.only);
    services.finish()?;
    let (rows, sections) = result?;
    let elapsed = start.elapsed();
    let text = report::render(&plan, &rows, elapsed, &sections);
    let out = options.out.clone().unwrap_or_else(|| {
        if options.quick || !options.only.is_empty() {
            target_dir().join("reliability").join("RELIABILITY.md")
        } else {
            project_root().join("bench").join("RELIABILITY.md")
        }
    });
    if let Some(dir) = out.parent() {
        fs::create_dir_all(dir)?;
    }
    fs::write(&out, &text).with_context(|| format!("writing {}", out.display()))?;
    let failed: Vec<&Row> = rows.iter().filter(|r| !r.ok).collect();
    eprintln!(
        "xtask: reliability: {} of {} checks passed in {:.1} min; report in {}",
        rows.len() - failed.len(),
        rows.len(),
        elapsed.as_secs_f64() / 60.0,
        out.display()
    );
    if !failed.is_empty() {
        for r in &failed {
            eprintln!(
                "xtask: reliability: FAILED: {} / {} / {}: {}",
                r.section, r.check, r.driver, r.detail
            );
        }
        bail!("{} reliability check(s) failed", failed.len());
    }
    Ok(())
}

type Sections = Vec<(&'static str, Duration)>;

fn suite(
    plan: Plan,
    env: &BTreeMap<String, String>,
    only: &[Section],
) -> anyhow::Result<(Vec<Row>, Sections)> {
    let ctx = prepare(plan, env.clone())?;
    let mut rows = Vec::new();
    let mut sections = Vec::new();
    let parts: [(Section, &'static str, Part); 5] = [
        (Section::Crash, "crash safety", crash::run),
        (Section::Concurrency, "concurrency", concurrency::run),
        (Section::Hostile, "hostile input", hostile::run),
        (Section::Faults, "faults", faults::run),
        (Section::Fuzz, "fuzzing", fuzzing::run),
    ];
    for (section, name, part) in parts {
        if !only.is_empty() && !only.contains(&section) {
            continue;
        }
        eprintln!("xtask: reliability: {name}");
        let t = Instant::now();
        match part(&ctx) {
            Ok(r) => rows.extend(r),
            Err(e) => rows.push(Row {
                section: name,
                check: "section".into(),
                driver: "all".into(),
                runs: "aborted".into(),
                ok: false,
                detail: format!("{e:#}"),
            }),
        }
        sections.push((name, t.elapsed()));
    }
    Ok((rows, sections))
}

/// `cargo xtask reliability --quick`, as CI runs it after the tests.
pub(crate) fn quick() -> anyhow::Result<()> {
    run(&Options {
        quick: true,
        only: Vec::new(),
        out: None,
    })
}
