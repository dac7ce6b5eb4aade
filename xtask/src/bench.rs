//! `cargo xtask bench`: every benchmark, and `bench/REPORT.md`.
//!
//! Performance is measured here, never asserted in tests. The report has a
//! header naming the machine and one section per subject, each a Markdown
//! table with medians, min–max and ratios of medians:
//!
//! * **Runfile parsing** — criterion (`benches/runfile_parse.rs`); the
//!   estimates are read from `target/criterion/<group>/<bench>/new/*.json`,
//!   never from criterion's output.
//! * **rftree1 digest** — criterion over the unpacked test image
//!   (`benches/rftree.rs`), and the `rftree` example timed as a process (wall
//!   time, peak RSS via `/usr/bin/time -f %M`) over a synthetic 1 GiB,
//!   100,000-file tree generated once under `target/bench-data/tree-1g/`,
//!   alternated with a `find | xargs sha256sum` reference.
//! * **Runtime overhead** — a one-step Runfile (`CMD ["/bin/true"]`) run by
//!   the `run_once` example (`runtime::execute`, with and without
//!   `image::resolve`) alternated with the identical raw `ch-run` argv.
//!
//! Peer comparisons alternate within one invocation so that drift (thermal,
//! page cache, other load) hits every peer alike. New sections (the Python
//! DSI, DataLad) are further [`Section`] variants with their own function.
//! The test services are started if needed (and stopped again afterwards).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, bail};

use crate::services;
use crate::util::{cargo, project_root, run as sh};

/// A section of the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Section {
    /// Runfile parse + canonicalise (criterion).
    Runfile,
    /// `rftree1` digest over the test image and a 1 GiB tree.
    Rftree,
    /// One-step run through `execute` versus raw `ch-run`.
    Runtime,
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
}

/// How many times things run, by mode.
#[derive(Debug, Clone, Copy)]
struct Plan {
    quick: bool,
    /// Runs of each peer over the 1 GiB tree.
    tree_runs: usize,
    /// Runs of each peer in the runtime comparison.
    runtime_runs: usize,
}

impl Plan {
    fn new(quick: bool) -> Self {
        if quick {
            Plan {
                quick,
                tree_runs: 1,
                runtime_runs: 5,
            }
        } else {
            Plan {
                quick,
                tree_runs: 5,
                runtime_runs: 30,
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
}

const PACKAGE: &str = "dsi-plugins-charliecloud";
/// Files and bytes of the synthetic tree: 100,000 files, exactly 1 GiB.
const TREE_FILES: u64 = 100_000;
const TREE_BYTES: u64 = 1 << 30;
/// Bumped whenever the generator changes, so a stale tree is regenerated.
const TREE_VERSION: &str = "tree-1g v1";

/// `cargo xtask bench`.
pub(crate) fn run(opts: &Options) -> anyhow::Result<()> {
    let plan = Plan::new(opts.quick);
    let wanted = |s: Section| opts.only.is_empty() || opts.only.contains(&s);
    let started = Instant::now();
    let load_start = loadavg();
    build_examples()?;

    let mut services = Services::default();
    let mut sections = Vec::new();
    let result = (|| -> anyhow::Result<()> {
        // All criterion benches in one `cargo bench`: one build, one snapshot.
        let mut benches = Vec::new();
        let mut env = Vec::new();
        if wanted(Section::Runfile) {
            benches.push("runfile_parse");
        }
        let image = if wanted(Section::Rftree) {
            let image = test_image_dir(&mut services)?;
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
            sections.push(runfile_section(plan)?);
        }
        if let Some(image) = image {
            sections.push(rftree_section(plan, &image)?);
        }
        if wanted(Section::Runtime) {
            sections.push(runtime_section(plan, &mut services)?);
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
    let load = format!("{load_start} at the start, {} at the end", loadavg());
    let mut report = header(plan, started.elapsed().as_secs_f64(), &load)?;
    for s in &sections {
        report.push('\n');
        report.push_str(s);
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

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| project_root().join("target"))
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

/// `/proc/loadavg`'s 1, 5 and 15 minute averages.
fn loadavg() -> String {
    fs::read_to_string("/proc/loadavg").map_or_else(
        |_| "unknown".into(),
        |l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" / "),
    )
}

/// Builds the example binaries the process benchmarks time.
fn build_examples() -> anyhow::Result<()> {
    sh(cargo().args([
        "build",
        "--release",
        "-p",
        PACKAGE,
        "--example",
        "rftree",
        "--example",
        "run_once",
    ]))
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

// ---------------------------------------------------------------- statistics

/// Median and range of a set of measurements.
#[derive(Debug, Clone, Copy)]
struct Stats {
    median: f64,
    min: f64,
    max: f64,
    n: usize,
}

impl Stats {
    fn of(values: &[f64]) -> Stats {
        assert!(!values.is_empty(), "no measurements");
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Stats {
            median,
            min: v[0],
            max: v[n - 1],
            n,
        }
    }
}

/// A criterion result: per-iteration seconds.
#[derive(Debug, Clone, Copy)]
struct Estimate {
    /// Criterion's median point estimate and its confidence interval.
    median: f64,
    lower: f64,
    upper: f64,
    /// Fastest and slowest sample (mean iteration time within a sample).
    min: f64,
    max: f64,
    samples: usize,
}

/// Reads `<criterion>/<group>/<function>[/<param>]/new/{estimates,sample}.json`.
fn criterion_estimate(id: &str) -> anyhow::Result<Estimate> {
    let dir = criterion_home().join(id).join("new");
    let read = |name: &str| -> anyhow::Result<Json> {
        let path = dir.join(name);
        let text =
            fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        Json::parse(&text).with_context(|| format!("parsing {}", path.display()))
    };
    let estimates = read("estimates.json")?;
    let median = estimates
        .get("median")
        .context("estimates.json: no median")?;
    let num = |v: Option<&Json>, what: &str| -> anyhow::Result<f64> {
        v.and_then(Json::as_f64)
            .with_context(|| format!("estimates.json: no {what} for {id}"))
    };
    let point = num(median.get("point_estimate"), "median point estimate")?;
    let ci = median.get("confidence_interval");
    let lower = num(ci.and_then(|c| c.get("lower_bound")), "lower bound")?;
    let upper = num(ci.and_then(|c| c.get("upper_bound")), "upper bound")?;
    let sample = read("sample.json")?;
    let floats = |key: &str| -> anyhow::Result<Vec<f64>> {
        sample
            .get(key)
            .and_then(Json::as_array)
            .map(|a| a.iter().filter_map(Json::as_f64).collect())
            .with_context(|| format!("sample.json: no {key} for {id}"))
    };
    let per_iter: Vec<f64> = floats("times")?
        .iter()
        .zip(floats("iters")?)
        .filter(|(_, i)| *i > 0.0)
        .map(|(t, i)| t / i * 1e-9)
        .collect();
    let range = Stats::of(&per_iter);
    Ok(Estimate {
        median: point * 1e-9,
        lower: lower * 1e-9,
        upper: upper * 1e-9,
        min: range.min,
        max: range.max,
        samples: range.n,
    })
}

// ---------------------------------------------------------------- formatting

/// Seconds with a unit that keeps three significant digits.
fn fmt_secs(s: f64) -> String {
    let (v, unit) = if s >= 1.0 {
        (s, "s")
    } else if s >= 1e-3 {
        (s * 1e3, "ms")
    } else if s >= 1e-6 {
        (s * 1e6, "µs")
    } else {
        (s * 1e9, "ns")
    };
    if v >= 100.0 {
        format!("{v:.0} {unit}")
    } else if v >= 10.0 {
        format!("{v:.1} {unit}")
    } else {
        format!("{v:.2} {unit}")
    }
}

fn fmt_range(min: f64, max: f64) -> String {
    format!("{} – {}", fmt_secs(min), fmt_secs(max))
}

fn fmt_rate(per_sec: f64) -> String {
    if per_sec >= 1e6 {
        format!("{:.2} M", per_sec / 1e6)
    } else if per_sec >= 1e3 {
        format!("{:.1} k", per_sec / 1e3)
    } else {
        format!("{per_sec:.1}")
    }
}

fn fmt_kib(kib: Option<u64>) -> String {
    match kib {
        #[allow(clippy::cast_precision_loss)]
        Some(k) => format!("{:.1} MiB", k as f64 / 1024.0),
        None => "n/a".into(),
    }
}

#[allow(clippy::cast_precision_loss)]
fn fmt_mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// `100000` as `100,000`.
fn fmt_count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A Markdown table: the first `text` columns left-aligned, the others
/// (numbers) right-aligned. `|` in cells is escaped.
fn table(columns: &[&str], text: usize, rows: &[Vec<String>]) -> String {
    let mut t = format!("| {} |\n", columns.join(" | "));
    let align: Vec<&str> = (0..columns.len())
        .map(|i| if i < text { "---" } else { "---:" })
        .collect();
    let _ = writeln!(t, "| {} |", align.join(" | "));
    for r in rows {
        let cells: Vec<String> = r.iter().map(|c| c.replace('|', "\\|")).collect();
        let _ = writeln!(t, "| {} |", cells.join(" | "));
    }
    t
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

fn proc_field(file: &str, key: &str) -> Option<String> {
    fs::read_to_string(file).ok()?.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim() == key).then(|| v.trim().to_owned())
    })
}

fn header(plan: Plan, secs: f64, load: &str) -> anyhow::Result<String> {
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
    let root = project_root();
    let commit = command_line(
        "git",
        &[
            "-C",
            &root.to_string_lossy(),
            "describe",
            "--always",
            "--dirty",
        ],
    )
    .unwrap_or_else(|| "unknown".into());
    let rss = if have_time() {
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
    for (k, v) in [
        ("Date", date),
        ("CPU", cpu),
        ("Cores", cores.to_string()),
        ("RAM", ram),
        ("Kernel", kernel),
        ("rustc", rustc),
        ("ch-run", ch_run),
        ("Commit", commit),
        ("Mode", mode.to_owned()),
        ("Peak RSS", rss.to_owned()),
        ("Load average (1 / 5 / 15 min)", load.to_owned()),
        ("Duration", format!("{secs:.0} s (including builds)")),
    ] {
        let _ = writeln!(h, "- **{k}:** {v}");
    }
    h.push_str(
        "\nMedians with min–max; ratios are ratios of medians. Peers run alternately \
         in the same invocation. Rust code runs in the release/bench profile \
         (thin LTO). MB = 10^6 bytes.\n",
    );
    Ok(h)
}

// ---------------------------------------------------------------- section: Runfile

fn runfile_section(plan: Plan) -> anyhow::Result<String> {
    let cases = [
        ("v1_minimal", "V-1 minimal (2 lines)"),
        ("v2_realistic", "V-2 realistic (13 lines)"),
    ];
    let benches = [
        ("parse", "`parse`"),
        (
            "parse_canonical_digest",
            "`parse` + `.canonical()` + `.digest()`",
        ),
    ];
    let mut rows = Vec::new();
    let mut base = None;
    for (case, case_label) in cases {
        for (bench, bench_label) in benches {
            let e = criterion_estimate(&format!("runfile_parse/{bench}/{case}"))?;
            let base = *base.get_or_insert(e.median);
            rows.push(vec![
                case_label.to_owned(),
                bench_label.to_owned(),
                fmt_secs(e.median),
                fmt_range(e.lower, e.upper),
                fmt_range(e.min, e.max),
                fmt_rate(1.0 / e.median),
                format!("{:.2}", e.median / base),
            ]);
        }
    }
    let samples = if plan.quick { "10" } else { "100" };
    let mut s = String::from("## Runfile parsing\n\n");
    let _ = writeln!(
        s,
        "RUNFILE.md §11.1 examples through `runfile::parse` (and the canonical text and \
         digest), criterion in-process, {samples} samples each. Time per Runfile; \
         min–max over samples; ratio = median / median of the first row.\n"
    );
    s.push_str(&table(
        &[
            "Runfile",
            "Work",
            "Median",
            "95% CI of median",
            "Min – max",
            "Runfiles/s (median)",
            "Ratio",
        ],
        2,
        &rows,
    ));
    Ok(s)
}

// ---------------------------------------------------------------- processes

/// One process measurement.
#[derive(Debug)]
struct Sample {
    secs: f64,
    rss_kib: Option<u64>,
    stdout: Vec<u8>,
}

fn have_time() -> bool {
    Path::new("/usr/bin/time").exists()
}

/// Runs `cmd` to completion, timing it; with `rss`, under `/usr/bin/time -f
/// %M` (when installed) for the peak RSS. Fails when it fails.
fn measure(cmd: &Command, rss: bool) -> anyhow::Result<Sample> {
    let rss_file = bench_data().join("time.out");
    let mut c = if rss && have_time() {
        let mut c = Command::new("/usr/bin/time");
        c.args(["-f", "%M", "-o"])
            .arg(&rss_file)
            .arg(cmd.get_program())
            .args(cmd.get_args());
        c
    } else {
        let mut c = Command::new(cmd.get_program());
        c.args(cmd.get_args());
        c
    };
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    if let Some(d) = cmd.get_current_dir() {
        c.current_dir(d);
    }
    c.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let shown = format!("{cmd:?}");
    let t0 = Instant::now();
    let out = c.output().with_context(|| format!("starting {shown}"))?;
    let secs = t0.elapsed().as_secs_f64();
    if !out.status.success() {
        bail!(
            "{shown} failed with {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let rss_kib = if rss && have_time() {
        let text = fs::read_to_string(&rss_file).unwrap_or_default();
        text.lines().last().and_then(|l| l.trim().parse().ok())
    } else {
        None
    };
    Ok(Sample {
        secs,
        rss_kib,
        stdout: out.stdout,
    })
}

/// Runs the peers alternately, `runs` rounds (rotating who goes first),
/// after one untimed warm-up round.
fn alternate(peers: &[Command], runs: usize, rss: bool) -> anyhow::Result<Vec<Vec<Sample>>> {
    for p in peers {
        measure(p, false)?;
    }
    let mut samples: Vec<Vec<Sample>> = peers.iter().map(|_| Vec::new()).collect();
    for round in 0..runs {
        for k in 0..peers.len() {
            let i = (round + k) % peers.len();
            samples[i].push(measure(&peers[i], rss)?);
        }
        eprint!("\rxtask: bench: round {}/{runs}", round + 1);
        let _ = std::io::stderr().flush();
    }
    eprintln!();
    Ok(samples)
}

fn secs_stats(samples: &[Sample]) -> Stats {
    Stats::of(&samples.iter().map(|s| s.secs).collect::<Vec<_>>())
}

fn max_rss(samples: &[Sample]) -> Option<u64> {
    samples.iter().filter_map(|s| s.rss_kib).max()
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

// ---------------------------------------------------------------- section: rftree

/// Files and bytes of regular files `rftree` hashes under `root` (top-level
/// `.git*` and `ch/git.pickle` are skipped, as rftree1 does).
fn tree_size(root: &Path) -> anyhow::Result<(u64, u64)> {
    fn walk(dir: &Path, rel: &str, acc: &mut (u64, u64)) -> anyhow::Result<()> {
        for entry in fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            if (rel.is_empty() && name.starts_with(".git")) || path == "ch/git.pickle" {
                continue;
            }
            let ty = entry.file_type()?;
            if ty.is_dir() {
                walk(&entry.path(), &path, acc)?;
            } else if ty.is_file() {
                acc.0 += 1;
                acc.1 += entry.metadata()?.len();
            }
        }
        Ok(())
    }
    let mut acc = (0, 0);
    walk(root, "", &mut acc)?;
    Ok(acc)
}

/// SplitMix64: fast, deterministic file content.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// Size of file `i` of the synthetic tree: about 10 KiB (6.5–14.5 KiB),
/// pairs balanced so that the total is exactly [`TREE_BYTES`].
fn tree_file_size(i: u64) -> usize {
    let base = TREE_BYTES / TREE_FILES; // 10737
    let extra = TREE_BYTES % TREE_FILES; // 41824, even: pairs stay together
    let delta = SplitMix(i / 2).next() % 4096;
    let size = base + u64::from(i < extra);
    let size = if i.is_multiple_of(2) {
        size + delta
    } else {
        size - delta
    };
    usize::try_from(size).expect("small")
}

/// The path of file `i`: 100 directories × 10 subdirectories × 100 files.
fn tree_file_path(i: u64) -> String {
    format!("d{:02}/s{}/f{:03}.bin", i / 1000, (i / 100) % 10, i % 100)
}

/// Generates the synthetic tree under `target/bench-data/tree-1g` once
/// (deterministic content; a marker file records completion).
fn synthetic_tree() -> anyhow::Result<PathBuf> {
    let data = bench_data();
    let dir = data.join("tree-1g");
    let marker = data.join("tree-1g.done");
    if dir.is_dir() && fs::read_to_string(&marker).is_ok_and(|m| m.trim() == TREE_VERSION) {
        return Ok(dir);
    }
    let partial = data.join("tree-1g.partial");
    for d in [&dir, &partial] {
        if d.exists() {
            fs::remove_dir_all(d).with_context(|| format!("removing {}", d.display()))?;
        }
    }
    let _ = fs::remove_file(&marker);
    eprintln!(
        "xtask: bench: generating {} ({TREE_FILES} files, 1 GiB; once)",
        dir.display()
    );
    let t0 = Instant::now();
    for i in (0..TREE_FILES).step_by(100) {
        let p = partial.join(tree_file_path(i));
        fs::create_dir_all(p.parent().expect("has a parent"))?;
    }
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get() as u64);
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                let partial = &partial;
                scope.spawn(move || -> anyhow::Result<()> {
                    let mut buf = Vec::new();
                    for i in (w..TREE_FILES).step_by(usize::try_from(workers)?) {
                        let size = tree_file_size(i);
                        buf.clear();
                        let mut rng = SplitMix(i ^ 0x6473_6920_7472_6565);
                        while buf.len() < size {
                            buf.extend_from_slice(&rng.next().to_le_bytes());
                        }
                        buf.truncate(size);
                        let p = partial.join(tree_file_path(i));
                        fs::write(&p, &buf).with_context(|| format!("writing {}", p.display()))?;
                    }
                    Ok(())
                })
            })
            .collect();
        for h in handles {
            h.join().expect("generator thread does not panic")?;
        }
        Ok(())
    })?;
    fs::rename(&partial, &dir)?;
    fs::write(&marker, format!("{TREE_VERSION}\n"))?;
    eprintln!(
        "xtask: bench: generated the tree in {:.0} s",
        t0.elapsed().as_secs_f64()
    );
    Ok(dir)
}

#[allow(clippy::cast_precision_loss)]
fn mb_per_s(bytes: u64, secs: f64) -> String {
    format!("{:.0}", bytes as f64 / secs / 1e6)
}

/// The unpacked test image, `$DSI_TEST_BUILD_STORAGE/img/dsi-test`.
fn test_image_dir(services: &mut Services) -> anyhow::Result<PathBuf> {
    let image = PathBuf::from(services.var("DSI_TEST_BUILD_STORAGE", false)?)
        .join("img")
        .join("dsi-test");
    if !image.is_dir() {
        bail!(
            "{} is missing: run `cargo xtask services start`",
            image.display()
        );
    }
    Ok(image)
}

fn rftree_section(plan: Plan, image: &Path) -> anyhow::Result<String> {
    let image = image.to_path_buf();
    let (img_files, img_bytes) = tree_size(&image)?;
    let crit = criterion_estimate("rftree/dsi_test_image")?;

    let tree = synthetic_tree()?;
    let (tree_files, tree_bytes) = tree_size(&tree)?;
    if (tree_files, tree_bytes) != (TREE_FILES, TREE_BYTES) {
        bail!(
            "{}: {tree_files} files, {tree_bytes} bytes; expected {TREE_FILES}, {TREE_BYTES} \
             (remove it to regenerate)",
            tree.display()
        );
    }
    let digest_cmd = |dir: &Path| {
        let mut c = Command::new(example("rftree"));
        c.arg(dir);
        c
    };
    let mut sha256sum = Command::new("sh");
    sha256sum
        .args([
            "-c",
            "find . -type f -print0 | xargs -0 sha256sum > /dev/null",
        ])
        .current_dir(&tree);
    let image_runs = if plan.quick { 3 } else { 10 };
    let small = alternate(&[digest_cmd(&image)], image_runs, true)?;
    let big = alternate(&[digest_cmd(&tree), sha256sum], plan.tree_runs, true)?;
    let digest_of = |s: &[Sample]| {
        s.first()
            .map(|s| String::from_utf8_lossy(&s.stdout).trim().to_owned())
            .unwrap_or_default()
    };
    let (img_digest, tree_digest) = (digest_of(&small[0]), digest_of(&big[0]));

    let size = |files: u64, bytes: u64| format!("{} files, {}", fmt_count(files), fmt_mb(bytes));
    let mut rows = vec![vec![
        "dsi-test image".into(),
        "`rftree`, criterion in-process".into(),
        size(img_files, img_bytes),
        crit.samples.to_string(),
        fmt_secs(crit.median),
        fmt_range(crit.min, crit.max),
        mb_per_s(img_bytes, crit.median),
        "n/a".into(),
        "—".into(),
    ]];
    let s = secs_stats(&small[0]);
    rows.push(vec![
        "dsi-test image".into(),
        "`rftree` example, one process per digest".into(),
        size(img_files, img_bytes),
        s.n.to_string(),
        fmt_secs(s.median),
        fmt_range(s.min, s.max),
        mb_per_s(img_bytes, s.median),
        fmt_kib(max_rss(&small[0])),
        "—".into(),
    ]);
    let reference = secs_stats(&big[1]).median;
    for (samples, label) in [
        (&big[0], "`rftree` example, one process per digest"),
        (
            &big[1],
            "reference: `find -type f -print0 | xargs -0 sha256sum` (content only)",
        ),
    ] {
        let s = secs_stats(samples);
        rows.push(vec![
            "synthetic tree-1g".into(),
            label.into(),
            size(tree_files, tree_bytes),
            s.n.to_string(),
            fmt_secs(s.median),
            fmt_range(s.min, s.max),
            mb_per_s(tree_bytes, s.median),
            fmt_kib(max_rss(samples)),
            format!("{:.2}", s.median / reference),
        ]);
    }
    let mut out = String::from("## rftree1 digest\n\n");
    let _ = writeln!(
        out,
        "`image::rftree` (RUNFILE.md §8.4) over the unpacked test image \
         (`$DSI_TEST_BUILD_STORAGE/img/dsi-test`) and a synthetic tree \
         (`target/bench-data/tree-1g`: 100 × 10 directories, 100,000 files of 6.5–14.5 KiB, \
         deterministic content, exactly 1 GiB). Page cache warm (one untimed run first). \
         Process rows: wall time of the whole process, peers alternated; peak RSS is the \
         maximum over runs. MB/s = bytes of regular files / median time. Ratio = median / \
         median of the reference (single-process coreutils `sha256sum` over the same files, \
         without the tree digest).\n"
    );
    out.push_str(&table(
        &[
            "Tree",
            "How",
            "Size",
            "n",
            "Median",
            "Min – max",
            "MB/s (median)",
            "Peak RSS",
            "Ratio",
        ],
        3,
        &rows,
    ));
    let _ = writeln!(
        out,
        "\nDigests: dsi-test image `{img_digest}`; tree-1g `{tree_digest}`."
    );
    Ok(out)
}

// ---------------------------------------------------------------- section: runtime

fn runtime_section(plan: Plan, services: &mut Services) -> anyhow::Result<String> {
    let work = bench_data().join("runtime");
    let storage = bench_data().join("ch-storage");
    fs::create_dir_all(&work)?;
    let runfile = work.join("Runfile");
    let run_once = example("run_once");

    // The image must be in the bench storage: try, else pull it (which needs
    // the registry) and try again.
    let attempt = |services: &mut Services, pull: bool| -> anyhow::Result<Command> {
        let image = services.var("DSI_TEST_IMAGE", pull)?;
        let user = services.var("USER", pull)?;
        fs::write(&runfile, format!("FROM {image}\nCMD [\"/bin/true\"]\n"))?;
        if pull {
            let ca = services.var("REQUESTS_CA_BUNDLE", true)?;
            sh(services::ch_image()
                .arg(format!("--storage={}", storage.display()))
                .args(["pull", &image])
                .env("REQUESTS_CA_BUNDLE", ca)
                .env("USER", &user))?;
        }
        let mut c = Command::new(&run_once);
        c.arg("--storage")
            .arg(&storage)
            .arg(&runfile)
            .env("USER", &user);
        Ok(c)
    };
    let with = |base: &Command, flag: &str| {
        let mut c = Command::new(base.get_program());
        c.arg(flag).args(base.get_args());
        for (k, v) in base.get_envs() {
            if let Some(v) = v {
                c.env(k, v);
            }
        }
        c
    };
    let mut execute = attempt(services, false)?;
    if measure(&with(&execute, "--resolve"), false).is_err() {
        execute = attempt(services, true)?;
    }
    let resolve = with(&execute, "--resolve");
    measure(&resolve, false).context("run_once --resolve after pulling the image")?;
    let argv_out = measure(&with(&execute, "--print-argv"), false)?.stdout;
    let argv: Vec<OsString> = argv_out
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| OsString::from(String::from_utf8_lossy(a).into_owned()))
        .collect();
    let Some((program, args)) = argv.split_first() else {
        bail!("run_once --print-argv printed nothing");
    };
    let mut raw = Command::new(program);
    raw.args(args)
        .current_dir(&work)
        .env("USER", services.var("USER", false)?);
    let shown_argv = argv
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ");

    let floor = with(&execute, "--print-argv");
    let peers = [raw, execute, resolve, floor];
    let timed = alternate(&peers, plan.runtime_runs, false)?;
    // Peak RSS from separate runs, so /usr/bin/time does not skew the timings.
    let mut rss = Vec::new();
    for p in &peers {
        rss.push(measure(p, true)?.rss_kib);
    }
    let labels = [
        "raw `ch-run` (`std::process::Command`)",
        "`run_once`: `parse` + `runtime::execute`",
        "`run_once`: `parse` + `image::resolve` (offline) + `execute`",
        "`run_once --print-argv`: process start + `parse`, no container (floor)",
    ];
    let base = secs_stats(&timed[0]).median;
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
                if std::ptr::eq(samples, &timed[0]) {
                    "—".to_owned()
                } else if s.median >= base {
                    format!("+{}", fmt_secs(s.median - base))
                } else {
                    format!("−{}", fmt_secs(base - s.median))
                },
                format!("{:.2}", s.median / base),
                fmt_kib(*rss),
            ]
        })
        .collect();
    let mut out = String::from("## Runtime overhead\n\n");
    let _ = writeln!(
        out,
        "A one-step Runfile, `FROM $DSI_TEST_IMAGE` + `CMD [\"/bin/true\"]`, the image \
         already in the storage. Wall time of the whole process as spawned by the xtask \
         (stdout to /dev/null, stderr piped), the variants alternated, one untimed \
         warm-up each. `run_once` is the `dsi-plugins-charliecloud` example that parses \
         the Runfile and calls `runtime::execute` (pipes, hashing threads, signal \
         forwarding); the raw row spawns the identical argv it prints; the floor row is \
         `run_once` starting and parsing without running a container. Ratio = median / \
         median of raw ch-run. Peak RSS from one extra run each under `/usr/bin/time` \
         (for `run_once` it includes its ch-run child).\n"
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
    let _ = writeln!(out, "\nch-run argv: `{shown_argv}`");
    Ok(out)
}

// ---------------------------------------------------------------- JSON

/// Just enough JSON for criterion's files (xtask depends on anyhow and clap
/// only).
#[derive(Debug, Clone, PartialEq)]
enum Json {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl Json {
    fn parse(text: &str) -> anyhow::Result<Json> {
        let mut p = JsonParser {
            s: text.as_bytes(),
            i: 0,
        };
        let v = p.value()?;
        p.ws();
        if p.i != p.s.len() {
            bail!("trailing characters at byte {}", p.i);
        }
        Ok(v)
    }

    fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Obj(m) => m.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    fn as_f64(&self) -> Option<f64> {
        match self {
            Json::Num(n) => Some(*n),
            _ => None,
        }
    }

    fn as_array(&self) -> Option<&[Json]> {
        match self {
            Json::Arr(a) => Some(a),
            _ => None,
        }
    }
}

struct JsonParser<'a> {
    s: &'a [u8],
    i: usize,
}

impl JsonParser<'_> {
    fn ws(&mut self) {
        while self.s.get(self.i).is_some_and(u8::is_ascii_whitespace) {
            self.i += 1;
        }
    }

    fn eat(&mut self, b: u8) -> bool {
        self.ws();
        let hit = self.s.get(self.i) == Some(&b);
        if hit {
            self.i += 1;
        }
        hit
    }

    fn literal(&mut self, word: &str, v: Json) -> anyhow::Result<Json> {
        if self.s[self.i..].starts_with(word.as_bytes()) {
            self.i += word.len();
            Ok(v)
        } else {
            bail!("unexpected input at byte {}", self.i)
        }
    }

    fn value(&mut self) -> anyhow::Result<Json> {
        self.ws();
        match self.s.get(self.i) {
            Some(b'{') => {
                self.i += 1;
                let mut m = Vec::new();
                if self.eat(b'}') {
                    return Ok(Json::Obj(m));
                }
                loop {
                    self.ws();
                    let k = self.string()?;
                    if !self.eat(b':') {
                        bail!("expected ':' at byte {}", self.i);
                    }
                    m.push((k, self.value()?));
                    if self.eat(b'}') {
                        return Ok(Json::Obj(m));
                    }
                    if !self.eat(b',') {
                        bail!("expected ',' or '}}' at byte {}", self.i);
                    }
                }
            }
            Some(b'[') => {
                self.i += 1;
                let mut a = Vec::new();
                if self.eat(b']') {
                    return Ok(Json::Arr(a));
                }
                loop {
                    a.push(self.value()?);
                    if self.eat(b']') {
                        return Ok(Json::Arr(a));
                    }
                    if !self.eat(b',') {
                        bail!("expected ',' or ']' at byte {}", self.i);
                    }
                }
            }
            Some(b'"') => Ok(Json::Str(self.string()?)),
            Some(b't') => self.literal("true", Json::Bool(true)),
            Some(b'f') => self.literal("false", Json::Bool(false)),
            Some(b'n') => self.literal("null", Json::Null),
            Some(_) => {
                let start = self.i;
                while self
                    .s
                    .get(self.i)
                    .is_some_and(|b| b.is_ascii_digit() || b"+-.eE".contains(b))
                {
                    self.i += 1;
                }
                let text = std::str::from_utf8(&self.s[start..self.i])?;
                text.parse()
                    .map(Json::Num)
                    .with_context(|| format!("bad number {text:?} at byte {start}"))
            }
            None => bail!("unexpected end of input"),
        }
    }

    fn string(&mut self) -> anyhow::Result<String> {
        if self.s.get(self.i) != Some(&b'"') {
            bail!("expected a string at byte {}", self.i);
        }
        self.i += 1;
        let mut out = Vec::new();
        loop {
            let Some(&b) = self.s.get(self.i) else {
                bail!("unterminated string");
            };
            self.i += 1;
            match b {
                b'"' => return Ok(String::from_utf8(out)?),
                b'\\' => {
                    let Some(&e) = self.s.get(self.i) else {
                        bail!("unterminated string");
                    };
                    self.i += 1;
                    match e {
                        b'n' => out.push(b'\n'),
                        b't' => out.push(b'\t'),
                        b'r' => out.push(b'\r'),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'u' => {
                            let hex = self.s.get(self.i..self.i + 4).context("short \\u")?;
                            let code = u32::from_str_radix(std::str::from_utf8(hex)?, 16)?;
                            self.i += 4;
                            let c = char::from_u32(code).unwrap_or('\u{fffd}');
                            out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                        }
                        other => out.push(other),
                    }
                }
                other => out.push(other),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_reads_criterion_shapes() {
        let j = Json::parse(
            r#"{"median":{"confidence_interval":{"confidence_level":0.95,
            "lower_bound":1.5e2,"upper_bound":160.25},"point_estimate":155,"x":[true,null,"a\"b"]},
            "iters":[1.0,2.0],"times":[]}"#,
        )
        .unwrap();
        let m = j.get("median").unwrap();
        assert_eq!(m.get("point_estimate").unwrap().as_f64(), Some(155.0));
        assert_eq!(
            m.get("confidence_interval")
                .and_then(|c| c.get("lower_bound"))
                .and_then(Json::as_f64),
            Some(150.0)
        );
        assert_eq!(j.get("iters").unwrap().as_array().unwrap().len(), 2);
        assert!(Json::parse("{").is_err());
        assert!(Json::parse("[1] x").is_err());
    }

    #[test]
    fn stats_median_and_range() {
        let s = Stats::of(&[3.0, 1.0, 2.0, 10.0]);
        assert_eq!((s.median, s.min, s.max, s.n), (2.5, 1.0, 10.0, 4));
        assert_eq!(Stats::of(&[5.0, 1.0, 3.0]).median, 3.0);
    }

    #[test]
    fn synthetic_tree_is_exactly_one_gib() {
        let total: u64 = (0..TREE_FILES).map(|i| tree_file_size(i) as u64).sum();
        assert_eq!(total, TREE_BYTES);
        assert_eq!(tree_file_path(0), "d00/s0/f000.bin");
        assert_eq!(tree_file_path(99_999), "d99/s9/f099.bin");
        assert_eq!(fmt_count(100_000), "100,000");
        assert_eq!(fmt_count(999), "999");
    }
}
