//! Section "Campaigns: replays as one job array":
//!
//! * dsi's own time per replay inside a campaign (outside the container):
//!   tasks of a campaign submitted held, each run by hand as its array task
//!   runs it (`dsi campaign task ID I`), wall time minus the step's
//!   duration stored in its row;
//! * the end-to-end time of 100 one-second replays as one Slurm job array
//!   on the test cluster (`dsi campaign start --slurm`, until the array
//!   has left the queue, every replay stored) against the same 100 `srun`
//!   commands (the replay's own ch-run argv) started by a shell loop.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use super::fmt::{fmt_secs, table};
use super::measure::{Stats, measure};
use super::{Plan, Services, bench_data, dsi_binary, fresh_dir};
use crate::json::{self, Json};

/// What every process of the section needs.
struct Env {
    storage: String,
    user: String,
    conf: String,
}

impl Env {
    fn dsi(&self, cwd: &Path, args: &[&str]) -> Command {
        let mut c = Command::new(dsi_binary());
        c.args(args)
            .current_dir(cwd)
            .env("USER", &self.user)
            .env("CH_IMAGE_STORAGE", &self.storage)
            .env("SLURM_CONF", &self.conf)
            .env_remove("SLURM_JOB_ID")
            .env("GIT_AUTHOR_NAME", "bench")
            .env("GIT_AUTHOR_EMAIL", "bench@dsi.invalid")
            .env("GIT_COMMITTER_NAME", "bench")
            .env("GIT_COMMITTER_EMAIL", "bench@dsi.invalid");
        c
    }

    fn json(&self, cwd: &Path, args: &[&str]) -> anyhow::Result<Json> {
        let out = measure(&self.dsi(cwd, args), false)?;
        json::parse(String::from_utf8_lossy(&out.stdout).trim())
    }
}

/// A word for `sh`.
fn sh_word(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-=:,+@".contains(c))
    {
        return s.to_owned();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn num(j: &Json, path: &[&str]) -> Option<f64> {
    let mut v = j;
    for k in path {
        v = v.get(k)?;
    }
    v.as_f64()
}

pub(super) fn section(plan: Plan, services: &mut Services) -> anyhow::Result<String> {
    let env = Env {
        storage: services.var("DSI_TEST_BUILD_STORAGE", false)?,
        user: services.var("USER", false)?,
        conf: services.var("SLURM_CONF", false)?,
    };
    let work = bench_data().join("campaign");
    fresh_dir(&work)?;
    let proj = work.join("proj");
    fs::create_dir_all(&proj)?;
    measure(
        Command::new("git").args(["init", "-q"]).current_dir(&proj),
        false,
    )?;
    let logs = work.join("logs");
    fs::create_dir_all(&logs)?;
    let pin = measure(&env.dsi(&work, &["runfile", "pin", "dsi-test"]), false)?;
    let from = String::from_utf8_lossy(&pin.stdout)
        .lines()
        .find(|l| l.starts_with("FROM "))
        .context("`dsi runfile pin dsi-test` printed no FROM line")?
        .to_owned();
    let n: usize = if plan.quick { 20 } else { 100 };
    let local_n: usize = if plan.quick { 5 } else { 20 };
    for k in 0..n {
        fs::write(
            work.join("Runfile"),
            format!("{from}\nCMD [\"sh\", \"-c\", \"sleep 1; echo task {k}\"]\n"),
        )?;
        measure(
            &env.dsi(&work, &["-q", "record", "Runfile", "--repo", "proj"]),
            false,
        )?;
    }
    let check = env.json(&work, &["--json", "runfile", "check", "Runfile"])?;
    let argv: Vec<String> = check
        .get("steps")
        .and_then(Json::as_array)
        .and_then(|a| a.first())
        .and_then(|s| s.get("argv"))
        .and_then(Json::as_array)
        .context("`dsi runfile check --json` printed no steps[0].argv")?
        .iter()
        .filter_map(Json::as_str)
        .map(str::to_owned)
        .collect();

    // dsi's own time per replay: a campaign of `local_n` records planned
    // and submitted held (never run by Slurm, then cancelled), its tasks
    // run one after another by hand exactly as an array task runs them.
    let listed = env.json(
        &work,
        &[
            "--json",
            "list",
            "--function",
            "consumer",
            "-n",
            &local_n.to_string(),
        ],
    )?;
    let refs: Vec<String> = listed
        .get("runs")
        .and_then(Json::as_array)
        .context("dsi list --json: runs")?
        .iter()
        .filter_map(|r| r.get("run_id").and_then(Json::as_str).map(str::to_owned))
        .collect();
    let mut args = vec!["--json", "campaign", "start", "--slurm"];
    args.extend(refs.iter().map(String::as_str));
    args.extend(["--", "--hold", "--output=/dev/null"]);
    let held = env.json(&work, &args)?;
    let held_id = held
        .get("campaign")
        .and_then(Json::as_str)
        .context("campaign start --json: campaign")?
        .to_owned();
    let held_job = held
        .get("arrays")
        .and_then(Json::as_array)
        .and_then(|a| a.first())
        .and_then(|a| a.get("job_id"))
        .and_then(Json::as_str)
        .context("campaign start --json: arrays")?
        .to_owned();
    measure(
        Command::new("scancel")
            .arg(&held_job)
            .env("SLURM_CONF", &env.conf),
        false,
    )?;
    let mut walls = Vec::new();
    for i in 0..local_n {
        walls.push(
            measure(
                &env.dsi(&work, &["campaign", "task", &held_id, &i.to_string()]),
                false,
            )?
            .secs,
        );
    }
    let rows = env.json(
        &work,
        &[
            "--json",
            "query",
            &format!(
                "SELECT campaign_task AS task, duration_ms AS ms FROM runs WHERE campaign_id = '{held_id}'"
            ),
        ],
    )?;
    let st = env.json(&work, &["--json", "campaign", "status", &held_id])?;
    let keys: Vec<String> = st
        .get("task_states")
        .and_then(Json::as_array)
        .context("campaign status --json: task_states")?
        .iter()
        .filter_map(|t| t.get("key").and_then(Json::as_str).map(str::to_owned))
        .collect();
    let step_ms = |key: &str| -> Option<f64> {
        rows.as_array()?
            .iter()
            .find(|r| r.get("task").and_then(Json::as_str) == Some(key))
            .and_then(|r| num(r, &["ms"]))
    };
    let mut own = Vec::new();
    let mut steps = Vec::new();
    for (wall, key) in walls.iter().zip(&keys) {
        let ms = step_ms(key).with_context(|| format!("no replay stored for task {key}"))?;
        own.push(wall - ms / 1000.0);
        steps.push(ms / 1000.0);
    }
    let own_stats = Stats::of(&own);
    let step_mean = steps.iter().sum::<f64>() / steps.len() as f64;

    // The job array, until it has left the queue.
    let log_arg = format!("--output={}/%A_%a.out", logs.display());
    let t0 = Instant::now();
    let out = measure(
        &env.dsi(
            &work,
            &["--json", "campaign", "start", "--slurm", "--", &log_arg],
        ),
        false,
    )?;
    let id = json::parse(String::from_utf8_lossy(&out.stdout).trim())?
        .get("campaign")
        .and_then(Json::as_str)
        .context("campaign start --json: campaign")?
        .to_owned();
    let name = format!("dsi-campaign-{id}");
    loop {
        let q = Command::new("squeue")
            .args(["-h", "-n", &name, "-o", "%i"])
            .env("SLURM_CONF", &env.conf)
            .output()?;
        if q.status.success() && q.stdout.iter().all(u8::is_ascii_whitespace) {
            break;
        }
        if t0.elapsed() > Duration::from_secs(1800) {
            bail!("campaign {id} still queued after 30 minutes");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let array_secs = t0.elapsed().as_secs_f64();
    let status = env.json(&work, &["--json", "campaign", "status", &id])?;
    let done: f64 = status
        .get("counts")
        .and_then(|c| c.get("done"))
        .and_then(Json::as_object)
        .map(|m| m.iter().filter_map(|(_, v)| v.as_f64()).sum())
        .unwrap_or(0.0);
    if done as usize != n {
        bail!("campaign {id}: {done} of {n} replays stored");
    }

    // The same argv, 100 srun commands from a shell loop.
    let words: Vec<String> = argv.iter().map(|a| sh_word(a)).collect();
    let script = format!(
        "for i in $(seq {n}); do srun -n 1 -o /dev/null {} & done; wait",
        words.join(" ")
    );
    let mut sh = Command::new("sh");
    sh.args(["-c", &script])
        .current_dir(&work)
        .env("USER", &env.user)
        .env("CH_IMAGE_STORAGE", &env.storage)
        .env("SLURM_CONF", &env.conf)
        .env_remove("SLURM_JOB_ID");
    let loop_secs = measure(&sh, false)?.secs;
    let cpus = 4.0;
    let floor = (n as f64 / cpus).ceil();

    let mut out = String::from("## Campaigns: replays as one job array\n\n");
    let _ = writeln!(
        out,
        "{n} records of one-second replays (`CMD [\"sh\", \"-c\", \"sleep 1; echo task K\"]` on \
         the test image, one commit each), release binary. **dsi's own time per replay** \
         inside a campaign: {local_n} tasks of a campaign submitted held (then cancelled), \
         each run by hand as its array task would run it (`dsi campaign task ID I`), its \
         wall time minus the step's duration stored in its row — dsi starting, reading the \
         plan, checking the task was not done, storing the start, finding the record, \
         unpacking the commit, verifying the image, collecting the system, verifying, \
         storing the row: **{}** median ({} – {}; step mean {}). **End to end** on the test \
         cluster (two nodes of 2 CPUs, one CPU per task: a floor of {floor:.0} s): `dsi \
         campaign start --slurm` until the array has left the queue, every replay stored, \
         against the same {n} `srun -n 1 ch-run …` commands (the replay's own argv, no dsi) \
         started by a shell loop and waited for.\n",
        fmt_secs(own_stats.median),
        fmt_secs(own_stats.min),
        fmt_secs(own_stats.max),
        fmt_secs(step_mean),
    );
    let table_rows = vec![
        vec![
            format!("`dsi campaign start --slurm` ({n} array tasks, one replay each)"),
            fmt_secs(array_secs),
            format!("{:.2} s", array_secs / n as f64),
            format!("{:.2}×", array_secs / floor),
        ],
        vec![
            format!("shell loop of {n} `srun -n 1 ch-run …` (no dsi)"),
            fmt_secs(loop_secs),
            format!("{:.2} s", loop_secs / n as f64),
            format!("{:.2}×", loop_secs / floor),
        ],
    ];
    out.push_str(&table(
        &["Variant", "End to end", "Per replay", "× floor"],
        1,
        &table_rows,
    ));
    let _ = writeln!(
        out,
        "\nThe array against the loop: {:+.1} s ({:+.0}%); each array task also verifies and \
         stores its replay.",
        array_secs - loop_secs,
        (array_secs / loop_secs - 1.0) * 100.0
    );
    Ok(out)
}
