//! Concurrency: 16 processes recording into one store at once.
//!
//! For each driver, 16 threads each run `dsi --json record` N times in a row
//! (all released together by a barrier), against one SQLite file, one local
//! Parquet dataset or one S3 prefix. Every record must succeed; afterwards
//! the store must hold exactly 16 × N runs, with distinct run ids that are
//! exactly the ids the writers printed (none lost, none duplicated), and
//! `dsi fsck` must be clean.

use std::collections::BTreeSet;
use std::sync::{Barrier, Mutex};
use std::time::Instant;

use super::harness::{Ctx, Driver, Row};
use crate::json;

/// Every driver.
pub(crate) fn run(ctx: &Ctx) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    for driver in Driver::ALL {
        let start = Instant::now();
        let row = one(ctx, driver).unwrap_or_else(|e| Row {
            section: "Concurrency",
            check: format!("{} writers recording at once", ctx.plan.writers),
            driver: driver.name().into(),
            runs: "aborted".into(),
            ok: false,
            detail: format!("{e:#}"),
        });
        eprintln!(
            "xtask: reliability: concurrency {}: {} ({:.1} s)",
            driver.name(),
            if row.ok { "ok" } else { "FAILED" },
            start.elapsed().as_secs_f64()
        );
        rows.push(row);
    }
    Ok(rows)
}

fn one(ctx: &Ctx, driver: Driver) -> anyhow::Result<Row> {
    let plan = ctx.plan;
    let store = ctx.store(driver, &format!("concurrency-{}", driver.name()))?;
    let runfile = ctx.runfile.display().to_string();
    let barrier = Barrier::new(plan.writers);
    let printed = Mutex::new(Vec::<String>::new());
    let failures = Mutex::new(Vec::<String>::new());
    let start = Instant::now();
    std::thread::scope(|s| {
        for w in 0..plan.writers {
            let (barrier, printed, failures, store, runfile) =
                (&barrier, &printed, &failures, &store, &runfile);
            s.spawn(move || {
                barrier.wait();
                for n in 0..plan.records_per_writer {
                    let result = ctx
                        .output(Some(store), &["--json", "record", "--again", runfile])
                        .map_err(|e| format!("{e:#}"))
                        .and_then(|out| {
                            if !out.status.success() {
                                return Err(String::from_utf8_lossy(&out.stderr).trim().to_owned());
                            }
                            let v = json::parse(&String::from_utf8_lossy(&out.stdout))
                                .map_err(|e| format!("{e:#}"))?;
                            v["record"]["run_id"]
                                .as_str()
                                .map(str::to_owned)
                                .ok_or_else(|| "no run_id printed".to_owned())
                        });
                    match result {
                        Ok(id) => printed.lock().expect("no panics").push(id),
                        Err(e) => failures
                            .lock()
                            .expect("no panics")
                            .push(format!("writer {w} record {n}: {e}")),
                    }
                }
            });
        }
    });
    let elapsed = start.elapsed();
    let printed = printed.into_inner().expect("no panics");
    let mut problems = failures.into_inner().expect("no panics");
    let expected = plan.writers * plan.records_per_writer;

    let state = ctx.inspect(&store)?;
    let rows = state.rows("runs");
    if rows != expected as u64 {
        problems.push(format!("{rows} runs stored, expected {expected}"));
    }
    let ids = ctx.run_ids(&store)?;
    let distinct: BTreeSet<&String> = ids.iter().collect();
    if distinct.len() != ids.len() {
        problems.push(format!("{} duplicated run ids", ids.len() - distinct.len()));
    }
    let printed_set: BTreeSet<&String> = printed.iter().collect();
    if printed_set != distinct {
        let lost = printed_set.difference(&distinct).count();
        let extra = distinct.difference(&printed_set).count();
        problems.push(format!(
            "stored ids differ from the ids the writers printed: {lost} lost, {extra} unknown"
        ));
    }
    let fsck = ctx.fsck(&store)?;
    if !fsck.clean() {
        problems.push(format!("fsck failed: {}", fsck.problems.join("; ")));
    }
    let ok = problems.is_empty();
    Ok(Row {
        section: "Concurrency",
        check: format!(
            "{} processes × {} `dsi record` into one store at once",
            plan.writers, plan.records_per_writer
        ),
        driver: driver.name().into(),
        runs: format!("{expected} records"),
        ok,
        detail: if ok {
            format!(
                "{rows} runs, {} distinct ids = the ids printed, fsck clean ({} runs, {} blobs); \
                 {:.1} s wall",
                distinct.len(),
                fsck.runs,
                fsck.blobs,
                elapsed.as_secs_f64()
            )
        } else {
            problems.join("; ")
        },
    })
}
