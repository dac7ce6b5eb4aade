//! Section "Start-up": `dsi --help` (release binary) next to the Python
//! DSI's `dsi --help` (its console script `dsi = dsi.cli:main`, which imports
//! the DSI core, pandas and its readers before argparse prints the help),
//! with the bare interpreter (`python -c pass`, same venv) as the Python
//! floor. Fresh processes, alternated; peak RSS from one extra run each, so
//! that `/usr/bin/time` does not add to the timed runs.
//!
//! dsi-workflow 1.2.8's CLI creates an empty `.temp_dsi_scout.db` in the
//! working directory when it starts and leaves it there; the next start in
//! that directory then fails ("not a valid DSI backend"). Its runs therefore
//! start in a scratch directory from which that file is removed, untimed,
//! before every run.

use std::fmt::Write as _;
use std::process::Command;

use super::fmt::{fmt_secs, table};
use super::measure::{Prepared, alternate_prepared, measure_seq, secs_stats};
use super::pydsi::PyDsi;
use super::stores::remove;
use super::{Plan, bench_data, dsi_binary};

pub(super) fn section(plan: Plan, py: &mut PyDsi) -> anyhow::Result<String> {
    let py = py.ready()?;
    let mut ours = Command::new(dsi_binary());
    ours.arg("--help").env("NO_COLOR", "1");
    let scratch = bench_data().join("pydsi").join("startup");
    std::fs::create_dir_all(&scratch)?;
    let leftover = scratch.join(".temp_dsi_scout.db");
    let mut theirs = Command::new(py.dsi());
    theirs.arg("--help").current_dir(&scratch);
    let mut floor = py.python();
    floor.args(["-c", "pass"]);
    let copy = super::measure::copy_command;
    let mut peers: Vec<Prepared<'_>> = vec![
        Box::new(|| Ok(vec![copy(&ours)])),
        Box::new(|| {
            remove(&leftover)?;
            Ok(vec![copy(&theirs)])
        }),
        Box::new(|| Ok(vec![copy(&floor)])),
    ];
    let runs = if plan.quick { 5 } else { 20 };
    let timed = alternate_prepared(&mut peers, runs, &[], 0, false)?;
    let mut rss = Vec::new();
    for p in &mut peers {
        rss.push(measure_seq(&p()?, true)?.rss_kib);
    }
    drop(peers);
    let base = secs_stats(&timed[0]).median;
    let labels = [
        "`dsi --help` (this project, release build)",
        "Python DSI: `dsi --help` (console script of dsi-workflow)",
        "floor: `python -c pass` (the venv's interpreter, no import)",
    ];
    let rows: Vec<Vec<String>> = labels
        .iter()
        .zip(&timed)
        .zip(&rss)
        .map(|((label, samples), rss)| {
            let mut r = vec![(*label).to_owned()];
            let mut c = super::stores::cells(samples, Some(base));
            c[4] = super::fmt::fmt_kib(*rss);
            r.extend(c);
            r
        })
        .collect();
    let mut out = String::from("## Start-up\n\n");
    let _ = writeln!(
        out,
        "Wall time of a fresh process printing its help, the variants alternated round \
         by round after one untimed warm-up each (page cache warm). The Python DSI is \
         {} in `target/bench-pydsi`; its `dsi` console script (`dsi.cli:main`) imports \
         `dsi.core`, pandas and the readers at module level and opens a scratch SQLite \
         file (`.temp_dsi_scout.db`, removed untimed before each run: the next start \
         fails when it is there), then argparse prints the help and exits. Ratio = median / median of `dsi --help`. Peak RSS from one \
         extra run each under `/usr/bin/time`.\n",
        py.versions
    );
    out.push_str(&table(
        &["Variant", "n", "Median", "Min – max", "Ratio", "Peak RSS"],
        1,
        &rows,
    ));
    let theirs = secs_stats(&timed[1]).median;
    let floor = secs_stats(&timed[2]).median;
    let _ = writeln!(
        out,
        "\nThe Python DSI's start-up is {:.0}× dsi's; {} of it is imports above the bare \
         interpreter ({}).",
        theirs / base,
        fmt_secs(theirs - floor),
        fmt_secs(floor)
    );
    Ok(out)
}
