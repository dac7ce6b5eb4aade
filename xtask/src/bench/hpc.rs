//! Section "HPC: SquashFS digests and MPI replays under Slurm":
//!
//! * the `squashfs_digest` example (V6 file sha256, V5 tree digest read
//!   in-process, both through the file-digest cache) over the MPI test
//!   image and a generated 1 GiB SquashFS file, page cache warm and dropped;
//! * RUNFILE-1.1 L-1 (two ranks through `LAUNCH --join ["srun", "-n", "2",
//!   "--mpi=pmix"]`) replayed by `dsi replay COMMIT` inside one allocation
//!   of the test cluster, alternated with the identical `srun … ch-run …`
//!   argv run by hand and with `srun -n 2 /bin/true` (the floor).

use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

use super::fmt::{delta, fmt_kib, fmt_range, fmt_secs, table};
use super::measure::{alternate, measure, secs_stats};
use super::{Plan, Services, bench_data, dsi_binary, example};
use crate::json::{self, Json};

pub(super) fn section(plan: Plan, services: &mut Services) -> anyhow::Result<String> {
    let mut out = String::from("## HPC: SquashFS digests and MPI replays under Slurm\n\n");
    out.push_str(&digest_part(plan, services)?);
    out.push('\n');
    out.push_str(&replay_part(plan, services)?);
    Ok(out)
}

// ------------------------------------------------------------ digests

/// A deterministic 1 GiB SquashFS file (gzip, as `ch-convert` writes):
/// 64 files of 16 MiB, pseudo-random words (compressible about 2:1).
fn squash_1g() -> anyhow::Result<PathBuf> {
    let out = bench_data().join("squash-1g.sqfs");
    if out.exists() {
        return Ok(out);
    }
    let dir = bench_data().join("squash-1g-tree");
    if dir.exists() {
        fs::remove_dir_all(&dir)?;
    }
    fs::create_dir_all(&dir)?;
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for f in 0..64 {
        let mut w = std::io::BufWriter::new(fs::File::create(dir.join(format!("f{f:02}")))?);
        let mut written = 0usize;
        while written < 16 << 20 {
            // xorshift64: words of 1–8 lowercase letters.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = 1 + (x % 8) as usize;
            let mut word = [b' '; 9];
            for (i, b) in word.iter_mut().take(len).enumerate() {
                *b = b'a' + ((x >> (i * 5)) % 26) as u8;
            }
            let n = (len + 1).min((16 << 20) - written);
            w.write_all(&word[..n])?;
            written += n;
        }
    }
    let tmp = bench_data().join("squash-1g.sqfs.tmp");
    let _ = fs::remove_file(&tmp);
    crate::util::run(Command::new("mksquashfs").arg(&dir).arg(&tmp).args([
        "-noappend",
        "-quiet",
        "-comp",
        "gzip",
    ]))?;
    fs::rename(&tmp, &out)?;
    fs::remove_dir_all(&dir)?;
    Ok(out)
}

/// The example's measures: `(measure, secs, GB/s)`.
fn digests(image: &Path, runs: usize, cold: bool) -> anyhow::Result<Vec<(String, f64, f64)>> {
    let mut c = Command::new(example("squashfs_digest"));
    c.arg(image).arg(runs.to_string());
    if cold {
        c.env("DSI_BENCH_DROP_CACHES", "1");
    }
    let s = measure(&c, false)?;
    let mut rows = Vec::new();
    for line in String::from_utf8_lossy(&s.stdout).lines() {
        let j = json::parse(line)?;
        let text = |k: &str| j.get(k).and_then(Json::as_str).map(str::to_owned);
        let num = |k: &str| j.get(k).and_then(Json::as_f64);
        rows.push((
            text("measure").context("measure")?,
            num("secs").context("secs")?,
            num("gb_per_s").context("gb_per_s")?,
        ));
    }
    Ok(rows)
}

fn digest_part(plan: Plan, services: &mut Services) -> anyhow::Result<String> {
    let mpi = PathBuf::from(services.var("DSI_TEST_MPI_SQUASHFS", false)?);
    let big = squash_1g()?;
    let runs = if plan.quick { 1 } else { 5 };
    let can_drop = fs::OpenOptions::new()
        .write(true)
        .open("/proc/sys/vm/drop_caches")
        .is_ok();
    let mut rows = Vec::new();
    for (name, image) in [
        ("MPI test image", &mpi),
        ("generated, 1 GiB of files", &big),
    ] {
        let size = fs::metadata(image)?.len();
        for cold in [false, true] {
            if cold && !can_drop {
                continue;
            }
            for (measure, secs, gbps) in digests(image, runs, cold)? {
                rows.push(vec![
                    format!("{name} ({:.0} MiB)", size as f64 / f64::from(1 << 20)),
                    if cold { "dropped" } else { "warm" }.to_owned(),
                    measure,
                    fmt_secs(secs),
                    format!("{gbps:.2}"),
                ]);
            }
        }
    }
    let mut out = String::from("### SquashFS digests\n\n");
    let _ = writeln!(
        out,
        "The `squashfs_digest` example (release build) per image: the file's sha256 \
         (V6), the tree digest read in-process with `backhand` (V5), opening the image \
         alone, and `image::path` resolving `FROM P@sha256:H` with a tree pin through \
         the file-digest cache, first with the cache empty (it computes V6 and V5 and \
         fills it), then cached (a `stat` and a lookup). Median of {runs} runs each \
         (the cache-empty row is one run). Page cache warm (the file was read just \
         before) or dropped before every timed run (`sync` + `vm.drop_caches=1`{}). \
         GB/s = file size / time (10^9 bytes). The generated image: 64 files of 16 MiB \
         of pseudo-random words, `mksquashfs -comp gzip` (as ch-convert writes).\n",
        if can_drop {
            ""
        } else {
            "; not possible here, rows left out"
        }
    );
    out.push_str(&table(
        &["Image", "Page cache", "Measure", "Median", "GB/s"],
        3,
        &rows,
    ));
    Ok(out)
}

// ------------------------------------------------------------ replay

/// A Slurm allocation made with `salloc --no-shell`, cancelled on drop.
struct Allocation {
    job: String,
    conf: String,
}

impl Allocation {
    fn new(conf: &str, args: &[&str]) -> anyhow::Result<Self> {
        let out = Command::new("salloc")
            .args(args)
            .arg("--no-shell")
            .env("SLURM_CONF", conf)
            .env_remove("SLURM_JOB_ID")
            .output()?;
        let text = String::from_utf8_lossy(&out.stderr).into_owned();
        let Some(job) = text
            .split_whitespace()
            .skip_while(|w| *w != "allocation")
            .nth(1)
            .map(str::to_owned)
        else {
            bail!("salloc --no-shell: no job id in: {text}");
        };
        Ok(Allocation {
            job,
            conf: conf.to_owned(),
        })
    }

    /// `cmd` run as part of this allocation (its steps are steps of the job).
    fn within(&self, cmd: &mut Command) {
        cmd.env("SLURM_CONF", &self.conf)
            .env("SLURM_JOB_ID", &self.job)
            .env("SLURM_JOBID", &self.job);
    }
}

impl Drop for Allocation {
    fn drop(&mut self) {
        let _ = Command::new("scancel")
            .arg(&self.job)
            .env("SLURM_CONF", &self.conf)
            .status();
    }
}

fn git(dir: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new("git").args(args).current_dir(dir).output()?;
    if !out.status.success() {
        bail!(
            "git {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// What `cmd` prints on stdout (it must succeed).
fn stdout_of(cmd: &mut Command) -> anyhow::Result<String> {
    Ok(String::from_utf8_lossy(&measure(cmd, false)?.stdout)
        .trim()
        .to_owned())
}

fn replay_part(plan: Plan, services: &mut Services) -> anyhow::Result<String> {
    let conf = services.var("SLURM_CONF", false)?;
    let image = services.var("DSI_TEST_MPI_SQUASHFS", false)?;
    let user = services.var("USER", false)?;
    let work = bench_data().join("hpc");
    super::fresh_dir(&work)?;
    let proj = work.join("proj");
    fs::create_dir_all(&proj)?;
    git(&proj, &["init", "-q"])?;
    let sha = stdout_of(Command::new("sha256sum").arg(&image))?;
    let sha = sha
        .split_whitespace()
        .next()
        .context("sha256sum")?
        .to_owned();
    fs::write(
        work.join("Runfile"),
        format!(
            "FROM {image}@sha256:{sha}\nLAUNCH --join [\"srun\", \"-n\", \"2\", \"--mpi=pmix\"]\n\
             PASSENV SLURM_* PMIX_*\nCMD [\"/opt/hello/mpi_hello\"]\n"
        ),
    )?;
    let alloc = Allocation::new(&conf, &["-n", "2"])?;
    let dsi = |args: &[&str]| {
        let mut c = Command::new(dsi_binary());
        c.args(args)
            .current_dir(&work)
            .env("USER", &user)
            .env("GIT_AUTHOR_NAME", "bench")
            .env("GIT_AUTHOR_EMAIL", "bench@dsi.invalid")
            .env("GIT_COMMITTER_NAME", "bench")
            .env("GIT_COMMITTER_EMAIL", "bench@dsi.invalid");
        alloc.within(&mut c);
        c
    };
    measure(&dsi(&["run", "Runfile", "--repo", "proj"]), false)
        .context("dsi run of L-1 in the allocation")?;
    let commit = git(&proj, &["rev-parse", "HEAD"])?;
    // The argv the replay ran, from its row, with a mount directory of our own
    // (the replay's is removed with its temporary directory).
    let steps = stdout_of(Command::new("sqlite3").arg(work.join("dsi.db")).arg(
        "SELECT steps FROM runs WHERE function = 'producer' ORDER BY recorded_at DESC LIMIT 1",
    ))?;
    let steps = json::parse(&steps)?;
    let argv: Vec<String> = steps
        .as_array()
        .and_then(|a| a.first())
        .and_then(|s| s.get("argv"))
        .and_then(Json::as_array)
        .context("steps[0].argv")?
        .iter()
        .filter_map(Json::as_str)
        .map(str::to_owned)
        .collect();
    let mount = work.join("mnt");
    fs::create_dir_all(&mount)?;
    let argv: Vec<String> = argv
        .into_iter()
        .map(|a| {
            if a.starts_with("--mount=") {
                format!("--mount={}", mount.display())
            } else {
                a
            }
        })
        .collect();
    let mut raw = Command::new(&argv[0]);
    raw.args(&argv[1..]).current_dir(&work).env("USER", &user);
    alloc.within(&mut raw);
    let mut floor = Command::new("srun");
    floor.args(["-n", "2", "/bin/true"]).env("USER", &user);
    alloc.within(&mut floor);
    let replay = dsi(&["replay", &commit[..12]]);
    let peers = [raw, replay, floor];
    let runs = if plan.quick { 5 } else { 40 };
    let timed = alternate(&peers, runs, false)?;
    let mut rss = Vec::new();
    for p in &peers {
        rss.push(measure(p, true)?.rss_kib);
    }
    drop(alloc);
    let labels = [
        "raw argv by hand: `srun -n 2 --mpi=pmix ch-run --join … -- /opt/hello/mpi_hello`",
        "`dsi replay COMMIT`",
        "floor: `srun -n 2 /bin/true`",
    ];
    let base = secs_stats(&timed[0]).median;
    let rows: Vec<Vec<String>> = labels
        .iter()
        .zip(&timed)
        .zip(&rss)
        .enumerate()
        .map(|(i, ((label, samples), rss))| {
            let s = secs_stats(samples);
            vec![
                (*label).to_owned(),
                s.n.to_string(),
                fmt_secs(s.median),
                fmt_range(s.min, s.max),
                if i == 0 {
                    "—".to_owned()
                } else {
                    delta(s.median, base)
                },
                fmt_kib(*rss),
            ]
        })
        .collect();
    // The step's own spread (tens of ms) is shared by both peers of a round
    // far better than by their medians: the overhead is the median of the
    // per-round differences.
    let mut paired: Vec<f64> = timed[1]
        .iter()
        .zip(&timed[0])
        .map(|(d, r)| d.secs - r.secs)
        .collect();
    paired.sort_by(f64::total_cmp);
    let quartile = |q: usize| paired[(paired.len() - 1) * q / 4];
    let overhead = quartile(2);
    let mut out = String::from("### MPI replay under Slurm (RUNFILE-1.1 L-1)\n\n");
    let _ = writeln!(
        out,
        "L-1 on the MPI test image (`FROM {image}@sha256:…`, `LAUNCH --join [\"srun\", \
         \"-n\", \"2\", \"--mpi=pmix\"]`, `PASSENV SLURM_* PMIX_*`, `CMD \
         [\"/opt/hello/mpi_hello\"]`: two ranks, an allreduce) recorded once with `dsi \
         run`, then, in one allocation of the test cluster (`salloc -n 2 --no-shell`; \
         every process below is a step of that job), alternated round by round after \
         one untimed warm-up each: `dsi replay COMMIT` (release binary: find the record, \
         unpack and materialise the commit, verify the SquashFS file through the digest \
         cache, collect the kernel and scheduler context, pre-flight, run the step, \
         store the row) and the identical argv of its step run by hand. Δ against the \
         raw argv; peak RSS from one extra run each (the raw and floor rows measure \
         srun only, not its tasks). The overhead is the median of the {runs} per-round \
         differences (replay − raw argv, run back to back), which the step's own \
         spread moves far less than the difference of the medians.\n"
    );
    out.push_str(&table(
        &[
            "Variant",
            "n",
            "Median",
            "Min – max",
            "Δ median",
            "Peak RSS",
        ],
        1,
        &rows,
    ));
    let _ = writeln!(
        out,
        "\nOverhead of `dsi replay` above the raw srun argv: {} (quartiles {} – {}; goal: at most \
         30 ms: {}).",
        delta(overhead, 0.0),
        delta(quartile(1), 0.0),
        delta(quartile(3), 0.0),
        if overhead <= 0.030 { "met" } else { "not met" }
    );
    let _ = writeln!(out, "\nsrun argv: `{}`", argv.join(" "));
    Ok(out)
}
