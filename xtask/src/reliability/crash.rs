//! Crash safety: a writer killed with SIGKILL at random points.
//!
//! For each driver and each workload — `dsi record` (one `runs` row and its
//! repository blob) and `dsi ingest csv` of a 100k-row file (one put of
//! 100,000 rows) — one uninterrupted put is timed first, then the writer is
//! started again and again and killed (its whole process group) after a
//! delay drawn by a seeded generator: every other kill uniformly over that
//! time, the others over its second half (where the writing happens). After
//! every kill the store must open (`dsi inspect`), hold a whole number of
//! puts (rows a multiple of the put, never fewer than the puts known to have
//! finished, never more than were started), and pass `dsi fsck` (every blob
//! digest verifies, every record's blob is there). At the end one more put
//! must succeed and add exactly one put's rows.

use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::Context;

use super::harness::{Ctx, Driver, Rng, Row, Store, debris, kill_group, ms};

/// What a killed writer was doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Workload {
    Record,
    Ingest,
}

impl Workload {
    fn name(self) -> &'static str {
        match self {
            Workload::Record => "record",
            Workload::Ingest => "ingest",
        }
    }

    /// The table one put adds to, and how many rows.
    fn unit(self, ctx: &Ctx) -> (&'static str, u64) {
        match self {
            Workload::Record => ("runs", 1),
            Workload::Ingest => ("t", ctx.plan.csv_rows as u64),
        }
    }

    fn command(self, ctx: &Ctx, store: &Store) -> Command {
        let runfile = ctx.runfile.display().to_string();
        let csv = ctx.work.join("rows.csv").display().to_string();
        let mut c = match self {
            Workload::Record => ctx.command(Some(store), &["record", "--again", &runfile]),
            Workload::Ingest => ctx.command(Some(store), &["ingest", "csv", &csv, "--table", "t"]),
        };
        c.stdout(Stdio::null()).stderr(Stdio::piped());
        std::os::unix::process::CommandExt::process_group(&mut c, 0);
        c
    }
}

/// Writes the CSV file the ingest workload loads: `rows` rows of an int, a
/// text, a float and a bool column, always the same bytes.
pub(crate) fn write_csv(ctx: &Ctx) -> anyhow::Result<()> {
    let mut rng = Rng::new(ctx.plan.seed, "csv");
    let mut text = String::from("id,name,score,ok\n");
    for i in 0..ctx.plan.csv_rows {
        let score = rng.unit();
        text.push_str(&format!(
            "{i},name-{i},{score:.6},{}\n",
            if i % 3 == 0 { "true" } else { "false" }
        ));
    }
    let path = ctx.work.join("rows.csv");
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))
}

/// Every workload on every driver.
pub(crate) fn run(ctx: &Ctx) -> anyhow::Result<Vec<Row>> {
    write_csv(ctx)?;
    let mut rows = Vec::new();
    for workload in [Workload::Record, Workload::Ingest] {
        for driver in Driver::ALL {
            let start = Instant::now();
            let row = one(ctx, workload, driver).unwrap_or_else(|e| Row {
                section: "Crash safety",
                check: format!("SIGKILL during `dsi {}`", workload.name()),
                driver: driver.name().into(),
                runs: "aborted".into(),
                ok: false,
                detail: format!("{e:#}"),
            });
            eprintln!(
                "xtask: reliability: crash {} {}: {} ({:.1} s)",
                workload.name(),
                driver.name(),
                if row.ok { "ok" } else { "FAILED" },
                start.elapsed().as_secs_f64()
            );
            rows.push(row);
        }
    }
    Ok(rows)
}

fn one(ctx: &Ctx, workload: Workload, driver: Driver) -> anyhow::Result<Row> {
    let name = format!("crash-{}-{}", workload.name(), driver.name());
    let store = ctx.store(driver, &name)?;
    let (table, unit) = workload.unit(ctx);

    // One uninterrupted put: its duration bounds the kill delays.
    let t0 = Instant::now();
    let out = workload.command(ctx, &store).output()?;
    let full = t0.elapsed();
    if !out.status.success() {
        anyhow::bail!(
            "the uninterrupted {} failed: {}",
            workload.name(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }

    let mut rng = Rng::new(ctx.plan.seed, &name);
    let mut problems: Vec<String> = Vec::new();
    let (mut killed, mut finished, mut visible_after_kill) = (0usize, 0usize, 0usize);
    let mut known_complete = 1u64;
    let mut started = 1u64;
    let mut last = 1u64;
    for i in 0..ctx.plan.kills {
        // Half the kills anywhere in the run, half in its second half,
        // where the blob and the rows are written.
        let u = rng.unit();
        let delay = if i % 2 == 0 {
            full.mul_f64(u)
        } else {
            full.mul_f64(0.5 + 0.55 * u)
        };
        let mut child = workload.command(ctx, &store).spawn()?;
        started += 1;
        std::thread::sleep(delay);
        let before_kill = child.try_wait()?;
        if before_kill.is_none() {
            kill_group(child.id());
        }
        child.wait()?;
        match before_kill {
            Some(s) if s.success() => {
                finished += 1;
                known_complete += 1;
            }
            Some(s) => {
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut e, &mut err);
                }
                problems.push(format!(
                    "kill {i}: the writer failed on its own ({s}): {}",
                    err.trim()
                ));
            }
            None => killed += 1,
        }

        // The store opens and holds whole puts only.
        let state = match ctx.inspect(&store) {
            Ok(s) => s,
            Err(e) => {
                problems.push(format!(
                    "kill {i} after {} ms: the store does not open: {e:#}",
                    ms(delay)
                ));
                break;
            }
        };
        let rows = state.rows(table);
        if rows % unit != 0 {
            problems.push(format!(
                "kill {i} after {} ms: {rows} rows in {table}, not a multiple of {unit}",
                ms(delay)
            ));
        }
        let puts = rows / unit;
        if puts < known_complete || puts > started || puts < last {
            problems.push(format!(
                "kill {i} after {} ms: {puts} puts visible, {known_complete} known complete, {started} started, {last} before",
                ms(delay)
            ));
        }
        if before_kill.is_none() && puts > last {
            visible_after_kill += 1;
        }
        last = puts;
        let fsck = ctx.fsck(&store)?;
        if !fsck.clean() {
            problems.push(format!(
                "kill {i} after {} ms: fsck failed (exit {:?}): {}",
                ms(delay),
                fsck.exit,
                fsck.problems.join("; ")
            ));
        }
        if problems.len() > 5 {
            break;
        }
    }

    // The store still takes writes, and counts them exactly.
    let out = workload.command(ctx, &store).output()?;
    if out.status.success() {
        let after = ctx.inspect(&store)?.rows(table);
        if after != (last + 1) * unit {
            problems.push(format!(
                "a put after the kills gave {after} rows in {table}, expected {}",
                (last + 1) * unit
            ));
        }
    } else {
        problems.push(format!(
            "a put after the kills failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let fsck = ctx.fsck(&store)?;
    if !fsck.clean() {
        problems.push(format!("final fsck failed: {}", fsck.problems.join("; ")));
    }

    let leftovers = store
        .local_dir()
        .map(|d| {
            format!(
                "; {} unfinished temporary files left (hidden, ignored by readers)",
                debris(d)
            )
        })
        .unwrap_or_default();
    let ok = problems.is_empty();
    Ok(Row {
        section: "Crash safety",
        check: format!(
            "SIGKILL during `dsi {}`{}",
            workload.name(),
            if workload == Workload::Ingest {
                format!(" ({} rows)", ctx.plan.csv_rows)
            } else {
                String::new()
            }
        ),
        driver: driver.name().into(),
        runs: format!("{} kills", ctx.plan.kills),
        ok,
        detail: if ok {
            format!(
                "{killed} killed mid-run ({visible_after_kill} of them after the put was visible), \
                 {finished} finished before the kill; uninterrupted run {} ms; {last} of {started} \
                 puts visible at the end, each whole; store opened and fsck clean ({} blobs) after \
                 every kill{leftovers}",
                ms(full),
                fsck.blobs
            )
        } else {
            problems.join("; ")
        },
    })
}
