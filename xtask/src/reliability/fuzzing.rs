//! Fuzzing: every cargo-fuzz target, time-boxed.
//!
//! Builds the targets once (`cargo fuzz build -s none`: stable Rust, no
//! sanitizer), replays every committed crash input under
//! `fuzz/regressions/<target>/` (each must now pass), then fuzzes each
//! target for the plan's seconds from its committed seeds
//! (`fuzz/seeds/<dir>/`) plus the local corpus (`fuzz/corpus/<target>/`,
//! not committed). A crash fails the section; libFuzzer writes the input to
//! `fuzz/artifacts/<target>/`, which is then to be copied into
//! `fuzz/regressions/<target>/` next to the fix and its regression test.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::Context;

use super::harness::{Ctx, Row};
use crate::util::{cargo, project_root, run as sh};

/// A fuzz target: its name, seed directory and dictionary.
struct Target {
    name: &'static str,
    seeds: &'static str,
    dict: Option<&'static str>,
    what: &'static str,
}

const TARGETS: &[Target] = &[
    Target {
        name: "runfile_parse",
        seeds: "runfile",
        dict: Some("fuzz/runfile.dict"),
        what: "Runfile parser: no panic; canonical form reparses to the same program",
    },
    Target {
        name: "unpack",
        seeds: "unpack",
        dict: Some("fuzz/unpack.dict"),
        what: "artifact::unpack into a temporary directory: no panic, nothing written outside, no link leaving it",
    },
    Target {
        name: "csv_reader",
        seeds: "csv",
        dict: None,
        what: "ingest::CsvReader on a temporary file: no panic; a table read twice is the same",
    },
];

/// The host triple, where cargo fuzz puts its binaries.
fn host_triple() -> anyhow::Result<String> {
    let out = Command::new("rustc")
        .arg("-vV")
        .output()
        .context("running rustc -vV")?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_owned))
        .context("rustc -vV names no host")
}

/// Files in a directory (none if it does not exist), sorted.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// Builds and runs every target.
pub(crate) fn run(ctx: &Ctx) -> anyhow::Result<Vec<Row>> {
    crate::fuzz::install()?;
    sh(cargo().args(["fuzz", "build", "-s", "none"]))?;
    let root = project_root();
    let bin_dir = root
        .join("fuzz/target")
        .join(host_triple()?)
        .join("release");
    let mut rows = Vec::new();
    for t in TARGETS {
        let start = Instant::now();
        let row = one(ctx, &root, &bin_dir, t).unwrap_or_else(|e| Row {
            section: "Fuzzing",
            check: format!("`{}`", t.name),
            driver: "—".into(),
            runs: "aborted".into(),
            ok: false,
            detail: format!("{e:#}"),
        });
        eprintln!(
            "xtask: reliability: fuzz {}: {} ({:.1} s)",
            t.name,
            if row.ok { "ok" } else { "FAILED" },
            start.elapsed().as_secs_f64()
        );
        rows.push(row);
    }
    Ok(rows)
}

fn one(ctx: &Ctx, root: &Path, bin_dir: &Path, t: &Target) -> anyhow::Result<Row> {
    let bin = bin_dir.join(t.name);
    let mut problems = Vec::new();

    // Committed crash inputs must pass now.
    let regressions = files(&root.join("fuzz/regressions").join(t.name));
    if !regressions.is_empty() {
        let out = Command::new(&bin)
            .args(&regressions)
            .current_dir(root)
            .output()
            .with_context(|| format!("running {}", bin.display()))?;
        if !out.status.success() {
            problems.push(format!(
                "a committed regression input fails again: {}",
                String::from_utf8_lossy(&out.stderr)
                    .lines()
                    .filter(|l| l.contains("panicked") || l.contains("ERROR"))
                    .collect::<Vec<_>>()
                    .join(" ")
            ));
        }
    }

    let corpus = root.join("fuzz/corpus").join(t.name);
    let seeds = root.join("fuzz/seeds").join(t.seeds);
    let artifacts = root.join("fuzz/artifacts").join(t.name);
    std::fs::create_dir_all(&corpus)?;
    std::fs::create_dir_all(&artifacts)?;
    let crashes_before = files(&artifacts);
    let mut c = Command::new(&bin);
    c.arg(&corpus)
        .arg(&seeds)
        .arg(format!("-max_total_time={}", ctx.plan.fuzz_seconds))
        .arg(format!("-artifact_prefix={}/", artifacts.display()))
        .arg("-timeout=20")
        .arg("-rss_limit_mb=2048")
        .arg("-print_final_stats=1")
        .current_dir(root);
    if let Some(d) = t.dict {
        c.arg(format!("-dict={d}"));
    }
    let start = Instant::now();
    let out = c
        .output()
        .with_context(|| format!("running {}", bin.display()))?;
    let elapsed = start.elapsed();
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    std::fs::write(ctx.work.join(format!("fuzz-{}.log", t.name)), &log)?;
    let stat = |key: &str| {
        log.lines()
            .find_map(|l| l.strip_prefix(&format!("stat::{key}:")))
            .map(|v| v.trim().to_owned())
            .unwrap_or_else(|| "?".into())
    };
    // The last status line: `#N DONE cov: C ft: F corp: K/…`.
    let last = log
        .lines()
        .rev()
        .find(|l| l.starts_with('#') && l.contains("cov:"))
        .unwrap_or_default();
    let field = |name: &str| {
        last.split_whitespace()
            .skip_while(|w| *w != name)
            .nth(1)
            .unwrap_or("?")
            .to_owned()
    };
    if !out.status.success() {
        let new: Vec<String> = files(&artifacts)
            .into_iter()
            .filter(|f| !crashes_before.contains(f))
            .map(|f| f.strip_prefix(root).unwrap_or(&f).display().to_string())
            .collect();
        let panic = log
            .lines()
            .find(|l| l.contains("panicked at") || l.contains("ERROR: libFuzzer"))
            .unwrap_or("no panic message");
        problems.push(format!(
            "crashed ({}): {panic}; input(s) {new:?}: copy to fuzz/regressions/{}/, fix, add a regression test",
            out.status, t.name
        ));
    }
    let ok = problems.is_empty();
    Ok(Row {
        section: "Fuzzing",
        check: format!("`{}`: {}", t.name, t.what),
        driver: "—".into(),
        runs: format!("{:.0} s", elapsed.as_secs_f64()),
        ok,
        detail: if ok {
            format!(
                "{} executions, no crash; coverage {} edges, {} features, corpus {} inputs; {} committed regression input(s) pass",
                stat("number_of_executed_units"),
                field("cov:"),
                field("ft:"),
                field("corp:").split('/').next().unwrap_or("?"),
                regressions.len()
            )
        } else {
            problems.join("; ")
        },
    })
}
