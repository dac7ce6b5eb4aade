//! `bench/RELIABILITY.md`: one Markdown table of every check, with a header
//! saying when, on what and how it ran.

use std::fmt::Write as _;
use std::process::Command;
use std::time::Duration;

use super::harness::{Plan, Row};

/// Output of a command, trimmed (empty when it fails).
fn capture(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .current_dir(crate::util::project_root())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// Makes text safe inside a table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// The report text.
pub(crate) fn render(
    plan: &Plan,
    rows: &[Row],
    elapsed: Duration,
    sections: &[(&str, Duration)],
) -> String {
    let mut out = String::new();
    let date = capture("date", &["-u", "+%Y-%m-%d %H:%M UTC"]);
    let commit = capture("git", &["rev-parse", "--short", "HEAD"]);
    let dirty = !capture("git", &["status", "--porcelain", "--untracked-files=no"]).is_empty();
    let kernel = capture("uname", &["-sr"]);
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let passed = rows.iter().filter(|r| r.ok).count();
    let _ = writeln!(out, "# Reliability\n");
    let _ = writeln!(
        out,
        "_Written by `cargo xtask reliability{}` on {date} at commit {commit}{} ({kernel}, {cores} cores), \
         in {:.1} min ({}). `dsi` is the debug build (`target/debug/dsi`, built by `cargo test \
         --workspace --all-features --no-run`), used for every check. Random kill delays come from \
         SplitMix64 seeded with {:#x}._\n",
        if plan.quick { " --quick" } else { "" },
        if dirty { " with local changes" } else { "" },
        elapsed.as_secs_f64() / 60.0,
        sections
            .iter()
            .map(|(n, d)| format!("{n} {:.0} s", d.as_secs_f64()))
            .collect::<Vec<_>>()
            .join(", "),
        plan.seed
    );
    let _ = writeln!(out, "**{passed} of {} checks passed.**\n", rows.len());
    let _ = writeln!(
        out,
        "| Section | Check | Driver | Runs | Outcome | What was seen |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|");
    for r in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            r.section,
            cell(&r.check),
            r.driver,
            cell(&r.runs),
            if r.ok { "pass" } else { "**FAIL**" },
            cell(&r.detail)
        );
    }
    let _ = writeln!(
        out,
        "\n## How each check works\n\n\
         - **Crash safety.** One uninterrupted put is timed; then the writer (its process group) is \
         killed with SIGKILL after a seeded random delay (every other kill uniform over that time, \
         the others over its second half, where the writing happens), {} times per driver and \
         workload. After every kill the store must open (`dsi inspect`), hold whole puts only \
         (`runs` rows, or the ingested table's rows a multiple of {}; never fewer than the puts known \
         to have finished, never more than were started, never fewer than before) and pass \
         `dsi fsck` (blob digests verify, every record's blob exists). A last put must then succeed \
         and add exactly one put. The S3 store is the moto test server on loopback (its create-if-absent is atomic, \
         which the S3 driver requires of concurrent writers).\n\
         - **Concurrency.** {} threads, released together, each run `dsi --json record --again` {} times \
         against one store. Afterwards the store must hold exactly that many runs, with distinct \
         ids equal to the ids the writers printed, and fsck must be clean.\n\
         - **Hostile input.** Stored artifacts: `dsi-cli/tests/hostile_artifacts.rs` stores each \
         malicious tarball (and the bombs) as a record's repository blob under its true digest and \
         runs `dsi checkout`, `dsi show` and `dsi replay --run` on it, with `TMPDIR` and the \
         working directory in a sandbox whose every file is compared before and after. Runfiles: \
         one file per static diagnostic code of `docs/RUNFILE.md`. \"Store unchanged\" compares \
         `dsi --json inspect`, the run ids and fsck before and after.\n\
         - **Faults.** S3: a private s3s-fs is stopped (SIGTERM) at a seeded random point in the \
         second half of a `dsi record` uploading a ~32 MiB blob, then restarted on the same port and \
         data; the record must fail with one line or have finished, and the store must hold \
         exactly the finished records and pass fsck. Registry: `dsi record` and `dsi replay` with an \
         new image storage and `HTTPS_PROXY` pointing at a closed loopback port, so that \
         `ch-image pull` cannot reach the registry. Disk full: the store on a 128 MiB tmpfs filled to \
         its last 256 KiB.\n\
         - **Fuzzing.** cargo-fuzz targets built on stable without a sanitizer (`-s none`), each \
         run for {} s from the committed seeds under `fuzz/seeds/` plus the local corpus; committed \
         crash inputs under `fuzz/regressions/<target>/` are replayed first.\n",
        plan.kills, plan.csv_rows, plan.writers, plan.records_per_writer, plan.fuzz_seconds
    );
    out
}
