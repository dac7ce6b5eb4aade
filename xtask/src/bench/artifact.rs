//! Section "Pack and unpack throughput": the `pack_unpack` example
//! (`artifact::pack` / `artifact::unpack`, release build) as a process over
//! two generated git repositories, for MB/s and peak RSS.
//!
//! The repositories are generated once under `target/bench-data/repo-1g/`
//! and `repo-100m/` (reused while their marker file matches
//! [`REPO_VERSION`]) by one `git fast-import` stream: every commit rewrites
//! 8 of 16 paths under `data/` with 0.5–1.5 MiB of pseudo-random
//! (incompressible) bytes each, committer dates fixed, so the content and the
//! commit hashes are the same on every machine. 128 commits make a `.git` of
//! about 1 GiB, 12 commits about 100 MiB; the working tree is the last
//! 16 files either way. Memory must not grow with the repository: the two
//! peak RSS figures are shown side by side.

use std::fmt::Write as _;
use std::fs;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, bail};

use super::datalad::git_identity;
use super::fmt::{fmt_count, fmt_kib, fmt_mb, fmt_range, fmt_secs, mb_per_s, table};
use super::measure::{
    Prepared, Sample, SplitMix, alternate_prepared, max_rss, measure, secs_stats,
};
use super::{Plan, bench_data, example, fresh_dir};

/// Bumped whenever the generator changes, so stale repositories are
/// regenerated.
const REPO_VERSION: &str = "repo v1: fast-import, 16 paths, 8 files of 0.5-1.5 MiB per commit";
/// Paths in the working tree, and how many of them each commit rewrites.
const PATHS: u64 = 16;
const FILES_PER_COMMIT: u64 = 8;

/// A generated repository.
#[derive(Debug, Clone, Copy)]
struct Spec {
    name: &'static str,
    label: &'static str,
    commits: u64,
}

const SPECS: [Spec; 2] = [
    Spec {
        name: "repo-100m",
        label: "~100 MiB",
        commits: 12,
    },
    Spec {
        name: "repo-1g",
        label: "~1 GiB",
        commits: 128,
    },
];

/// Size of file `j` of commit `c`: 0.5–1.5 MiB, 1 MiB on average.
fn file_size(c: u64, j: u64) -> usize {
    let r = SplitMix(c << 8 | j).next() % (1 << 20);
    usize::try_from((1 << 19) + r).expect("small")
}

fn file_path(c: u64, j: u64) -> String {
    format!("data/f{:02}.bin", (c * FILES_PER_COMMIT + j) % PATHS)
}

/// Writes the `git fast-import` stream of `spec` to `w`.
fn fast_import_stream(spec: Spec, w: &mut impl std::io::Write) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut mark = 0_u64;
    let mut parent: Option<u64> = None;
    for c in 0..spec.commits {
        let mut files = Vec::new();
        for j in 0..FILES_PER_COMMIT {
            let size = file_size(c, j);
            buf.resize(size, 0);
            SplitMix(0x7265_706f_0000_0000 ^ (c << 8 | j)).fill(&mut buf);
            mark += 1;
            write!(w, "blob\nmark :{mark}\ndata {size}\n")?;
            w.write_all(&buf)?;
            w.write_all(b"\n")?;
            files.push((mark, file_path(c, j)));
        }
        mark += 1;
        let message = format!("commit {c}: rewrite {FILES_PER_COMMIT} files\n");
        write!(
            w,
            "commit refs/heads/main\nmark :{mark}\n\
             author dsi bench <bench@dsi.invalid> {when} +0000\n\
             committer dsi bench <bench@dsi.invalid> {when} +0000\n\
             data {}\n{message}",
            message.len(),
            when = 1_700_000_000 + c * 60,
        )?;
        if let Some(p) = parent {
            writeln!(w, "from :{p}")?;
        }
        for (m, path) in files {
            writeln!(w, "M 100644 :{m} {path}")?;
        }
        writeln!(w)?;
        parent = Some(mark);
    }
    w.flush()
}

/// The repository of `spec`, generated if missing or stale.
fn repository(spec: Spec) -> anyhow::Result<PathBuf> {
    let data = bench_data();
    let dir = data.join(spec.name);
    let marker = data.join(format!("{}.done", spec.name));
    let want = format!("{REPO_VERSION}; {} commits", spec.commits);
    if dir.is_dir() && fs::read_to_string(&marker).is_ok_and(|m| m.trim() == want) {
        return Ok(dir);
    }
    let _ = fs::remove_file(&marker);
    let partial = data.join(format!("{}.partial", spec.name));
    if dir.exists() {
        fs::remove_dir_all(&dir)?;
    }
    fresh_dir(&partial)?;
    eprintln!(
        "xtask: bench: generating {} ({} commits, {}; once)",
        dir.display(),
        spec.commits,
        spec.label
    );
    let t0 = Instant::now();
    let git = |args: &[&str]| {
        let mut c = Command::new("git");
        c.args(args).current_dir(&partial);
        git_identity(&mut c);
        c
    };
    measure(&git(&["init", "-q", "-b", "main"]), false)?;
    // Level 1: the content is random anyway; the history is the point.
    let mut import = git(&["-c", "pack.compression=1", "fast-import", "--quiet"]);
    let mut child = import
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .context("starting git fast-import")?;
    let stdin = child.stdin.take().context("fast-import's stdin")?;
    let written = fast_import_stream(spec, &mut BufWriter::with_capacity(1 << 20, stdin));
    let status = child.wait()?;
    written.context("writing to git fast-import")?;
    if !status.success() {
        bail!("git fast-import failed with {status}");
    }
    measure(&git(&["reset", "-q", "--hard"]), false)?;
    fs::rename(&partial, &dir)?;
    fs::write(&marker, format!("{want}\n"))?;
    eprintln!(
        "xtask: bench: generated {} in {:.0} s",
        spec.name,
        t0.elapsed().as_secs_f64()
    );
    Ok(dir)
}

/// Files and bytes of regular files under `dir` (everything, `.git` too).
fn dir_size(dir: &Path) -> anyhow::Result<(u64, u64)> {
    let mut acc = (0, 0);
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).with_context(|| format!("reading {}", d.display()))? {
            let e = e?;
            let ty = e.file_type()?;
            if ty.is_dir() {
                stack.push(e.path());
            } else if ty.is_file() {
                acc.0 += 1;
                acc.1 += e.metadata()?.len();
            }
        }
    }
    Ok(acc)
}

/// `key=N` from a `pack_unpack` output line.
fn field(sample: &Sample, key: &str) -> Option<u64> {
    String::from_utf8_lossy(&sample.stdout)
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('=')?.parse().ok())
}

/// Flushes dirty pages so that a run does not pay for the previous one's.
fn sync() -> anyhow::Result<()> {
    let status = Command::new("sync").status().context("running sync")?;
    if !status.success() {
        bail!("sync failed with {status}");
    }
    Ok(())
}

pub(super) fn section(plan: Plan) -> anyhow::Result<String> {
    let repos: Vec<PathBuf> = SPECS
        .iter()
        .map(|s| repository(*s))
        .collect::<anyhow::Result<_>>()?;
    let out_dir = bench_data().join("pack-out");
    fresh_dir(&out_dir)?;
    let tool = example("pack_unpack");
    let tarball = |s: &Spec| out_dir.join(format!("{}.tar.zst", s.name));
    let unpacked = |s: &Spec| out_dir.join(format!("{}-unpacked", s.name));

    let mut peers: Vec<Prepared<'_>> = Vec::new();
    for (spec, repo) in SPECS.iter().zip(&repos) {
        let (tool, tarball, unpacked) = (&tool, tarball(spec), unpacked(spec));
        let tarball2 = tarball.clone();
        peers.push(Box::new(move || {
            sync()?;
            let mut c = Command::new(tool);
            c.arg("pack").arg(repo).arg(&tarball);
            Ok(vec![c])
        }));
        peers.push(Box::new(move || {
            if unpacked.exists() {
                fs::remove_dir_all(&unpacked)?;
            }
            sync()?;
            let mut c = Command::new(tool);
            c.arg("unpack").arg(&tarball2).arg(&unpacked);
            Ok(vec![c])
        }));
    }
    eprintln!("xtask: bench: pack and unpack: ~100 MiB and ~1 GiB repositories");
    let timed = alternate_prepared(&mut peers, plan.pack_runs, &[], 0, true)?;
    drop(peers);

    let mut rows = Vec::new();
    let mut rss = Vec::new();
    let mut described = Vec::new();
    for (k, (spec, repo)) in SPECS.iter().zip(&repos).enumerate() {
        let (pack, unpack) = (&timed[2 * k], &timed[2 * k + 1]);
        let tar_bytes = pack.iter().find_map(|s| field(s, "bytes")).unwrap_or(0);
        let content = unpack.iter().find_map(|s| field(s, "bytes")).unwrap_or(0);
        let entries = unpack.iter().find_map(|s| field(s, "entries")).unwrap_or(0);
        let (files, bytes) = dir_size(repo)?;
        let (_, git_bytes) = dir_size(&repo.join(".git"))?;
        described.push(format!(
            "`{}` ({} commits: `.git` {}, {} files and {} in all; tarball {}, {} entries, \
             {} of file content)",
            spec.name,
            spec.commits,
            fmt_mb(git_bytes),
            fmt_count(files),
            fmt_mb(bytes),
            fmt_mb(tar_bytes),
            fmt_count(entries),
            fmt_mb(content),
        ));
        for (op, samples) in [("pack", pack), ("unpack", unpack)] {
            let s = secs_stats(samples);
            let peak = max_rss(samples);
            rss.push(peak);
            rows.push(vec![
                format!("{} ({})", spec.label, spec.name),
                op.to_owned(),
                s.n.to_string(),
                fmt_secs(s.median),
                fmt_range(s.min, s.max),
                mb_per_s(tar_bytes, s.median),
                mb_per_s(content, s.median),
                fmt_kib(peak),
            ]);
        }
    }
    let _ = fs::remove_dir_all(&out_dir);

    let mut out = String::from("## Pack and unpack throughput\n\n");
    let _ = writeln!(
        out,
        "The `pack_unpack` example (release build) as a process: `pack` is \
         `artifact::pack(DIR)` — the whole directory including `.git`, deterministic \
         tar + zstd level 3, hashed as written, fsynced — into a file; `unpack` is \
         `artifact::unpack` of that file into a new directory (the hostile-input checks \
         included). Repositories generated once by `git fast-import` (deterministic; every \
         commit rewrites 8 of 16 files with 0.5–1.5 MiB of pseudo-random, incompressible \
         bytes): {}. Page cache warm for reading (one untimed round first); `sync` before \
         every run, so no run pays for the previous one's writes. Runs alternated; MB/s = \
         bytes / median time, of the tarball and of the file content (what was packed or \
         unpacked); peak RSS (`/usr/bin/time -f %M`) is the maximum over runs.\n",
        described.join("; ")
    );
    out.push_str(&table(
        &[
            "Repository",
            "Operation",
            "n",
            "Median",
            "Min – max",
            "Tarball MB/s",
            "Content MB/s",
            "Peak RSS",
        ],
        2,
        &rows,
    ));
    out.push_str("\nMemory against repository size (it must not grow with it):\n\n");
    let mut mem_rows = Vec::new();
    for (i, op) in ["pack", "unpack"].iter().enumerate() {
        let (small, big) = (rss[i], rss[2 + i]);
        #[allow(clippy::cast_precision_loss)]
        let ratio = match (small, big) {
            (Some(s), Some(b)) if s > 0 => format!("{:.2}", b as f64 / s as f64),
            _ => "n/a".into(),
        };
        mem_rows.push(vec![(*op).to_owned(), fmt_kib(small), fmt_kib(big), ratio]);
    }
    out.push_str(&table(
        &[
            "Operation",
            "Peak RSS, ~100 MiB repository",
            "Peak RSS, ~1 GiB repository",
            "Ratio",
        ],
        1,
        &mem_rows,
    ));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_history_is_about_the_promised_size() {
        let total = |commits: u64| -> u64 {
            (0..commits)
                .flat_map(|c| (0..FILES_PER_COMMIT).map(move |j| file_size(c, j) as u64))
                .sum()
        };
        let gib = total(SPECS[1].commits) as f64 / f64::from(1 << 30);
        let mib = total(SPECS[0].commits) as f64 / f64::from(1 << 20);
        assert!((0.9..1.1).contains(&gib), "{gib} GiB");
        assert!((85.0..115.0).contains(&mib), "{mib} MiB");
        assert_eq!(file_path(0, 0), "data/f00.bin");
        assert_eq!(file_path(1, 7), "data/f15.bin");
        assert_eq!(file_path(2, 0), "data/f00.bin");
    }

    #[test]
    fn fast_import_stream_is_deterministic() {
        let spec = Spec {
            name: "t",
            label: "t",
            commits: 2,
        };
        let (mut a, mut b) = (Vec::new(), Vec::new());
        fast_import_stream(spec, &mut a).unwrap();
        fast_import_stream(spec, &mut b).unwrap();
        assert_eq!(a, b);
        let text = String::from_utf8_lossy(&a);
        assert!(
            text.contains("from :9\n"),
            "second commit has the first as parent"
        );
    }
}
