//! `cargo xtask bench`: every benchmark, and `bench/REPORT.md`.
//!
//! Performance is measured here, never asserted in tests. The report has a
//! header naming the machine and one section per subject, each a Markdown
//! table with medians, min–max and ratios of medians:
//!
//! * **Runfile parsing** ([`runfile`]) — criterion
//!   (`benches/runfile_parse.rs`), estimates read from criterion's JSON;
//! * **rftree1 digest** ([`rftree`]) — criterion over the test image, and
//!   the `rftree` example over a synthetic 1 GiB tree next to `sha256sum`;
//! * **Runtime overhead** ([`runtime`]) — `runtime::execute` (the `run_once`
//!   example) next to the identical raw `ch-run` argv;
//! * **Record, end to end** ([`record`]) — `dsi record` (release binary)
//!   next to a bare `git add && git commit` and DataLad's `containers-run`;
//! * **Replay** ([`record`]) — `dsi replay COMMIT` next to the raw `ch-run`
//!   argv it runs and `datalad rerun`, with a breakdown of where dsi's time
//!   goes;
//! * **Pack and unpack throughput** ([`artifact`]) — the `pack_unpack`
//!   example over generated 1 GiB and 100 MiB git repositories: MB/s and
//!   peak RSS;
//! * **Start-up** ([`startup`]) — `dsi --help` next to the Python DSI's
//!   `dsi --help` ([`pydsi`]: LANL's `dsi-workflow` from PyPI);
//! * **Environment capture into SQLite** ([`capture`]) — `dsi collect` next
//!   to the Python DSI's `Hostname` + `SystemKernel` + `Sqlite` ingest, one
//!   record in a fresh process and 1,000 captures into one store;
//! * **Bulk CSV** ([`bulk`]) — a 100,000-row CSV through `dsi ingest csv`
//!   into SQLite, Parquet and S3, next to the Python DSI's `Csv` reader and
//!   the `sqlite3`/pyarrow floors, then a filtered count and a full read back;
//! * **Scaling with store size** ([`scaling`]) — `dsi list`, a filtered list
//!   and a SQL count over 10k, 100k and 1M `runs` rows in every driver;
//! * **Delta tables** ([`delta`]) — the parquet and s3 drivers' listing and
//!   counts over 1k–100k separately recorded runs before and after
//!   `compact`, and 64 concurrent writers;
//! * **HPC** ([`hpc`]) — SquashFS digest throughput (the `squashfs_digest`
//!   example) and RUNFILE-1.1 L-1 replayed by `dsi replay` under Slurm next
//!   to the identical `srun … ch-run …` argv;
//! * **Verification** ([`verify`]) — the OUTPUT comparisons of RUNFILE-1.1
//!   §5.5 (the `verify_compare` example) on a generated 1 GiB text, next to
//!   `cmp`.
//!
//! Peer comparisons alternate within one invocation so that drift (thermal,
//! page cache, other load) hits every peer alike. Each section starts with a
//! line saying when and how it was measured. `--only SECTION` runs just
//! those sections and replaces them in an existing report, keeping the
//! others. The test services are started if needed (and stopped again
//! afterwards); DataLad is installed into a venv under `target/bench-venv`
//! ([`datalad`]), the Python DSI and pyarrow into `target/bench-pydsi`
//! ([`pydsi`]).

mod artifact;
mod bulk;
mod campaign;
mod capture;
mod datalad;
mod delta;
mod fmt;
mod hpc;
mod measure;
mod pydsi;
mod record;
mod rftree;
mod runfile;
mod runtime;
mod scaling;
mod startup;
mod stores;
mod verify;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::Context;

use crate::services;
use crate::util::{cargo, project_root, run as sh, target_dir};

/// A section of the report, in report order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Section {
    /// Runfile parse + canonicalise (criterion).
    Runfile,
    /// `rftree1` digest over the test image and a 1 GiB tree.
    Rftree,
    /// One-step run through `execute` versus raw `ch-run`.
    Runtime,
    /// `dsi record` versus `git commit` and `datalad containers-run`.
    Record,
    /// `dsi replay` versus raw `ch-run` and `datalad rerun`.
    Replay,
    /// Pack and unpack of 1 GiB and 100 MiB repositories.
    Pack,
    /// `dsi --help` versus the Python DSI's `dsi --help`.
    Startup,
    /// `dsi collect` versus the Python DSI's environment capture.
    Capture,
    /// A 100,000-row CSV: ingest, filtered count, read back.
    Bulk,
    /// `dsi list` and queries over 10k, 100k and 1M rows per driver.
    Scaling,
    /// The Delta layout: listing and counts before/after compaction, 64 writers.
    Delta,
    /// SquashFS digests; L-1 replayed under Slurm versus the raw srun argv.
    Hpc,
    /// 100 one-second replays as a job array versus a shell loop of srun.
    Campaign,
    /// The OUTPUT comparisons on a 1 GiB text versus `cmp`.
    Verify,
}

impl Section {
    const ALL: [Section; 14] = [
        Section::Runfile,
        Section::Rftree,
        Section::Runtime,
        Section::Record,
        Section::Replay,
        Section::Pack,
        Section::Startup,
        Section::Capture,
        Section::Bulk,
        Section::Scaling,
        Section::Delta,
        Section::Hpc,
        Section::Campaign,
        Section::Verify,
    ];

    /// The section's heading in the report (after `## `).
    fn title(self) -> &'static str {
        match self {
            Section::Runfile => "Runfile parsing",
            Section::Rftree => "rftree1 digest",
            Section::Runtime => "Runtime overhead",
            Section::Record => "Record, end to end",
            Section::Replay => "Replay",
            Section::Pack => "Pack and unpack throughput",
            Section::Startup => "Start-up",
            Section::Capture => "Environment capture into SQLite",
            Section::Bulk => "Bulk CSV: ingest, filtered count, read back",
            Section::Scaling => "Scaling with store size",
            Section::Delta => "Delta tables: listing, counts, compaction, concurrent writers",
            Section::Hpc => "HPC: SquashFS digests and MPI replays under Slurm",
            Section::Campaign => "Campaigns: replays as one job array",
            Section::Verify => "Verification: comparing texts",
        }
    }
}

/// Options of `cargo xtask bench`.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    /// Fewer iterations: a smoke run, numbers only indicative.
    pub(crate) quick: bool,
    /// Sections to run (all when empty).
    pub(crate) only: Vec<Section>,
    /// Where the report goes (default `bench/REPORT.md`).
    pub(crate) out: Option<PathBuf>,
    /// Time the release binaries already built.
    pub(crate) no_build: bool,
}

/// How many times things run, by mode.
#[derive(Debug, Clone, Copy)]
struct Plan {
    quick: bool,
    /// Runs of each peer over the 1 GiB tree.
    tree_runs: usize,
    /// Runs of each peer in the runtime comparison.
    runtime_runs: usize,
    /// Rounds of the record comparison, and how many of them time DataLad.
    record_runs: usize,
    record_datalad_runs: usize,
    /// Rounds of the replay comparison, and how many of them time DataLad.
    replay_runs: usize,
    replay_datalad_runs: usize,
    /// Traced replays for the phase breakdown.
    replay_traces: usize,
    /// Runs of each pack and unpack.
    pack_runs: usize,
}

impl Plan {
    fn new(quick: bool) -> Self {
        if quick {
            Plan {
                quick,
                tree_runs: 1,
                runtime_runs: 5,
                record_runs: 3,
                record_datalad_runs: 3,
                replay_runs: 5,
                replay_datalad_runs: 3,
                replay_traces: 3,
                pack_runs: 1,
            }
        } else {
            Plan {
                quick,
                tree_runs: 5,
                runtime_runs: 30,
                record_runs: 20,
                record_datalad_runs: 12,
                replay_runs: 30,
                replay_datalad_runs: 12,
                replay_traces: 15,
                pack_runs: 3,
            }
        }
    }

    /// Arguments for criterion after `--`.
    fn criterion_args(self) -> Vec<&'static str> {
        if self.quick {
            vec![
                "--warm-up-time",
                "0.5",
                "--measurement-time",
                "1",
                "--sample-size",
                "10",
            ]
        } else {
            Vec::new()
        }
    }

    fn mode(self) -> &'static str {
        if self.quick { "`--quick`" } else { "full" }
    }
}

const PACKAGE: &str = "dsi-plugins-charliecloud";

/// `cargo xtask bench`.
pub(crate) fn run(opts: &Options) -> anyhow::Result<()> {
    let plan = Plan::new(opts.quick);
    let wanted = |s: Section| opts.only.is_empty() || opts.only.contains(&s);
    let started = Instant::now();
    let load_start = loadavg();
    if !opts.no_build {
        build(&wanted)?;
    }
    let commit = git_describe();

    let mut services = Services::default();
    let mut peers = datalad::DataLad::default();
    let mut py = pydsi::PyDsi::default();
    let mut sections: Vec<(Section, String)> = Vec::new();
    let result = (|| -> anyhow::Result<()> {
        // The criterion sections share one `cargo bench`: no duration of their own.
        let mut stamped = |s: Section, t0: Option<Instant>, load: String, text: String| {
            sections.push((s, stamp(&text, plan, &commit, t0, &load)));
        };
        // All criterion benches in one `cargo bench`: one build, one snapshot.
        let load = loadavg();
        let mut benches = Vec::new();
        let mut env = Vec::new();
        if wanted(Section::Runfile) {
            benches.push("runfile_parse");
        }
        let image = if wanted(Section::Rftree) {
            let image = rftree::test_image_dir(&mut services)?;
            benches.push("rftree");
            env.push(("DSI_BENCH_RFTREE_DIR", image.clone()));
            Some(image)
        } else {
            None
        };
        if !benches.is_empty() {
            cargo_bench(plan, &benches, &env)?;
        }
        if wanted(Section::Runfile) {
            stamped(
                Section::Runfile,
                None,
                load.clone(),
                runfile::section(plan)?,
            );
        }
        if let Some(image) = image {
            stamped(Section::Rftree, None, load, rftree::section(plan, &image)?);
        }
        if wanted(Section::Runtime) {
            let (t0, load) = (Some(Instant::now()), loadavg());
            stamped(
                Section::Runtime,
                t0,
                load,
                runtime::section(plan, &mut services)?,
            );
        }
        if wanted(Section::Record) {
            let (t0, load) = (Some(Instant::now()), loadavg());
            let text = record::record_section(plan, &mut services, &mut peers)?;
            stamped(Section::Record, t0, load, text);
        }
        if wanted(Section::Replay) {
            let (t0, load) = (Some(Instant::now()), loadavg());
            let text = record::replay_section(plan, &mut services, &mut peers)?;
            stamped(Section::Replay, t0, load, text);
        }
        if wanted(Section::Pack) {
            let (t0, load) = (Some(Instant::now()), loadavg());
            stamped(Section::Pack, t0, load, artifact::section(plan)?);
        }
        if wanted(Section::Startup) {
            let (t0, load) = (Some(Instant::now()), loadavg());
            stamped(Section::Startup, t0, load, startup::section(plan, &mut py)?);
        }
        if wanted(Section::Capture) {
            let (t0, load) = (Some(Instant::now()), loadavg());
            stamped(Section::Capture, t0, load, capture::section(plan, &mut py)?);
        }
        if wanted(Section::Bulk) {
            let (t0, load) = (Some(Instant::now()), loadavg());
            let text = bulk::section(plan, &mut services, &mut py)?;
            stamped(Section::Bulk, t0, load, text);
        }
        if wanted(Section::Scaling) {
            let (t0, load) = (Some(Instant::now()), loadavg());
            stamped(
                Section::Scaling,
                t0,
                load,
                scaling::section(plan, &mut services)?,
            );
        }
        if wanted(Section::Delta) {
            let (t0, load) = (Some(Instant::now()), loadavg());
            stamped(
                Section::Delta,
                t0,
                load,
                delta::section(plan, &mut services)?,
            );
        }
        if wanted(Section::Hpc) {
            let (t0, load) = (Some(Instant::now()), loadavg());
            stamped(Section::Hpc, t0, load, hpc::section(plan, &mut services)?);
        }
        if wanted(Section::Campaign) {
            let (t0, load) = (Some(Instant::now()), loadavg());
            stamped(
                Section::Campaign,
                t0,
                load,
                campaign::section(plan, &mut services)?,
            );
        }
        if wanted(Section::Verify) {
            let (t0, load) = (Some(Instant::now()), loadavg());
            stamped(Section::Verify, t0, load, verify::section(plan)?);
        }
        Ok(())
    })();
    let stopped = services.finish();
    result?;
    stopped?;

    let out = opts
        .out
        .clone()
        .unwrap_or_else(|| project_root().join("bench").join("REPORT.md"));
    let old = if opts.only.is_empty() {
        None
    } else {
        fs::read_to_string(&out).ok()
    };
    let load = format!("{load_start} at the start, {} at the end", loadavg());
    let ran: Vec<Section> = sections.iter().map(|(s, _)| *s).collect();
    let mut report = header(plan, &ran, started.elapsed().as_secs_f64(), &load, &commit);
    for s in merge(old.as_deref(), &sections) {
        report.push('\n');
        report.push_str(&s);
    }
    if let Some(dir) = out.parent() {
        fs::create_dir_all(dir)?;
    }
    fs::write(&out, &report).with_context(|| format!("writing {}", out.display()))?;
    eprintln!(
        "xtask: bench: wrote {} in {:.0} s",
        out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Adds the "measured when and how" line under a section's heading.
fn stamp(text: &str, plan: Plan, commit: &str, t0: Option<Instant>, load: &str) -> String {
    let date = command_line("date", &["-u", "+%Y-%m-%d %H:%M UTC"]).unwrap_or_default();
    let took = t0.map_or_else(String::new, |t| {
        format!(", in {:.0} s", t.elapsed().as_secs_f64())
    });
    let line = format!(
        "_Measured {date}, {} mode, commit `{commit}`{took}; load average {load} at the \
         start._\n",
        plan.mode(),
    );
    match text.split_once("\n\n") {
        Some((heading, rest)) => format!("{heading}\n\n{line}\n{rest}"),
        None => format!("{text}\n{line}"),
    }
}

/// The report's sections: the new ones, and (for `--only`) the old report's
/// others, in [`Section::ALL`] order; old sections of unknown title last.
fn merge(old: Option<&str>, new: &[(Section, String)]) -> Vec<String> {
    let mut old_sections: Vec<(String, String)> = Vec::new();
    if let Some(text) = old {
        let mut current: Option<(String, String)> = None;
        for line in text.split_inclusive('\n') {
            if let Some(title) = line.strip_prefix("## ") {
                old_sections.extend(current.take());
                current = Some((title.trim().to_owned(), String::new()));
            }
            if let Some((_, body)) = current.as_mut() {
                body.push_str(line);
            }
        }
        old_sections.extend(current);
    }
    let mut out = Vec::new();
    for s in Section::ALL {
        if let Some((_, text)) = new.iter().find(|(n, _)| *n == s) {
            out.push(text.clone());
        } else if let Some((_, text)) = old_sections.iter().find(|(t, _)| t == s.title()) {
            out.push(text.clone());
        }
    }
    for (title, text) in &old_sections {
        if !Section::ALL.iter().any(|s| s.title() == title) {
            out.push(text.clone());
        }
    }
    // One blank line between sections, whatever the old text ended with.
    out.iter()
        .map(|s| format!("{}\n", s.trim_end_matches('\n')))
        .collect()
}

fn criterion_home() -> PathBuf {
    target_dir().join("criterion")
}

fn bench_data() -> PathBuf {
    target_dir().join("bench-data")
}

fn example(name: &str) -> PathBuf {
    target_dir().join("release").join("examples").join(name)
}

/// The release `dsi` binary.
fn dsi_binary() -> PathBuf {
    target_dir().join("release").join("dsi")
}

/// Removes `dir` if it exists and creates it empty.
fn fresh_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() {
        fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))
}

/// `/proc/loadavg`'s 1, 5 and 15 minute averages.
fn loadavg() -> String {
    fs::read_to_string("/proc/loadavg").map_or_else(
        |_| "unknown".into(),
        |l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" / "),
    )
}

/// Builds, in release mode, the binaries the wanted sections time.
fn build(wanted: &dyn Fn(Section) -> bool) -> anyhow::Result<()> {
    let mut cmd = cargo();
    cmd.args(["build", "--release"]);
    let examples: Vec<&str> = [
        (Section::Rftree, "rftree"),
        (Section::Runtime, "run_once"),
        (Section::Pack, "pack_unpack"),
        (Section::Hpc, "squashfs_digest"),
        (Section::Verify, "verify_compare"),
    ]
    .into_iter()
    .filter(|(s, _)| wanted(*s))
    .map(|(_, e)| e)
    .collect();
    let dsi = [
        Section::Record,
        Section::Replay,
        Section::Startup,
        Section::Capture,
        Section::Bulk,
        Section::Scaling,
        Section::Hpc,
        Section::Campaign,
    ]
    .into_iter()
    .any(wanted);
    let gen_runs = wanted(Section::Scaling);
    let delta = wanted(Section::Delta);
    if examples.is_empty() && !dsi && !delta {
        return Ok(());
    }
    if !examples.is_empty() {
        cmd.args(["-p", PACKAGE]);
        for e in examples {
            cmd.args(["--example", e]);
        }
    }
    if dsi {
        cmd.args(["-p", "dsi-cli", "--bin", "dsi"]);
    }
    if gen_runs {
        cmd.args(["--example", "gen_runs"]);
    }
    if delta {
        cmd.args(["-p", "dsi-driver-parquet", "--example", "delta_bench"]);
    }
    sh(&mut cmd)
}

/// Runs criterion bench targets (results land under [`criterion_home`]).
fn cargo_bench(plan: Plan, benches: &[&str], env: &[(&str, PathBuf)]) -> anyhow::Result<()> {
    let mut cmd = cargo();
    cmd.args(["bench", "-p", PACKAGE]);
    for b in benches {
        cmd.args(["--bench", b]);
    }
    cmd.arg("--")
        .args(plan.criterion_args())
        .env("CRITERION_HOME", criterion_home());
    for (k, v) in env {
        cmd.env(k, v);
    }
    sh(&mut cmd)
}

// ---------------------------------------------------------------- header

/// The first line a program prints (stdout, else stderr) when it succeeds.
fn command_line(program: &str, args: &[&str]) -> Option<String> {
    let o = Command::new(program)
        .args(args)
        .env("USER", services::user())
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    let text = if o.stdout.iter().all(u8::is_ascii_whitespace) {
        o.stderr
    } else {
        o.stdout
    };
    String::from_utf8_lossy(&text)
        .lines()
        .next()
        .map(|l| l.trim().to_owned())
        .filter(|s| !s.is_empty())
}

fn git_describe() -> String {
    let root = project_root();
    command_line(
        "git",
        &[
            "-C",
            &root.to_string_lossy(),
            "describe",
            "--always",
            "--dirty",
        ],
    )
    .unwrap_or_else(|| "unknown".into())
}

fn proc_field(file: &str, key: &str) -> Option<String> {
    fs::read_to_string(file).ok()?.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim() == key).then(|| v.trim().to_owned())
    })
}

fn header(plan: Plan, ran: &[Section], secs: f64, load: &str, commit: &str) -> String {
    let cpu = proc_field("/proc/cpuinfo", "model name").unwrap_or_else(|| "unknown".into());
    let cores = fs::read_to_string("/proc/cpuinfo")
        .map(|t| t.lines().filter(|l| l.starts_with("processor")).count())
        .unwrap_or(0);
    let ram = proc_field("/proc/meminfo", "MemTotal")
        .and_then(|v| v.trim_end_matches(" kB").trim().parse::<u64>().ok())
        .map_or_else(
            || "unknown".into(),
            |kib| {
                #[allow(clippy::cast_precision_loss)]
                let gib = kib as f64 / (1024.0 * 1024.0);
                format!("{gib:.1} GiB")
            },
        );
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease")
        .map_or_else(|_| "unknown".into(), |s| s.trim().to_owned());
    let rustc = command_line("rustc", &["-V"]).unwrap_or_else(|| "unknown".into());
    let ch_run = command_line("ch-run", &["--version"]).unwrap_or_else(|| "not found".into());
    let date = command_line("date", &["-u", "+%Y-%m-%d %H:%M UTC"]).unwrap_or_default();
    let rss = if measure::have_time() {
        "`/usr/bin/time -f %M` (GNU time)"
    } else {
        "not measured (`/usr/bin/time` missing: `cargo xtask setup`)"
    };
    let mut h = String::from("# dsi benchmark report\n\n");
    h.push_str(
        "Written by `cargo xtask bench`; do not edit by hand. Performance is measured \
         here, never asserted in tests.\n\n",
    );
    let mode = if plan.quick {
        "`--quick` (smoke run: few iterations, numbers only indicative)"
    } else {
        "full"
    };
    let sections = if ran.len() == Section::ALL.len() {
        "all".to_owned()
    } else {
        let names: Vec<String> = ran.iter().map(|s| format!("“{}”", s.title())).collect();
        format!(
            "{} (`--only`); the other sections are kept from an earlier run, each dated \
             under its heading",
            names.join(", ")
        )
    };
    for (k, v) in [
        ("Date", date),
        ("CPU", cpu),
        ("Cores", cores.to_string()),
        ("RAM", ram),
        ("Kernel", kernel),
        ("rustc", rustc),
        ("ch-run", ch_run),
        ("Commit", commit.to_owned()),
        ("Mode", mode.to_owned()),
        ("Sections measured by this run", sections),
        ("Peak RSS", rss.to_owned()),
        ("Load average (1 / 5 / 15 min)", load.to_owned()),
        ("Duration", format!("{secs:.0} s (including builds)")),
    ] {
        let _ = writeln!(h, "- **{k}:** {v}");
    }
    h.push_str(
        "\nMedians with min–max; ratios are ratios of medians. Peers run alternately \
         in the same invocation. Rust code runs in the release/bench profile \
         (thin LTO). MB = 10^6 bytes. Other work on the machine (builds) shows in \
         the load averages.\n",
    );
    h
}

// ---------------------------------------------------------------- services

/// The test services' environment; remembers whether we started them.
#[derive(Debug, Default)]
struct Services {
    env: Option<BTreeMap<String, String>>,
    started: bool,
}

impl Services {
    fn read_env_file() -> Option<BTreeMap<String, String>> {
        let text = fs::read_to_string(services::env_file()).ok()?;
        Some(
            text.lines()
                .filter_map(|l| l.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        )
    }

    fn registry_alive() -> bool {
        let pidfile = services::services_dir().join("registry").join("pid");
        fs::read_to_string(pidfile).is_ok_and(|pid| Path::new("/proc").join(pid.trim()).exists())
    }

    /// The environment, starting the services if the file is missing (or,
    /// with `registry`, if the registry is not running).
    fn env(&mut self, registry: bool) -> anyhow::Result<&BTreeMap<String, String>> {
        if self.env.is_none() {
            self.env = Self::read_env_file();
        }
        if self.env.is_none() || (registry && !self.started && !Self::registry_alive()) {
            eprintln!("xtask: bench: starting the test services");
            self.env = Some(services::start()?);
            self.started = true;
        }
        self.env.as_ref().context("no services environment")
    }

    fn var(&mut self, key: &str, registry: bool) -> anyhow::Result<String> {
        self.env(registry)?
            .get(key)
            .cloned()
            .with_context(|| format!("{key} missing from {}", services::env_file().display()))
    }

    /// Stops the services if this run started them.
    fn finish(&self) -> anyhow::Result<()> {
        if self.started {
            eprintln!("xtask: bench: stopping the test services it started");
            services::stop()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_replaces_new_sections_and_keeps_the_others_in_order() {
        let old = "# report\n\n- header\n\n## Replay\n\nold replay\n\n## Runfile parsing\n\n\
                   old runfile\n## Something else\n\nkept\n";
        let new = vec![(Section::Replay, "## Replay\n\nnew replay\n".to_owned())];
        let merged = merge(Some(old), &new);
        assert_eq!(
            merged,
            vec![
                "## Runfile parsing\n\nold runfile\n".to_owned(),
                "## Replay\n\nnew replay\n".to_owned(),
                "## Something else\n\nkept\n".to_owned(),
            ]
        );
        assert_eq!(merge(None, &new), vec!["## Replay\n\nnew replay\n"]);
    }

    #[test]
    fn stamp_goes_under_the_heading() {
        let s = stamp(
            "## Replay\n\nbody\n",
            Plan::new(true),
            "abc",
            Some(Instant::now()),
            "1 / 2 / 3",
        );
        assert!(s.starts_with("## Replay\n\n_Measured "), "{s}");
        assert!(s.ends_with("._\n\nbody\n"), "{s}");
    }
}
