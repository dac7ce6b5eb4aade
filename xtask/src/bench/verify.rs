//! Section "Verification: comparing texts": the `verify_compare` example
//! (RUNFILE-1.1 §5.5 `numbers`, `lines` and `exact`, streamed) on a
//! generated 1 GiB text of mixed numbers and words and a replay of it whose
//! numbers differ in their last digits (within the tolerance), with
//! `cmp` of two identical copies of the text as the floor (reading both
//! files through once).

use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;

use super::fmt::{fmt_secs, table};
use super::measure::{Stats, measure};
use super::{Plan, bench_data, example};
use crate::json::{self, Json};

/// Size of the generated texts.
const SIZE: usize = 1 << 30;

/// The reference text, its byte-identical copy and a replay of it: lines of
/// a solver log (words, integers, decimals, exponents); the replay's
/// decimals differ in the last digit.
fn texts() -> anyhow::Result<[PathBuf; 3]> {
    let dir = bench_data().join("verify-texts");
    let paths = ["reference.txt", "copy.txt", "replay.txt"].map(|n| dir.join(n));
    if paths.iter().all(|p| p.exists()) {
        return Ok(paths);
    }
    fs::create_dir_all(&dir)?;
    let mut p = std::io::BufWriter::new(fs::File::create(&paths[0])?);
    let mut r = std::io::BufWriter::new(fs::File::create(&paths[2])?);
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut written = 0usize;
    let mut step = 0u64;
    while written < SIZE {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        step += 1;
        let e = -76.0 - (x % 1_000_000) as f64 * 1e-7;
        let de = (x >> 20) % 999 + 1;
        let line_p =
            format!("step {step}  E_total = {e:.11} Ha  dE = {de}e-4  residual 3.1e-09 conv ok\n");
        // The replay: the energy's last digit moves by one (well within
        // rtol 1e-6), the spelling of dE changes (`…0e-4`).
        let line_r = format!(
            "step {step}  E_total = {:.11} Ha  dE = {de}.0e-4  residual 3.1e-09 conv ok\n",
            e - 1e-11
        );
        p.write_all(line_p.as_bytes())?;
        r.write_all(line_r.as_bytes())?;
        written += line_p.len();
    }
    p.flush()?;
    r.flush()?;
    drop((p, r));
    fs::copy(&paths[0], &paths[1])?;
    Ok(paths)
}

/// One measure of the example: `(measure, secs, MB/s, differs, peak RSS KiB)`.
type Measured = (String, f64, f64, bool, u64);

/// The example's rows.
fn compare(r: &Path, p: &Path, runs: usize) -> anyhow::Result<Vec<Measured>> {
    let mut c = Command::new(example("verify_compare"));
    c.arg(r).arg(p).arg(runs.to_string());
    let s = measure(&c, false)?;
    let mut rows = Vec::new();
    for line in String::from_utf8_lossy(&s.stdout).lines() {
        let j = json::parse(line)?;
        let num = |k: &str| j.get(k).and_then(Json::as_f64);
        rows.push((
            j.get("measure")
                .and_then(Json::as_str)
                .context("measure")?
                .to_owned(),
            num("secs").context("secs")?,
            num("mb_per_s").context("mb_per_s")?,
            j.get("differs").and_then(Json::as_bool).unwrap_or(false),
            num("peak_rss_kib").unwrap_or(0.0) as u64,
        ));
    }
    Ok(rows)
}

pub(super) fn section(plan: Plan) -> anyhow::Result<String> {
    let [reference, copy, replay] = texts()?;
    let size = fs::metadata(&reference)?.len() as f64;
    let runs = if plan.quick { 1 } else { 3 };
    // Warm the page cache with both files, as the comparisons will see them.
    let _ = Command::new("cat")
        .arg(&reference)
        .arg(&replay)
        .stdout(std::process::Stdio::null())
        .status();
    let cmp = (0..runs)
        .map(|_| {
            let mut c = Command::new("cmp");
            c.arg(&reference).arg(&copy);
            measure(&c, false).map(|s| s.secs)
        })
        .collect::<anyhow::Result<Vec<f64>>>()?;
    let cmp_median = Stats::of(&cmp).median;
    let mut rows = vec![vec![
        "`cmp` of two identical copies (floor)".to_owned(),
        fmt_secs(cmp_median),
        format!("{:.0}", size / cmp_median / 1e6),
        "—".to_owned(),
        "—".to_owned(),
    ]];
    for (against, what) in [
        (&copy, "identical copy"),
        (&replay, "replay (numbers differ)"),
    ] {
        for (measure, secs, mbps, differs, rss) in compare(against, &reference, runs)? {
            rows.push(vec![
                format!("`{measure}` against the {what}"),
                fmt_secs(secs),
                // A difference ends the comparison: no throughput to speak of.
                if differs {
                    "—".to_owned()
                } else {
                    format!("{mbps:.0}")
                },
                if differs {
                    "differs (stops there)"
                } else {
                    "passes"
                }
                .to_owned(),
                format!("{:.1}", rss as f64 / 1024.0),
            ]);
        }
    }
    let mut out = String::from("## Verification: comparing texts\n\n");
    let _ = writeln!(
        out,
        "The `verify_compare` example (release build) compares a generated text of \
         {:.2} GiB (solver-log lines: words, integers, 11-decimal energies, exponents) \
         with an identical copy and with a replay whose energies differ in the last \
         digit and whose `dE` is spelled differently (`numbers` with rtol 1e-6 passes \
         it; `lines` and `exact` report the first difference, at once). Median of \
         {runs} runs, page cache warm. MB/s = the replay file's size / time (10^6 \
         bytes); peak RSS of the example process after all its runs. The floor is \
         `cmp` of two byte-identical copies, which reads both files to the end.\n",
        size / f64::from(1u32 << 30)
    );
    out.push_str(&table(
        &["Measure", "Median", "MB/s", "Result", "Peak RSS (MiB)"],
        1,
        &rows,
    ));
    Ok(out)
}
