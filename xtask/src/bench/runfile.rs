//! Section "Runfile parsing": criterion's estimates for
//! `benches/runfile_parse.rs`, read from
//! `target/criterion/<group>/<bench>/new/*.json`, never from its output.

use std::fmt::Write as _;
use std::fs;

use anyhow::Context;

use super::Plan;
use super::criterion_home;
use super::fmt::{fmt_range, fmt_rate, fmt_secs, table};
use super::measure::Stats;
use crate::json::{self, Json};

/// A criterion result: per-iteration seconds.
#[derive(Debug, Clone, Copy)]
pub(super) struct Estimate {
    /// Criterion's median point estimate and its confidence interval.
    pub(super) median: f64,
    pub(super) lower: f64,
    pub(super) upper: f64,
    /// Fastest and slowest sample (mean iteration time within a sample).
    pub(super) min: f64,
    pub(super) max: f64,
    pub(super) samples: usize,
}

/// Reads `<criterion>/<group>/<function>[/<param>]/new/{estimates,sample}.json`.
pub(super) fn criterion_estimate(id: &str) -> anyhow::Result<Estimate> {
    let dir = criterion_home().join(id).join("new");
    let read = |name: &str| -> anyhow::Result<Json> {
        let path = dir.join(name);
        let text =
            fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        json::parse(&text).with_context(|| format!("parsing {}", path.display()))
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

/// Median of `runfile_parse/<bench>/<case>` divided by the Runfile's lines.
fn per_line(medians: &[(&str, &str, f64, f64)], case: &str, bench: &str) -> Option<f64> {
    medians
        .iter()
        .find(|(c, b, _, _)| *c == case && *b == bench)
        .map(|(_, _, median, lines)| median / lines)
}

pub(super) fn section(plan: Plan) -> anyhow::Result<String> {
    // (criterion id, label, physical lines of the Runfile)
    let cases = [
        ("v1_minimal", "V-1 minimal (2 lines)", 2.0),
        ("v2_realistic", "V-2 realistic (13 lines)", 13.0),
        (
            "w1_verification",
            "W-1 Runfile 1.1: path image, INPUT, OUTPUT, METRIC, EXPECT (8 lines)",
            8.0,
        ),
    ];
    let benches = [
        ("parse", "`parse`"),
        (
            "parse_canonical_digest",
            "`parse` + `.canonical()` + `.digest()`",
        ),
    ];
    let mut rows = Vec::new();
    let mut medians = Vec::new();
    let mut base = None;
    for (case, case_label, lines) in cases {
        for (bench, bench_label) in benches {
            let e = criterion_estimate(&format!("runfile_parse/{bench}/{case}"))?;
            let base = *base.get_or_insert(e.median);
            medians.push((case, bench, e.median, lines));
            rows.push(vec![
                case_label.to_owned(),
                bench_label.to_owned(),
                fmt_secs(e.median),
                fmt_range(e.lower, e.upper),
                fmt_range(e.min, e.max),
                fmt_secs(e.median / lines),
                fmt_rate(1.0 / e.median),
                format!("{:.2}", e.median / base),
            ]);
        }
    }
    let samples = if plan.quick { "10" } else { "100" };
    let mut s = String::from("## Runfile parsing\n\n");
    let _ = writeln!(
        s,
        "RUNFILE.md §11.1 and RUNFILE-1.1 §9.1 examples through `runfile::parse` (and the \
         canonical text and digest), criterion in-process, {samples} samples each. Time per \
         Runfile and per physical line; min–max over samples; ratio = median / median of the \
         first row.\n"
    );
    s.push_str(&table(
        &[
            "Runfile",
            "Work",
            "Median",
            "95% CI of median",
            "Min – max",
            "Per line (median)",
            "Runfiles/s (median)",
            "Ratio",
        ],
        2,
        &rows,
    ));
    let ratio = |bench: &str| -> Option<f64> {
        Some(
            per_line(&medians, "w1_verification", bench)?
                / per_line(&medians, "v2_realistic", bench)?,
        )
    };
    if let (Some(parse), Some(full)) = (ratio("parse"), ratio("parse_canonical_digest")) {
        let _ = writeln!(
            s,
            "\nPer line, from the medians above, a Runfile 1.1 line (W-1) costs {parse:.2}× a v1 \
             line (V-2) to parse and {full:.2}× to parse, canonicalise and digest (goal: below \
             2×; RE1 expressions are validated when parsed, translated and compiled with the \
             `regex` crate on first use)."
        );
    }
    match paired() {
        Ok(rows) => {
            let _ = writeln!(
                s,
                "\nThe same ratio measured paired (the two medians above were measured at \
                 different times, which load on this machine moves by up to ±20%): rounds of \
                 about 2 ms alternate V-2 and W-1, each pair of rounds gives one per-line ratio.\n"
            );
            s.push_str(&table(
                &[
                    "Work",
                    "Per-line ratio W-1 / V-2 (median)",
                    "Quartiles",
                    "Rounds",
                ],
                1,
                &rows,
            ));
        }
        Err(e) => {
            let _ = writeln!(s, "\nPaired ratio not measured: {e:#}.");
        }
    }
    Ok(s)
}

/// The bench's paired W-1/V-2 measurement (`runfile_parse/paired.json`).
fn paired() -> anyhow::Result<Vec<Vec<String>>> {
    let path = criterion_home().join("runfile_parse").join("paired.json");
    let text = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let doc = json::parse(&text).with_context(|| format!("parsing {}", path.display()))?;
    let mut rows = Vec::new();
    for (key, label) in [
        ("parse", "`parse`"),
        (
            "parse_canonical_digest",
            "`parse` + `.canonical()` + `.digest()`",
        ),
    ] {
        let num = |field: &str| {
            doc.get(key)
                .and_then(|o| o.get(field))
                .and_then(Json::as_f64)
                .with_context(|| format!("{}: no {key}.{field}", path.display()))
        };
        rows.push(vec![
            label.to_owned(),
            format!("{:.2}", num("median")?),
            format!("{:.2} – {:.2}", num("q1")?, num("q3")?),
            format!("{:.0}", num("rounds")?),
        ]);
    }
    Ok(rows)
}
