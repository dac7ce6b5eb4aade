//! Faults: the world failing under a writer, not the writer itself.
//!
//! * **S3 server stopped mid-put** — a private s3s-fs (so the shared test
//!   server stays up) is stopped at a seeded random point while `dsi record`
//!   uploads a repository of 16 MiB of random data (a ~32 MiB blob, sent as
//!   a multipart upload), then restarted on the same port and data. The
//!   record must fail with one line (or have finished before the stop), and
//!   afterwards the store must hold exactly the records known to have
//!   finished and pass `dsi fsck`.
//! * **Registry unreachable during acquisition** — `dsi record` and
//!   `dsi replay` of the test image with a new image storage while
//!   `HTTPS_PROXY` points at a closed loopback port, so `ch-image pull`
//!   cannot reach the real registry: one line, E401 (offline, RUNFILE.md
//!   §8.3) with a hint naming the unreachable registry, nothing stored, and
//!   the same commands succeed once the registry is reachable again.
//! * **Disk full** — a SQLite store and a local Parquet dataset on a small
//!   tmpfs filled up to its last 256 KiB: `dsi record` of the same large
//!   repository and `dsi ingest csv` of the 100k-row file fail with one line
//!   each, the store is unchanged and passes fsck, and once space is freed a
//!   put succeeds.
//!
//! The tmpfs needs root (as the rest of the suite does for Charliecloud);
//! when it cannot be mounted the check fails, it is not skipped.

use std::collections::BTreeMap;
use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Instant;

use anyhow::{Context, bail};

use crate::json::Items as _;

use super::harness::{Ctx, Driver, Rng, Row, Store, message, ms};

const SECTION: &str = "Faults";

/// Random data in each large repository.
const REPO_DATA: usize = 16 << 20;

/// One fault check.
type Check = fn(&Ctx) -> anyhow::Result<Row>;

/// Every fault.
pub(crate) fn run(ctx: &Ctx) -> anyhow::Result<Vec<Row>> {
    super::crash::write_csv(ctx)?;
    let checks: [(&str, &str, Check); 4] = [
        ("S3 server stopped mid-put (`dsi record`)", "s3", s3_stopped),
        (
            "registry unreachable during image acquisition",
            "sqlite",
            registry_unreachable,
        ),
        ("disk full (tmpfs)", "sqlite", |c| {
            disk_full(c, Driver::Sqlite)
        }),
        ("disk full (tmpfs)", "parquet", |c| {
            disk_full(c, Driver::Parquet)
        }),
    ];
    let mut rows = Vec::new();
    for (check, driver, f) in checks {
        let start = Instant::now();
        let row = f(ctx).unwrap_or_else(|e| Row {
            section: SECTION,
            check: check.into(),
            driver: driver.into(),
            runs: "aborted".into(),
            ok: false,
            detail: format!("{e:#}"),
        });
        eprintln!(
            "xtask: reliability: faults {check} {driver}: {} ({:.1} s)",
            if row.ok { "ok" } else { "FAILED" },
            start.elapsed().as_secs_f64()
        );
        rows.push(row);
    }
    Ok(rows)
}

/// A fresh git repository at `dir` holding the suite's Runfile and
/// [`REPO_DATA`] bytes of random data (different for every `stream`), so
/// that recording it stores a new, incompressible blob.
fn large_repo(ctx: &Ctx, dir: &Path, stream: &str) -> anyhow::Result<PathBuf> {
    if dir.exists() {
        fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    fs::create_dir_all(dir)?;
    let mut rng = Rng::new(ctx.plan.seed, stream);
    let data: Vec<u8> = (0..REPO_DATA / 8)
        .flat_map(|_| rng.next_u64().to_le_bytes())
        .collect();
    fs::write(dir.join("data.bin"), data)?;
    fs::copy(&ctx.runfile, dir.join("Runfile"))?;
    for args in [
        &["init", "-q"][..],
        &["add", "-A"],
        &[
            "-c",
            "user.name=dsi reliability",
            "-c",
            "user.email=dsi@localhost",
            "commit",
            "-qm",
            "large repository",
        ],
    ] {
        let st = Command::new("git")
            .args(args)
            .current_dir(dir)
            .stdout(Stdio::null())
            .status()
            .context("running git")?;
        if !st.success() {
            bail!("git {} failed in {}", args.join(" "), dir.display());
        }
    }
    Ok(dir.join("Runfile"))
}

/// `dsi record --repo DIR DIR/Runfile` on `store`.
fn record_large(ctx: &Ctx, store: &Store, repo: &Path, env: &BTreeMap<String, String>) -> Command {
    let runfile = repo.join("Runfile").display().to_string();
    let repo = repo.display().to_string();
    let mut c = ctx.command(
        Some(store),
        &["--json", "record", "--repo", &repo, &runfile],
    );
    c.envs(env).stdout(Stdio::piped()).stderr(Stdio::piped());
    c
}

/// Whether a failure was reported as one `error:` line.
fn one_line(out: &Output) -> Result<String, String> {
    let (first, lines) = message(out);
    if out.status.success() {
        return Err("succeeded".into());
    }
    if lines != 1 || !first.contains("error: ") {
        return Err(format!(
            "not one error line ({lines} lines): {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(first)
}

/// Checks that a command failed with one E402 line naming the unreachable
/// registry and a hint; keeps the line, or says what is wrong.
fn offline(out: &Output, what: &str, lines: &mut Vec<String>, problems: &mut Vec<String>) {
    match one_line(out) {
        Ok(l)
            if l.contains("E402")
                && l.contains("is unreachable")
                && hint(out).contains("reachable") =>
        {
            lines.push(format!("{l} / {}", hint(out)));
        }
        Ok(l) => problems.push(format!("{what}: not E402 (unreachable) with a hint: {l}")),
        Err(e) => problems.push(format!("{what}: {e}")),
    }
}

/// The `hint:` line of a failure's stderr, shortened.
fn hint(out: &Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr);
    if let Some((_, h)) = super::harness::json_error(&err) {
        return h.chars().take(160).collect();
    }
    let h = err
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("hint: "))
        .unwrap_or_default();
    h.chars().take(160).collect()
}

/// Checks that the store holds `runs` runs, the state `before` (when given)
/// and a clean fsck; appends what is wrong to `problems`.
fn settled(
    ctx: &Ctx,
    store: &Store,
    env: &BTreeMap<String, String>,
    runs: u64,
    before: Option<&str>,
    what: &str,
    problems: &mut Vec<String>,
) -> anyhow::Result<()> {
    let inspect = |args: &[&str]| -> anyhow::Result<Output> {
        let mut c = ctx.command(Some(store), args);
        c.envs(env);
        c.output().context("running dsi")
    };
    let out = inspect(&["--json", "inspect"])?;
    if runs == 0 && missing_store(&out) {
        // Read commands never create a store: none was made, nothing stored.
        if before.is_some_and(|b| b != ABSENT) {
            problems.push(format!("{what}: the store disappeared"));
        }
        return Ok(());
    }
    if !out.status.success() {
        problems.push(format!(
            "{what}: the store does not open: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
        return Ok(());
    }
    let raw = String::from_utf8_lossy(&out.stdout).into_owned();
    let v = crate::json::parse(&raw)?;
    let have = v
        .items()
        .first()
        .map(|s| s["store"]["tables"].items())
        .unwrap_or_default()
        .iter()
        .find(|t| t["name"].as_str() == Some("runs"))
        .and_then(|t| t["rows"].as_u64())
        .unwrap_or(0);
    if have != runs {
        problems.push(format!("{what}: {have} runs stored, expected {runs}"));
    }
    // A record that fails after opening its store leaves it empty: that
    // is not a change of what it holds.
    if let Some(before) = before
        && before != ABSENT
        && raw != before
    {
        problems.push(format!("{what}: the store changed"));
    }
    let fsck = inspect(&["fsck"])?;
    if !fsck.status.success() {
        problems.push(format!(
            "{what}: fsck failed: {}",
            String::from_utf8_lossy(&fsck.stdout).trim()
        ));
    }
    Ok(())
}

/// What [`state`] says of a store that does not exist.
const ABSENT: &str = "(no store)";

/// Whether `dsi inspect` failed because the store does not exist.
fn missing_store(out: &Output) -> bool {
    !out.status.success()
        && String::from_utf8_lossy(&out.stderr).contains("read commands never create a store")
}

/// The store's `dsi --json inspect` output ([`ABSENT`] when there is none).
fn state(ctx: &Ctx, store: &Store, env: &BTreeMap<String, String>) -> anyhow::Result<String> {
    let mut c = ctx.command(Some(store), &["--json", "inspect"]);
    c.envs(env);
    let out = c.output()?;
    if missing_store(&out) {
        return Ok(ABSENT.to_owned());
    }
    if !out.status.success() {
        bail!(
            "dsi inspect failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn s3_stopped(ctx: &Ctx) -> anyhow::Result<Row> {
    let dir = ctx.work.join("faults-s3");
    fs::create_dir_all(&dir)?;
    let env = crate::s3::start(&dir)?;
    let result = s3_stopped_with(ctx, &dir, &env);
    crate::s3::stop(&dir);
    result
}

fn s3_stopped_with(ctx: &Ctx, dir: &Path, env: &BTreeMap<String, String>) -> anyhow::Result<Row> {
    let store = Store {
        driver: Driver::S3,
        location: format!("s3://{}/faults", crate::s3::BUCKET),
        options: Vec::new(),
    };
    // Give up on the stopped server within seconds, not the default minute.
    let retry = [
        "--option",
        "retry_timeout_secs=3",
        "--option",
        "max_retries=2",
    ];
    let record = |repo: &Path| {
        let mut c = record_large(ctx, &store, repo, env);
        c.args(retry);
        c
    };
    let repos = ctx.work.join("faults-s3-repos");

    // One uninterrupted record: its duration bounds the stop delays.
    let repo = repos.join("r0");
    large_repo(ctx, &repo, "s3-0")?;
    let t0 = Instant::now();
    let out = record(&repo).output()?;
    let full = t0.elapsed();
    if !out.status.success() {
        bail!(
            "the uninterrupted record failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let mut complete = 1u64;
    let mut problems = Vec::new();
    let mut rng = Rng::new(ctx.plan.seed, "faults-s3");
    let (mut failed, mut finished) = (0usize, 0usize);
    let mut first_error = String::new();
    let tries = if ctx.plan.quick { 3 } else { 10 };
    for i in 1..=tries {
        let repo = repos.join(format!("r{i}"));
        large_repo(ctx, &repo, &format!("s3-{i}"))?;
        // Inside the run's second half and a little past it: the upload.
        let delay = full.mul_f64(0.4 + 0.5 * rng.unit());
        let child = record(&repo).spawn()?;
        std::thread::sleep(delay);
        crate::s3::stop(dir);
        let out = child.wait_with_output()?;
        crate::s3::restart(dir, env)?;
        if out.status.success() {
            finished += 1;
            complete += 1;
        } else {
            match one_line(&out) {
                Ok(line) => {
                    failed += 1;
                    if first_error.is_empty() {
                        first_error = line;
                    }
                }
                Err(e) => problems.push(format!("stop {i} after {} ms: {e}", ms(delay))),
            }
        }
        settled(
            ctx,
            &store,
            env,
            complete,
            None,
            &format!("stop {i}"),
            &mut problems,
        )?;
        fs::remove_dir_all(&repo)?;
    }
    let ok = problems.is_empty() && failed > 0;
    if failed == 0 {
        problems.push("no stop hit a record in flight".into());
    }
    Ok(Row {
        section: SECTION,
        check: "S3 server stopped mid-put (`dsi record` of a ~32 MiB blob)".into(),
        driver: "s3".into(),
        runs: format!("{tries} stops"),
        ok,
        detail: if ok {
            format!(
                "{failed} records failed with one line (e.g. `{first_error}`), {finished} had \
                 finished first; after each restart the store held exactly the {complete} \
                 finished records and fsck was clean; uninterrupted record {} ms",
                ms(full)
            )
        } else {
            problems.join("; ")
        },
    })
}

fn registry_unreachable(ctx: &Ctx) -> anyhow::Result<Row> {
    let image = ctx
        .env
        .get("DSI_TEST_IMAGE")
        .context("DSI_TEST_IMAGE missing from the services' environment")?;
    let dir = ctx.work.join("faults-registry");
    fs::create_dir_all(&dir)?;
    let runfile = dir.join("Runfile");
    fs::write(&runfile, format!("FROM {image}\nCMD [\"/bin/true\"]\n"))?;
    let runfile = runfile.display().to_string();
    let store = ctx.store(Driver::Sqlite, "faults-registry")?;
    let closed = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let proxy = format!("http://127.0.0.1:{closed}");
    let no_registry: BTreeMap<String, String> = ["HTTPS_PROXY", "https_proxy"]
        .into_iter()
        .map(|k| (k.to_owned(), proxy.clone()))
        .collect();
    // Storage that does not exist yet (ch-image refuses an empty directory).
    let storage = |name: &str| -> anyhow::Result<String> {
        let s = dir.join(name);
        if s.exists() {
            fs::remove_dir_all(&s)?;
        }
        Ok(s.display().to_string())
    };
    let dsi = |args: &[&str], env: &BTreeMap<String, String>| -> anyhow::Result<Output> {
        let mut c = ctx.command(Some(&store), args);
        c.envs(env).env_remove("NO_PROXY").env_remove("no_proxy");
        c.output().context("running dsi")
    };
    let mut problems = Vec::new();
    let mut lines = Vec::new();
    let empty = BTreeMap::new();
    let before = state(ctx, &store, &empty)?;

    // record: the image must be pulled, and cannot be.
    let s1 = storage("storage-1")?;
    let out = dsi(&["record", &runfile, "--ch-storage", &s1], &no_registry)?;
    offline(&out, "record", &mut lines, &mut problems);
    settled(
        ctx,
        &store,
        &empty,
        0,
        Some(&before),
        "after the failed record",
        &mut problems,
    )?;

    // With the registry reachable again, the same record works.
    let out = dsi(&["--json", "record", &runfile, "--ch-storage", &s1], &empty)?;
    if !out.status.success() {
        bail!(
            "record with the registry reachable failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let v = crate::json::parse(&String::from_utf8_lossy(&out.stdout))?;
    let commit = v["record"]["commit"]
        .as_str()
        .context("dsi record --json printed no commit")?
        .to_owned();
    let before = state(ctx, &store, &empty)?;

    // replay into a new storage: acquisition fails the same way.
    let s2 = storage("storage-2")?;
    let out = dsi(&["replay", &commit, "--ch-storage", &s2], &no_registry)?;
    offline(&out, "replay", &mut lines, &mut problems);
    settled(
        ctx,
        &store,
        &empty,
        1,
        Some(&before),
        "after the failed replay",
        &mut problems,
    )?;
    let out = dsi(&["replay", &commit, "--ch-storage", &s2], &empty)?;
    if !out.status.success() {
        problems.push(format!(
            "replay with the registry reachable failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    settled(
        ctx,
        &store,
        &empty,
        2,
        None,
        "after the replay",
        &mut problems,
    )?;
    let ok = problems.is_empty();
    Ok(Row {
        section: SECTION,
        check: "registry unreachable during image acquisition (`HTTPS_PROXY` to a closed port)"
            .into(),
        driver: "sqlite".into(),
        runs: "record + replay".into(),
        ok,
        detail: if ok {
            format!(
                "record and replay each refused with one line ({}); nothing stored, fsck clean; \
                 both succeeded with the registry reachable",
                lines
                    .iter()
                    .map(|l| format!("`{l}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        } else {
            problems.join("; ")
        },
    })
}

/// A tmpfs mounted at a directory for as long as it lives.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, bytes: u64) -> anyhow::Result<Tmpfs> {
        fs::create_dir_all(dir)?;
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={bytes}"),
                "dsi-reliability",
            ])
            .arg(dir)
            .output()
            .context("running mount")?;
        if !out.status.success() {
            bail!(
                "cannot mount a tmpfs at {} (needs root): {}",
                dir.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(Tmpfs(dir.to_path_buf()))
    }

    /// Free bytes on it.
    fn available(&self) -> anyhow::Result<u64> {
        let out = Command::new("df")
            .args(["--output=avail", "-B1"])
            .arg(&self.0)
            .output()?;
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .nth(1)
            .and_then(|l| l.trim().parse().ok())
            .context("df printed no free space")
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

fn disk_full(ctx: &Ctx, driver: Driver) -> anyhow::Result<Row> {
    let name = format!("faults-full-{}", driver.name());
    let mount = ctx.work.join(&name);
    let fs = Tmpfs::mount(&mount, 128 << 20)?;
    let store = Store {
        driver,
        location: match driver {
            Driver::Sqlite => mount.join("dsi.db"),
            _ => mount.join("dsi-data"),
        }
        .display()
        .to_string(),
        options: Vec::new(),
    };
    let empty = BTreeMap::new();
    let mut problems = Vec::new();
    // One small record fits.
    let runfile = ctx.runfile.display().to_string();
    ctx.ok(Some(&store), &["record", &runfile])?;
    // Then the disk fills up, to its last 256 KiB.
    let filler = mount.join("filler");
    let free = fs.available()?;
    fs::write(
        &filler,
        vec![0u8; usize::try_from(free.saturating_sub(256 << 10))?],
    )
    .context("filling the tmpfs")?;
    let before = state(ctx, &store, &empty)?;

    let repo = large_repo(ctx, &ctx.work.join(format!("{name}-repo")), &name)?;
    let repo = repo.parent().context("repo")?.to_path_buf();
    let csv = ctx.work.join("rows.csv").display().to_string();
    let mut lines = Vec::new();
    for (what, out) in [
        ("record", record_large(ctx, &store, &repo, &empty).output()?),
        (
            "ingest",
            ctx.output(Some(&store), &["ingest", "csv", &csv, "--table", "t"])?,
        ),
    ] {
        match one_line(&out) {
            Ok(l) => lines.push(format!("{what}: `{l}`")),
            Err(e) => problems.push(format!("{what}: {e}")),
        }
        settled(
            ctx,
            &store,
            &empty,
            1,
            Some(&before),
            &format!("after the failed {what}"),
            &mut problems,
        )?;
    }
    // With space again, the store takes the same writes.
    fs::remove_file(&filler)?;
    let out = record_large(ctx, &store, &repo, &empty).output()?;
    if !out.status.success() {
        problems.push(format!(
            "record after freeing space failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    settled(
        ctx,
        &store,
        &empty,
        2,
        None,
        "after freeing space",
        &mut problems,
    )?;
    drop(fs);
    let ok = problems.is_empty();
    Ok(Row {
        section: SECTION,
        check: "disk full (128 MiB tmpfs, 256 KiB left): `dsi record` of a ~32 MiB blob, `dsi ingest csv` of 100k rows".into(),
        driver: driver.name().into(),
        runs: "2 writes".into(),
        ok,
        detail: if ok {
            format!(
                "{}; store unchanged and fsck clean after each; a record succeeded once space was freed",
                lines.join("; ")
            )
        } else {
            problems.join("; ")
        },
    })
}
