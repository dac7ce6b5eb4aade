//! Section "Runtime overhead": a one-step Runfile (`CMD ["/bin/true"]`) run
//! by the `run_once` example (`runtime::execute`, with and without
//! `image::resolve`) alternated with the identical raw `ch-run` argv.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs;
use std::process::Command;

use anyhow::{Context, bail};

use super::fmt::{fmt_kib, fmt_range, fmt_secs, table};
use super::measure::{alternate, measure, secs_stats};
use super::{Plan, Services, bench_data, example};
use crate::services;
use crate::util::run as sh;

pub(super) fn section(plan: Plan, services: &mut Services) -> anyhow::Result<String> {
    let work = bench_data().join("runtime");
    let storage = bench_data().join("ch-storage");
    fs::create_dir_all(&work)?;
    let runfile = work.join("Runfile");
    let run_once = example("run_once");

    // The image must be in the bench storage: try, else pull it (which needs
    // the registry) and try again.
    let attempt = |services: &mut Services, pull: bool| -> anyhow::Result<Command> {
        let image = services.var("DSI_TEST_IMAGE", pull)?;
        let user = services.var("USER", pull)?;
        fs::write(&runfile, format!("FROM {image}\nCMD [\"/bin/true\"]\n"))?;
        if pull {
            let ca = services.var("REQUESTS_CA_BUNDLE", true)?;
            sh(services::ch_image()
                .arg(format!("--storage={}", storage.display()))
                .args(["pull", &image])
                .env("REQUESTS_CA_BUNDLE", ca)
                .env("USER", &user))?;
        }
        let mut c = Command::new(&run_once);
        c.arg("--storage")
            .arg(&storage)
            .arg(&runfile)
            .env("USER", &user);
        Ok(c)
    };
    let with = |base: &Command, flag: &str| {
        let mut c = Command::new(base.get_program());
        c.arg(flag).args(base.get_args());
        for (k, v) in base.get_envs() {
            if let Some(v) = v {
                c.env(k, v);
            }
        }
        c
    };
    let mut execute = attempt(services, false)?;
    if measure(&with(&execute, "--resolve"), false).is_err() {
        execute = attempt(services, true)?;
    }
    let resolve = with(&execute, "--resolve");
    measure(&resolve, false).context("run_once --resolve after pulling the image")?;
    let argv_out = measure(&with(&execute, "--print-argv"), false)?.stdout;
    let argv: Vec<OsString> = argv_out
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| OsString::from(String::from_utf8_lossy(a).into_owned()))
        .collect();
    let Some((program, args)) = argv.split_first() else {
        bail!("run_once --print-argv printed nothing");
    };
    let mut raw = Command::new(program);
    raw.args(args)
        .current_dir(&work)
        .env("USER", services.var("USER", false)?);
    let shown_argv = argv
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ");

    let floor = with(&execute, "--print-argv");
    let peers = [raw, execute, resolve, floor];
    let timed = alternate(&peers, plan.runtime_runs, false)?;
    // Peak RSS from separate runs, so /usr/bin/time does not skew the timings.
    let mut rss = Vec::new();
    for p in &peers {
        rss.push(measure(p, true)?.rss_kib);
    }
    let labels = [
        "raw `ch-run` (`std::process::Command`)",
        "`run_once`: `parse` + `runtime::execute`",
        "`run_once`: `parse` + `image::resolve` (offline) + `execute`",
        "`run_once --print-argv`: process start + `parse`, no container (floor)",
    ];
    let base = secs_stats(&timed[0]).median;
    let rows: Vec<Vec<String>> = labels
        .iter()
        .zip(&timed)
        .zip(&rss)
        .map(|((label, samples), rss)| {
            let s = secs_stats(samples);
            vec![
                (*label).to_owned(),
                s.n.to_string(),
                fmt_secs(s.median),
                fmt_range(s.min, s.max),
                if std::ptr::eq(samples, &timed[0]) {
                    "—".to_owned()
                } else if s.median >= base {
                    format!("+{}", fmt_secs(s.median - base))
                } else {
                    format!("−{}", fmt_secs(base - s.median))
                },
                format!("{:.2}", s.median / base),
                fmt_kib(*rss),
            ]
        })
        .collect();
    let mut out = String::from("## Runtime overhead\n\n");
    let _ = writeln!(
        out,
        "A one-step Runfile, `FROM $DSI_TEST_IMAGE` + `CMD [\"/bin/true\"]`, the image \
         already in the storage. Wall time of the whole process as spawned by the xtask \
         (stdout to /dev/null, stderr piped), the variants alternated, one untimed \
         warm-up each. `run_once` is the `dsi-plugins-charliecloud` example that parses \
         the Runfile and calls `runtime::execute` (pipes, hashing threads, signal \
         forwarding); the raw row spawns the identical argv it prints; the floor row is \
         `run_once` starting and parsing without running a container. Ratio = median / \
         median of raw ch-run. Peak RSS from one extra run each under `/usr/bin/time` \
         (for `run_once` it includes its ch-run child).\n"
    );
    out.push_str(&table(
        &[
            "Variant",
            "n",
            "Median",
            "Min – max",
            "Δ median",
            "Ratio",
            "Peak RSS",
        ],
        1,
        &rows,
    ));
    let _ = writeln!(out, "\nch-run argv: `{shown_argv}`");
    Ok(out)
}
