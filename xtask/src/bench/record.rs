//! Sections "Record, end to end" and "Replay": the release `dsi` binary as a
//! fresh process each time, the image already in ch-image storage, next to
//! the floor (a bare `git commit`, the raw `ch-run` argv) and DataLad (see
//! [`super::datalad`]).
//!
//! * Record: `dsi record Runfile` into a store in a scratch directory (a new
//!   repository each time), `dsi record Runfile --repo DIR` into one
//!   repository, `git add Runfile && git commit -q -m x`, and `datalad
//!   containers-run` of `true`. The Runfile gets a new comment line before
//!   every run, so that every run makes a commit.
//! * Replay: `dsi replay COMMIT` (also with `--check off` and `--offline`),
//!   the raw argv from `dsi runfile check --json` (`steps[0].argv`) and
//!   `datalad rerun` of a `containers-run` commit. Where dsi's time goes:
//!   `dsi --version`, `dsi checkout` and `dsi collect` as processes, and,
//!   when `strace` is installed, phases of traced replays told apart by
//!   marker system calls (see [`phases`]).

use std::cell::Cell;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

use super::datalad::{CALL_FMT, DataLad, git_identity};
use super::fmt::{delta, fmt_kib, fmt_range, fmt_secs, table};
use super::measure::{
    Prepared, Sample, Stats, alternate_prepared, copy_command, measure, measure_seq, secs_stats,
};
use super::{Plan, Services, bench_data, dsi_binary, fresh_dir, rftree};
use crate::json::{self, Json};
use crate::util::have;

/// What every dsi process needs.
struct Env {
    /// `$DSI_TEST_BUILD_STORAGE`: the ch-image storage holding `dsi-test`.
    storage: String,
    image_dir: PathBuf,
    user: String,
    /// `FROM --tree=rftree1+sha256:… dsi-test`, from `dsi runfile pin`.
    from: String,
}

impl Env {
    fn new(services: &mut Services) -> anyhow::Result<Env> {
        let dsi = dsi_binary();
        if !dsi.exists() {
            bail!("{} is missing (the release build failed?)", dsi.display());
        }
        let storage = services.var("DSI_TEST_BUILD_STORAGE", false)?;
        let image_dir = rftree::test_image_dir(services)?;
        let user = services.var("USER", false)?;
        let mut env = Env {
            storage,
            image_dir,
            user,
            from: String::new(),
        };
        let pin = measure(
            &env.dsi(&bench_data(), &["runfile", "pin", "dsi-test"]),
            false,
        )?;
        env.from = String::from_utf8_lossy(&pin.stdout)
            .lines()
            .find(|l| l.starts_with("FROM "))
            .context("`dsi runfile pin dsi-test` printed no FROM line")?
            .to_owned();
        Ok(env)
    }

    /// `dsi ARGS` in `cwd` (its store is `cwd/dsi.db`).
    fn dsi(&self, cwd: &Path, args: &[&str]) -> Command {
        let mut c = Command::new(dsi_binary());
        c.args(args)
            .current_dir(cwd)
            .env("USER", &self.user)
            .env("CH_IMAGE_STORAGE", &self.storage);
        c
    }

    /// The one-step Runfile, with a comment line when `run` is given.
    fn runfile(&self, run: Option<u64>) -> String {
        let mut text = format!("{}\nCMD [\"/bin/true\"]\n", self.from);
        if let Some(n) = run {
            let _ = writeln!(text, "# run {n}");
        }
        text
    }
}

/// `cmd` with OpenSSL pointed at no CA certificates: libgit2 initialises
/// OpenSSL on first use, and OpenSSL then parses the system CA bundle
/// (`/etc/ssl/certs/ca-certificates.crt`) although dsi makes no TLS
/// connection here. The difference to the plain run is what that costs.
fn without_ca_bundle(mut cmd: Command) -> Command {
    cmd.env("SSL_CERT_FILE", "/dev/null")
        .env("SSL_CERT_DIR", "/nonexistent");
    cmd
}

/// Peak RSS of one extra (untimed) run of each peer.
fn rss_runs(peers: &mut [Prepared<'_>]) -> anyhow::Result<Vec<Option<u64>>> {
    peers
        .iter_mut()
        .map(|p| Ok(measure_seq(&p()?, true)?.rss_kib))
        .collect()
}

fn met(ok: bool) -> &'static str {
    if ok { "met" } else { "**not met**" }
}

// ---------------------------------------------------------------- record

pub(super) fn record_section(
    plan: Plan,
    services: &mut Services,
    datalad: &mut DataLad,
) -> anyhow::Result<String> {
    let env = Env::new(services)?;
    let work = bench_data().join("record");
    fresh_dir(&work)?;
    let git_dir = work.join("git");
    fs::create_dir(&git_dir)?;
    measure(
        Command::new("git")
            .args(["init", "-q"])
            .current_dir(&git_dir),
        false,
    )?;
    let dl = datalad.ready(&env.image_dir, &env.user)?;

    let counter = Cell::new(0_u64);
    let next = || {
        counter.set(counter.get() + 1);
        Some(counter.get())
    };
    let runfile = work.join("Runfile");
    let (env, work, git_dir) = (&env, &work, &git_dir);
    let (runfile, next) = (&runfile, &next);
    let mut peers: Vec<Prepared<'_>> = vec![
        Box::new(move || {
            fs::write(runfile, env.runfile(next()))?;
            Ok(vec![env.dsi(work, &["record", "Runfile"])])
        }),
        Box::new(move || {
            fs::write(runfile, env.runfile(next()))?;
            Ok(vec![
                env.dsi(work, &["record", "Runfile", "--repo", "repo"]),
            ])
        }),
        Box::new(move || {
            fs::write(git_dir.join("Runfile"), env.runfile(next()))?;
            let git = |args: &[&str]| {
                let mut c = Command::new("git");
                c.args(args).current_dir(git_dir);
                git_identity(&mut c);
                c
            };
            Ok(vec![
                git(&["add", "Runfile"]),
                git(&["commit", "-q", "-m", "x"]),
            ])
        }),
        Box::new(|| Ok(vec![dl.containers_run()])),
        Box::new(move || {
            fs::write(runfile, env.runfile(next()))?;
            Ok(vec![without_ca_bundle(
                env.dsi(work, &["record", "Runfile"]),
            )])
        }),
    ];
    eprintln!(
        "xtask: bench: record: dsi, dsi --repo, git commit, datalad containers-run, dsi \
         without CA bundle"
    );
    let timed = alternate_prepared(
        &mut peers,
        plan.record_runs,
        &[3],
        plan.record_datalad_runs,
        false,
    )?;
    let rss = rss_runs(&mut peers)?;
    drop(peers);
    dl.note_run()?;
    let commits = String::from_utf8_lossy(
        &measure(
            Command::new("git")
                .args(["rev-list", "--count", "HEAD"])
                .current_dir(work.join("repo")),
            false,
        )?
        .stdout,
    )
    .trim()
    .to_owned();

    let labels = [
        "`dsi record Runfile` (a new repository each time)",
        "`dsi record Runfile --repo DIR` (one existing repository)",
        "floor: `git add Runfile && git commit -q -m x` (two processes)",
        "DataLad: `datalad containers-run -n dsi-test --sidecar yes true`",
        "diagnostic: `dsi record Runfile` with `SSL_CERT_FILE=/dev/null \
         SSL_CERT_DIR=/nonexistent` (libgit2's OpenSSL loads no CA certificates)",
    ];
    let dsi = secs_stats(&timed[0]).median;
    let floor = secs_stats(&timed[2]).median;
    let rows: Vec<Vec<String>> = labels
        .iter()
        .zip(&timed)
        .zip(&rss)
        .map(|((label, samples), rss)| {
            let s = secs_stats(samples);
            vec![
                (*label).to_owned(),
                s.n.to_string(),
                fmt_secs(s.median),
                fmt_range(s.min, s.max),
                format!("{:.2}", s.median / dsi),
                format!("{:.2}", s.median / floor),
                fmt_kib(*rss),
            ]
        })
        .collect();
    let datalad_median = secs_stats(&timed[3]).median;
    let mut out = String::from("## Record, end to end\n\n");
    let _ = writeln!(
        out,
        "Wall time of a fresh process each time, the image already in ch-image storage, \
         the variants alternated round by round after one untimed warm-up each (DataLad \
         in the first {} of the {} rounds). The Runfile is `{}` + `CMD [\"/bin/true\"]` \
         (`dsi runfile pin dsi-test`) plus a `# run N` comment that changes before every \
         run, so that every variant makes a commit. `dsi record` (release binary) parses \
         the Runfile, validates the image in storage (its `rftree1` digest), commits it \
         into a git repository, packs the repository (tar + zstd) and stores one row in \
         `./dsi.db` (SQLite) in a scratch directory; with `--repo` it commits into the \
         same repository every time ({commits} commits at the end). The floor commits the \
         same file with git alone, nothing stored. DataLad records by running: \
         `containers-run` executes the command in the container (ch-run + `/bin/true`, \
         a few ms of its time) and commits a run record.\n",
        plan.record_datalad_runs.min(plan.record_runs),
        plan.record_runs,
        env.from,
    );
    let _ = writeln!(
        out,
        "DataLad configuration: {}. A fresh dataset (`datalad create`); the container \
         image is the same directory dsi runs, `$DSI_TEST_BUILD_STORAGE/img/dsi-test`, \
         linked into the dataset as the symlink `.datalad/environments/dsi-test/image` \
         (committed to git); `datalad containers-add dsi-test -i \
         .datalad/environments/dsi-test/image --call-fmt \"{CALL_FMT}\"`. `--sidecar yes` \
         puts the run record into `.datalad/runinfo/`, so that a run of `true`, which \
         changes no file, still makes a commit (without it DataLad commits nothing and \
         there is nothing to rerun).\n",
        dl.versions
    );
    out.push_str(&table(
        &[
            "Variant",
            "n",
            "Median",
            "Min – max",
            "× dsi record",
            "× git floor",
            "Peak RSS",
        ],
        1,
        &rows,
    ));
    let _ = writeln!(
        out,
        "\n`dsi record` median {} (target under 50 ms: {}), {} above the git floor; \
         DataLad's `containers-run` takes {:.0}× as long. Parsing the system CA bundle \
         when libgit2 initialises OpenSSL (no TLS is used) costs {} of it (the diagnostic \
         row). Peak RSS from one extra run each under `/usr/bin/time` (the largest \
         process of the variant).",
        fmt_secs(dsi),
        met(dsi < 0.050),
        delta(dsi, floor),
        datalad_median / dsi,
        delta(dsi, secs_stats(&timed[4]).median),
    );
    Ok(out)
}

// ---------------------------------------------------------------- replay

pub(super) fn replay_section(
    plan: Plan,
    services: &mut Services,
    datalad: &mut DataLad,
) -> anyhow::Result<String> {
    let env = Env::new(services)?;
    let work = bench_data().join("replay");
    fresh_dir(&work)?;
    fs::write(work.join("Runfile"), env.runfile(None))?;
    let recorded = measure(&env.dsi(&work, &["--json", "record", "Runfile"]), false)?;
    let recorded = json::parse(&String::from_utf8_lossy(&recorded.stdout))?;
    let text = |j: &Json, key: &str| -> anyhow::Result<String> {
        j.get("record")
            .and_then(|r| r.get(key))
            .and_then(Json::as_str)
            .map(str::to_owned)
            .with_context(|| format!("`dsi --json record` printed no {key}"))
    };
    let commit = text(&recorded, "commit")?;
    let run_id = text(&recorded, "run_id")?;
    let check = measure(
        &env.dsi(
            &work,
            &[
                "--json",
                "runfile",
                "check",
                "Runfile",
                "--storage",
                &env.storage,
            ],
        ),
        false,
    )?;
    let check = json::parse(&String::from_utf8_lossy(&check.stdout))?;
    let argv: Vec<String> = check
        .get("steps")
        .and_then(Json::as_array)
        .and_then(|s| s.first())
        .and_then(|s| s.get("argv"))
        .and_then(Json::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Json::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let Some((program, args)) = argv.split_first() else {
        bail!("`dsi runfile check --json` printed no steps[0].argv");
    };
    let dl = datalad.ready(&env.image_dir, &env.user)?;
    let dl_commit = dl.run_commit()?;

    let (env, work) = (&env, &work);
    let mut raw = Command::new(program);
    raw.args(args)
        .current_dir(work)
        .env("USER", &env.user)
        .env("CH_IMAGE_STORAGE", &env.storage);
    let checkout = work.join("checkout");
    let mut peers: Vec<Prepared<'_>> = vec![
        fixed(raw),
        fixed(env.dsi(work, &["replay", &commit])),
        fixed(env.dsi(work, &["replay", &commit, "--check", "off"])),
        fixed(env.dsi(work, &["replay", &commit, "--offline"])),
        fixed(dl.datalad(&["rerun", &dl_commit])),
        fixed(without_ca_bundle(env.dsi(work, &["replay", &commit]))),
        fixed(env.dsi(work, &["--version"])),
        Box::new(|| {
            if checkout.exists() {
                fs::remove_dir_all(&checkout)?;
            }
            Ok(vec![env.dsi(work, &["checkout", &run_id, "checkout"])])
        }),
        fixed(env.dsi(work, &["collect"])),
    ];
    eprintln!(
        "xtask: bench: replay: raw ch-run, dsi replay (3 ways), datalad rerun, dsi replay \
         without CA bundle, dsi --version, dsi checkout, dsi collect"
    );
    let timed = alternate_prepared(
        &mut peers,
        plan.replay_runs,
        &[4],
        plan.replay_datalad_runs,
        false,
    )?;
    let rss = rss_runs(&mut peers[..5])?;
    drop(peers);

    let raw_median = secs_stats(&timed[0]).median;
    let labels = [
        "raw `ch-run` argv (`dsi runfile check --json` → `steps[0].argv`)",
        "`dsi replay COMMIT`",
        "`dsi replay COMMIT --check off`",
        "`dsi replay COMMIT --offline`",
        "DataLad: `datalad rerun COMMIT` (the `containers-run` above)",
    ];
    let row = |label: &str, samples: &[Sample], rss: Option<u64>| {
        let s = secs_stats(samples);
        vec![
            label.to_owned(),
            s.n.to_string(),
            fmt_secs(s.median),
            fmt_range(s.min, s.max),
            if std::ptr::eq(samples, timed[0].as_slice()) {
                "—".to_owned()
            } else {
                delta(s.median, raw_median)
            },
            format!("{:.2}", s.median / raw_median),
            fmt_kib(rss),
        ]
    };
    let rows: Vec<Vec<String>> = labels
        .iter()
        .zip(&timed)
        .zip(&rss)
        .map(|((l, s), r)| row(l, s, *r))
        .collect();
    let dsi = secs_stats(&timed[1]).median;
    let in_process = reported_ms(&timed[1]);

    let mut out = String::from("## Replay\n\n");
    let _ = writeln!(
        out,
        "A one-step Runfile (`{}` + `CMD [\"/bin/true\"]`) recorded once with `dsi record`, \
         then replayed: `dsi replay COMMIT` (release binary) finds the newest record of the \
         commit in `./dsi.db`, unpacks its repository into a temporary directory, \
         materialises the commit, re-validates the image (`rftree1`), compares this \
         system with the recorded one, runs the step via ch-run and stores a row. The raw \
         row runs the identical ch-run argv directly (with `--storage`, as the replay \
         passes it). DataLad reruns the `containers-run` commit made by the setup in \
         “Record, end to end” (same dataset and container). Fresh processes, image \
         present, alternated round by round after one untimed warm-up each (DataLad in \
         the first {} of the {} rounds). Δ and ratio against the raw ch-run median; peak \
         RSS from one extra run each.\n",
        env.from,
        plan.replay_datalad_runs.min(plan.replay_runs),
        plan.replay_runs,
    );
    out.push_str(&table(
        &[
            "Variant",
            "n",
            "Median",
            "Min – max",
            "Δ median",
            "Ratio",
            "Peak RSS",
        ],
        1,
        &rows,
    ));
    let _ = writeln!(
        out,
        "\nOverhead of `dsi replay` above raw ch-run: {} ({:.2}× the raw median; target \
         under 50 ms: {}). `datalad rerun` takes {:.0}× as long as `dsi replay`. ch-run \
         argv: `{}`.\n",
        delta(dsi, raw_median),
        dsi / raw_median,
        met(dsi - raw_median < 0.050),
        secs_stats(&timed[4]).median / dsi,
        argv.join(" "),
    );

    // Where the time goes.
    out.push_str("### Where `dsi replay`'s time goes\n\n");
    let _ = writeln!(
        out,
        "Other dsi processes timed in the same rounds, each covering a part of a replay \
         (medians over {} runs):\n",
        plan.replay_runs
    );
    let parts = [
        (
            "`dsi replay COMMIT`, `SSL_CERT_FILE=/dev/null SSL_CERT_DIR=/nonexistent`",
            "a whole replay, but the OpenSSL that libgit2 initialises loads no CA \
             certificates (dsi makes no TLS connection in a replay from a record)",
            &timed[5],
        ),
        (
            "`dsi --version`",
            "process start: loading, clap; no store",
            &timed[6],
        ),
        (
            "`dsi checkout RUN DIR`",
            "open the store, find the record, read and unpack its repository, \
             open it with libgit2, rebuild the index",
            &timed[7],
        ),
        (
            "`dsi collect`",
            "collect hostname and kernel_info (the system the replay compares), \
             store two rows",
            &timed[8],
        ),
    ];
    let part_rows: Vec<Vec<String>> = parts
        .iter()
        .map(|(label, what, samples)| {
            let s = secs_stats(samples);
            vec![
                (*label).to_owned(),
                (*what).to_owned(),
                fmt_secs(s.median),
                fmt_range(s.min, s.max),
            ]
        })
        .collect();
    out.push_str(&table(
        &["Process", "Covers", "Median", "Min – max"],
        2,
        &part_rows,
    ));
    let _ = writeln!(
        out,
        "\nParsing the system CA bundle when libgit2 initialises OpenSSL costs {} of every \
         replay (`dsi replay` minus the same without CA certificates).",
        delta(dsi, secs_stats(&timed[5]).median)
    );
    if let Some(ms) = in_process {
        let _ = writeln!(
            out,
            "\nThe replay's own timing of its step (`duration_ms` in the row, ms resolution; \
             ch-run spawn to exit): median {ms:.0} ms of the {} total.",
            fmt_secs(dsi)
        );
    }
    out.push('\n');
    out.push_str(&phase_table(
        plan,
        &env.dsi(work, &["replay", &commit]),
        dsi,
    )?);
    Ok(out)
}

/// A peer that runs the same process every time.
fn fixed(c: Command) -> Prepared<'static> {
    Box::new(move || Ok(vec![copy_command(&c)]))
}

/// The `exit 0 in N ms` a text-mode replay prints, median over samples.
fn reported_ms(samples: &[Sample]) -> Option<f64> {
    let ms: Vec<f64> = samples
        .iter()
        .filter_map(|s| {
            let text = String::from_utf8_lossy(&s.stdout).into_owned();
            let (_, tail) = text.rsplit_once(" in ")?;
            tail.trim().strip_suffix(" ms")?.trim().parse().ok()
        })
        .collect();
    (!ms.is_empty()).then(|| Stats::of(&ms).median)
}

/// What happens in each phase of a replay, in order (see [`phases`]).
const PHASES: [&str; 6] = [
    "process start, open the store, find the record (to the temporary directory's `mkdir`)",
    "read the stored tarball, unpack it, open it with libgit2 (first use initialises \
     libgit2 and OpenSSL, which loads the system CA bundle), rebuild the index (to the \
     `mkdir` of `commit/`)",
    "materialise the commit, parse the Runfile, validate the image (`rftree1` of its \
     tree) (to the first `uname`)",
    "collect this system's kernel_info (`/proc/sys` walk, `ch-run --version`), compare, \
     pre-flight, spawn (to the step's first `execve`)",
    "the step: ch-run + `/bin/true` (to that process's exit)",
    "store the row (SQLite, fsync), remove the temporary directory, exit",
];

/// Splits one `strace -f -ttt` trace of `dsi replay` into [`PHASES`]
/// (seconds). Markers: the first `mkdir` (the temporary directory), the
/// `mkdir` of `…/commit`, the first `uname` after it (kernel_info), the first
/// `execve` of the process that later executes `/bin/true` (the step's
/// ch-run) and that process's exit, and dsi's exit. `None` when a marker is
/// missing.
fn phases(trace: &str) -> Option<[f64; 6]> {
    let mut main: Option<&str> = None;
    let mut first_exec: HashMap<&str, f64> = HashMap::new();
    let (mut t0, mut tmp, mut commit, mut uname) = (None, None, None, None);
    let (mut step, mut step_pid, mut step_end, mut end) = (None, None, None, None);
    for line in trace.lines() {
        let mut parts = line.splitn(3, ' ');
        let (Some(pid), Some(ts), Some(rest)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let Ok(ts) = ts.parse::<f64>() else {
            continue;
        };
        let is_main = *main.get_or_insert(pid) == pid;
        if t0.is_none() {
            t0 = Some(ts);
        }
        let mkdir = rest.starts_with("mkdir(") || rest.starts_with("mkdirat(");
        if is_main && mkdir {
            tmp.get_or_insert(ts);
            if commit.is_none() && rest.contains("/commit\"") {
                commit = Some(ts);
            }
        }
        if is_main && commit.is_some() && uname.is_none() && rest.starts_with("uname(") {
            uname = Some(ts);
        }
        if rest.starts_with("execve(") {
            first_exec.entry(pid).or_insert(ts);
            if step_pid.is_none() && rest.starts_with("execve(\"/bin/true\"") {
                step_pid = Some(pid);
                step = first_exec.get(pid).copied();
            }
        }
        if rest.starts_with("+++ exited") {
            if step_pid == Some(pid) {
                step_end.get_or_insert(ts);
            }
            if is_main {
                end = Some(ts);
            }
        }
    }
    let marks = [t0?, tmp?, commit?, uname?, step?, step_end?, end?];
    if marks.windows(2).any(|w| w[1] < w[0]) {
        return None;
    }
    let mut out = [0.0; 6];
    for (i, w) in marks.windows(2).enumerate() {
        out[i] = w[1] - w[0];
    }
    Some(out)
}

/// Traced replays, split into phases (empty when strace is missing).
fn phase_table(plan: Plan, replay: &Command, untraced: f64) -> anyhow::Result<String> {
    let mut out = String::new();
    if !have("strace") {
        out.push_str("Phases of a replay: not measured (`strace` missing: `cargo xtask setup`).\n");
        return Ok(out);
    }
    let trace = bench_data().join("replay").join("strace.out");
    let mut strace = Command::new("strace");
    strace
        .args(["-f", "--seccomp-bpf", "-q", "-ttt", "-s", "256"])
        .args(["-e", "trace=execve,mkdir,mkdirat,uname,exit_group"])
        .args(["-e", "signal=none", "-o"])
        .arg(&trace)
        .arg(replay.get_program())
        .args(replay.get_args());
    for (k, v) in replay.get_envs() {
        if let Some(v) = v {
            strace.env(k, v);
        }
    }
    if let Some(d) = replay.get_current_dir() {
        strace.current_dir(d);
    }
    let mut split: Vec<[f64; 6]> = Vec::new();
    let mut totals = Vec::new();
    for _ in 0..plan.replay_traces {
        let s = match measure(&strace, false) {
            Ok(s) => s,
            Err(e) => {
                let _ = writeln!(
                    out,
                    "Phases of a replay: not measured (strace failed: {}).",
                    format!("{e:#}").lines().next().unwrap_or_default()
                );
                return Ok(out);
            }
        };
        totals.push(s.secs);
        let text = fs::read_to_string(&trace)?;
        split.extend(phases(&text));
    }
    if split.is_empty() {
        out.push_str(
            "Phases of a replay: not measured (the marker system calls were not found in \
             the traces: the replay's code changed; see `phases` in xtask/src/bench/record.rs).\n",
        );
        return Ok(out);
    }
    let traced = Stats::of(&totals).median;
    let sums: Vec<f64> = split.iter().map(|p| p.iter().sum()).collect();
    let sum_median = Stats::of(&sums).median;
    let mut rows = Vec::new();
    for (i, what) in PHASES.iter().enumerate() {
        let s = Stats::of(&split.iter().map(|p| p[i]).collect::<Vec<_>>());
        rows.push(vec![
            format!("{}", i + 1),
            (*what).to_owned(),
            fmt_secs(s.median),
            fmt_range(s.min, s.max),
            format!("{:.0} %", 100.0 * s.median / sum_median),
        ]);
    }
    let _ = writeln!(
        out,
        "Phases of `dsi replay COMMIT` under `strace -f --seccomp-bpf` ({} traced runs, \
         after the timed rounds), told apart by marker system calls. Tracing slows the \
         process (traced median {}, untraced {}), most where it starts processes and \
         threads, so read the shares rather than the absolute times.\n",
        split.len(),
        fmt_secs(traced),
        fmt_secs(untraced),
    );
    out.push_str(&table(
        &["#", "Phase (ends at)", "Median", "Min – max", "Share"],
        2,
        &rows,
    ));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_follow_the_markers() {
        let trace = "\
10 1.000 execve(\"/x/dsi\", [\"dsi\", \"replay\"], 0x1 /* 3 vars */) = 0
10 1.010 mkdir(\"/tmp/.tmpAB\", 0777) = 0
10 1.011 mkdir(\"/tmp/.tmpAB/artifact\", 0777) = 0
10 1.040 mkdir(\"/tmp/.tmpAB/commit\", 0777) = 0
10 1.045 uname({sysname=\"Linux\", ...}) = 0
11 1.050 execve(\"/usr/bin/ch-run\", [\"ch-run\", \"--version\"], 0x1) = 0
11 1.052 +++ exited with 0 +++
12 1.060 execve(\"/root/bin/ch-run\", [\"ch-run\"], 0x1) = -1 ENOENT (No such file)
12 1.061 execve(\"/usr/bin/ch-run\", [\"ch-run\"], 0x1) = 0
12 1.064 execve(\"/bin/true\", [\"/bin/true\"], 0x1) = 0
12 1.066 +++ exited with 0 +++
10 1.070 uname({sysname=\"Linux\", ...}) = 0
10 1.075 exit_group(0) = ?
10 1.076 +++ exited with 0 +++
";
        let p = phases(trace).expect("all markers");
        let want = [0.010, 0.030, 0.005, 0.015, 0.006, 0.010];
        for (got, want) in p.iter().zip(want) {
            assert!((got - want).abs() < 1e-9, "{p:?}");
        }
        assert!(phases("10 1.0 execve(\"/x/dsi\") = 0\n").is_none());
    }

    #[test]
    fn replay_prints_its_step_time() {
        let s = Sample {
            secs: 0.05,
            rss_kib: None,
            stdout: b"replayed commit abc as run 01X: exit 0 in 3 ms\n".to_vec(),
        };
        assert_eq!(reported_ms(&[s]), Some(3.0));
    }
}
