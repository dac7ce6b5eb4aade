//! Section "Environment capture into SQLite": the hostname and kernel
//! environment of this machine captured and stored as one record.
//!
//! * One record, fresh process, fresh store: `dsi --store F collect` (the
//!   default plugins `hostname` and `system-kernel`, one row each, into a
//!   new SQLite file) next to the Python DSI's `capture` mode (a
//!   `Terminal` with `Hostname`, `SystemKernel` and a `Sqlite` back-end, one
//!   ingest; see [`super::pydsi`]), alternated.
//! * Many captures into one store: dsi has no loop command, so a capture is
//!   a fresh `dsi collect` process each time (start-up included), while the
//!   Python DSI captures in a loop inside one process (its ~2 s of imports
//!   paid once, outside the timings). The captures run in blocks, the two
//!   sides alternating block by block. Per-capture median and range, and
//!   store bytes per capture (file size / captures).

use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use anyhow::{Context, bail};

use super::fmt::{fmt_count, fmt_kib, fmt_mb, fmt_secs, table};
use super::measure::{Prepared, Stats, alternate_prepared, measure, measure_seq};
use super::pydsi::{PyDsi, Ready};
use super::stores::{S3, Store, cells, disk_bytes, dsi, remove};
use super::{Plan, bench_data};

/// A SQLite store and its companions (`-wal`, `-shm`, `-journal`).
fn remove_db(path: &Path) -> anyhow::Result<()> {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        remove(Path::new(&p))?;
    }
    Ok(())
}

/// Each table's rows and mean `kernel_info` length, from `sqlite-stats`.
fn stats(py: &Ready, db: &Path) -> anyhow::Result<Vec<(String, u64, Option<u64>)>> {
    let out = measure(&py.script_paths("sqlite-stats", &[db], &[]), false)?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() != 3 {
                bail!("sqlite-stats printed {l:?}");
            }
            Ok((f[0].to_owned(), f[1].parse()?, f[2].parse().ok()))
        })
        .collect()
}

fn describe(tables: &[(String, u64, Option<u64>)]) -> String {
    tables
        .iter()
        .map(|(name, rows, k)| {
            let k = k.map_or_else(String::new, |k| {
                format!(", mean `kernel_info` {} bytes", fmt_count(k))
            });
            format!("`{name}` {} rows{k}", fmt_count(*rows))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn rows_of(tables: &[(String, u64, Option<u64>)]) -> u64 {
    tables.iter().map(|(_, r, _)| r).sum()
}

pub(super) fn section(plan: Plan, py: &mut PyDsi) -> anyhow::Result<String> {
    let py = py.ready()?;
    let dir = bench_data().join("capture");
    fs::create_dir_all(&dir)?;
    let none = S3::default();

    // One record, fresh process, fresh store.
    let one_dsi = dir.join("dsi-one.db");
    let one_py = dir.join("py-one.db");
    let store = Store::new("sqlite", one_dsi.display().to_string());
    let mut peers: Vec<Prepared<'_>> = vec![
        Box::new(|| {
            remove_db(&one_dsi)?;
            Ok(vec![dsi(&store, &none, &["collect"])])
        }),
        Box::new(|| {
            remove_db(&one_py)?;
            Ok(vec![py.script_paths("capture", &[&one_py], &[])])
        }),
    ];
    let runs = if plan.quick { 3 } else { 20 };
    let timed = alternate_prepared(&mut peers, runs, &[], 0, false)?;
    let rss: Vec<Option<u64>> = peers
        .iter_mut()
        .map(|p| Ok(measure_seq(&p()?, true)?.rss_kib))
        .collect::<anyhow::Result<_>>()?;
    drop(peers);
    let one = [(&one_dsi, &timed[0], rss[0]), (&one_py, &timed[1], rss[1])];
    let base = super::measure::secs_stats(&timed[0]).median;
    let labels = [
        "`dsi --store F collect` (`hostname` + `system-kernel`)",
        "Python DSI: `Terminal` + `Hostname` + `SystemKernel` + `Sqlite` ingest",
    ];
    let mut rows = Vec::new();
    let mut contents = Vec::new();
    for (label, (db, samples, rss)) in labels.iter().zip(one) {
        let mut r = vec![(*label).to_owned()];
        let mut c = cells(samples, Some(base));
        c[4] = fmt_kib(rss);
        r.extend(c);
        r.push(fmt_mb(disk_bytes(db)));
        rows.push(r);
        contents.push(describe(&stats(py, db)?));
    }

    // Many captures into one store, in alternating blocks.
    let (captures, blocks) = if plan.quick { (50, 2) } else { (1000, 4) };
    let many_dsi = dir.join("dsi-many.db");
    let many_py = dir.join("py-many.db");
    remove_db(&many_dsi)?;
    remove_db(&many_py)?;
    let many_store = Store::new("sqlite", many_dsi.display().to_string());
    let collect = dsi(&many_store, &none, &["collect"]);
    let per_block = captures / blocks;
    let mut dsi_times: Vec<f64> = Vec::new();
    let mut py_times: Vec<f64> = Vec::new();
    let n = per_block.to_string();
    for block in 0..blocks {
        for side in [block % 2, 1 - block % 2] {
            if side == 0 {
                for _ in 0..per_block {
                    dsi_times.push(measure(&collect, false)?.secs);
                }
            } else {
                let out = measure(&py.script_paths("capture-loop", &[&many_py], &[&n]), false)?;
                let text = String::from_utf8_lossy(&out.stdout);
                let line = text.lines().last().unwrap_or_default();
                for t in line.split_whitespace() {
                    py_times.push(t.parse().with_context(|| format!("capture-loop: {t:?}"))?);
                }
            }
        }
        eprintln!("xtask: bench: capture block {}/{blocks}", block + 1);
    }
    if dsi_times.len() != captures || py_times.len() != captures {
        bail!(
            "{} dsi and {} Python captures, {captures} expected",
            dsi_times.len(),
            py_times.len()
        );
    }
    let many = [
        (
            "`dsi collect`, a fresh process per capture",
            &many_dsi,
            &dsi_times,
        ),
        (
            "Python DSI, a loop of captures in one process",
            &many_py,
            &py_times,
        ),
    ];
    let many_base = Stats::of(&dsi_times).median;
    let mut many_rows = Vec::new();
    let mut many_contents = Vec::new();
    for (label, db, times) in many {
        let s = Stats::of(times);
        let total: f64 = times.iter().sum();
        let bytes = disk_bytes(db);
        let tables = stats(py, db)?;
        let stored = rows_of(&tables);
        #[allow(clippy::cast_precision_loss)]
        let per_row = bytes as f64 / stored.max(1) as f64;
        #[allow(clippy::cast_precision_loss)]
        let per_capture = bytes as f64 / captures as f64;
        many_rows.push(vec![
            label.to_owned(),
            fmt_count(captures as u64),
            fmt_secs(s.median),
            super::fmt::fmt_range(s.min, s.max),
            format!("{:.2}", s.median / many_base),
            fmt_secs(total),
            fmt_mb(bytes),
            format!("{} B", fmt_count(per_capture.round() as u64)),
            format!("{} B", fmt_count(per_row.round() as u64)),
        ]);
        many_contents.push(describe(&tables));
    }

    let mut out = String::from("## Environment capture into SQLite\n\n");
    let _ = writeln!(
        out,
        "The environment of this machine — host name and POSIX identity, kernel \
         (release, boot command line, compile-time config, sysctls, modules, …) — \
         captured and stored into SQLite, one row per plugin. dsi: `dsi --driver sqlite \
         --store F collect` (release build; plugins `hostname` and `system-kernel`). \
         Python DSI: {}, driven by a script as its documentation shows — `Terminal()`, \
         `load_module('plugin', 'Hostname', 'reader')`, `load_module('plugin', \
         'SystemKernel', 'reader')` (1.2 runs readers as they are loaded), \
         `load_module('backend', 'Sqlite', 'back-write', filename=F)`, `transload()`, \
         `artifact_handler(interaction_type='ingest')` (1.2's names for 1.0's \
         `back-end` and `put`), `close()`. Its `SystemKernel` gives up on this VM (no \
         `/boot/config-$(uname -r)`, no loadable modules): the script replaces these \
         collectors with ones recording the section as unavailable, as dsi does \
         (replaced here: {}). Note that `SystemKernel` collects everything twice (in \
         its constructor and again in `add_rows`) and keeps all of `sysctl -a`, \
         volatile counters included; dsi collects once and drops volatile sysctls.\n",
        py.versions, py.patches
    );
    let _ = writeln!(
        out,
        "### One record, fresh process\n\nA new store each run (the file removed \
         before), the two alternated round by round after one untimed warm-up each. \
         Ratio = median / dsi's median; peak RSS from one extra run each under \
         `/usr/bin/time` (for the Python DSI, the largest of its processes: the \
         interpreter, not its `sysctl` children).\n"
    );
    out.push_str(&table(
        &[
            "Variant",
            "n",
            "Median",
            "Min – max",
            "Ratio",
            "Peak RSS",
            "Store after one capture",
        ],
        1,
        &rows,
    ));
    let _ = writeln!(
        out,
        "\nWhat one capture stored — dsi: {}. Python DSI: {}.\n",
        contents[0], contents[1]
    );
    let _ = writeln!(
        out,
        "### {} captures into one store\n\n{} blocks of {} captures, dsi and the Python DSI \
         alternating block by block, each side into its own new store. dsi: a fresh \
         `dsi collect` process per capture, timed as a process (start-up, opening the \
         store, collecting, one insert per table, exit). Python DSI: one process running \
         `capture-loop` — a new `Terminal`, the two readers, the `Sqlite` back-end, \
         ingest and close per capture, timed inside the loop with `perf_counter` \
         (imports excluded: a fairer per-capture figure for it than a process each). \
         Total = sum of the per-capture times. Store per capture = file size / \
         captures; per row = file size / rows in all tables.\n",
        fmt_count(captures as u64),
        blocks,
        fmt_count(per_block as u64)
    );
    out.push_str(&table(
        &[
            "Variant",
            "Captures",
            "Median per capture",
            "Min – max",
            "Ratio",
            "Total",
            "Store size",
            "Store per capture",
            "Store per row",
        ],
        1,
        &many_rows,
    ));
    let _ = writeln!(
        out,
        "\nStored — dsi: {}. Python DSI: {}.",
        many_contents[0], many_contents[1]
    );
    Ok(out)
}
