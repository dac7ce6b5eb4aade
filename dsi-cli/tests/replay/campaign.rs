//! `dsi campaign` on the test Slurm cluster and locally: 20 records (two
//! images, several commits, an EXPECT that fails after the "upgrade", a
//! METRIC that moves outside its tolerance, one within it, an MPI run
//! through LAUNCH) replayed as a job array, with a task cancelled and
//! resumed; then the same campaign with `-j 2` in one allocation.

use std::path::Path;
use std::time::{Duration, Instant};

use super::*;

/// The "system change" between the baseline and the campaign: a host
/// variable the special Runfiles pass in (PASSENV SITE_*).
const SITE: &str = "SITE_LEVEL";

/// `dsi` with the test cluster's configuration and the site level.
fn slurm_dsi(dir: &Path, level: &str) -> assert_cmd::Command {
    let mut c = dsi(dir);
    c.env("SLURM_CONF", required_env("SLURM_CONF"))
        .env(SITE, level);
    c
}

/// Records `body` (after its FROM line) as a new commit of `proj`; the run id.
fn record(dir: &Path, from: &str, body: &str) -> String {
    std::fs::write(dir.join("Runfile"), format!("{from}\n{body}")).unwrap();
    let v = json(&run(
        dir,
        &["--json", "record", "Runfile", "--repo", "proj"],
    ));
    v["record"]["run_id"].as_str().expect("a run id").to_owned()
}

/// The newest campaign's id, from `dsi campaign start --json`'s output.
fn started(out: &std::process::Output) -> String {
    assert!(out.status.success(), "{}", stderr(out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    v["campaign"].as_str().expect("a campaign id").to_owned()
}

fn status(dir: &Path, id: &str) -> serde_json::Value {
    let out = slurm_dsi(dir, "2")
        .args(["--json", "campaign", "status", id])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Polls the status until no task is pending or running; every status seen.
fn wait(dir: &Path, id: &str) -> Vec<serde_json::Value> {
    let started = Instant::now();
    let mut seen = Vec::new();
    loop {
        let s = status(dir, id);
        let c = &s["counts"];
        let live = c["pending"].as_u64().unwrap() + c["running"].as_u64().unwrap();
        seen.push(s);
        if live == 0 {
            return seen;
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "campaign {id} did not finish: {}",
            seen.last().unwrap()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn done(s: &serde_json::Value) -> u64 {
    s["counts"]["done"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum()
}

fn report(dir: &Path, id: &str) -> serde_json::Value {
    let out = dsi(dir)
        .args(["campaign", "report", id, "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn replay_rows(dir: &Path, id: &str) -> u64 {
    let v = json(&run(
        dir,
        &[
            "--json",
            "query",
            &format!("SELECT count(*) AS n FROM runs WHERE campaign_id = '{id}'"),
        ],
    ));
    v[0]["n"].as_u64().unwrap_or_else(|| panic!("a count: {v}"))
}

/// Each record's outcome and first differing layer, by record.
fn outcomes(r: &serde_json::Value) -> Vec<(String, String, String)> {
    r["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            (
                row["record"].as_str().unwrap().to_owned(),
                row["outcome"].as_str().unwrap().to_owned(),
                row["first_layer"].as_str().unwrap_or("-").to_owned(),
            )
        })
        .collect()
}

#[test]
fn a_campaign_of_twenty_records_as_a_job_array_resumed_and_locally() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    project(d);
    let (test_image, mpi) = (local_from(), mpi_from());
    let logs = d.join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let mut records = Vec::new();
    for k in 0..10 {
        records.push(record(
            d,
            &test_image,
            &format!("CMD [\"sh\", \"-c\", \"echo plain {k}\"]\n"),
        ));
    }
    for k in 0..6 {
        records.push(record(
            d,
            &mpi,
            &format!("CMD [\"sh\", \"-c\", \"echo debian {k}\"]\n"),
        ));
    }
    let expect = record(
        d,
        &test_image,
        "PASSENV SITE_*\nEXPECT --regex=\"^level 1$\"\nCMD [\"sh\", \"-c\", \"echo level $SITE_LEVEL\"]\n",
    );
    // 1.0 at level 1, 1.5 at level 2: outside a 1% tolerance.
    let moved = record(
        d,
        &test_image,
        "PASSENV SITE_*\nMETRIC time --regex=\"^time (\\\\S+)$\" --rtol=0.01\n\
         CMD [\"sh\", \"-c\", \"awk -v l=$SITE_LEVEL 'BEGIN { printf \\\"time %.3f\\\\n\\\", 0.5 + l / 2 }'\"]\n",
    );
    // 1.000 at level 1, 1.001 at level 2: inside it.
    let within = record(
        d,
        &test_image,
        "PASSENV SITE_*\nMETRIC time --regex=\"^time (\\\\S+)$\" --rtol=0.01\n\
         CMD [\"sh\", \"-c\", \"awk -v l=$SITE_LEVEL 'BEGIN { printf \\\"time %.3f\\\\n\\\", 0.999 + l / 1000 }'\"]\n",
    );
    let mpi_run = record(
        d,
        &mpi,
        "LAUNCH --join [\"srun\", \"-n\", \"2\", \"--mpi=pmix\"]\nPASSENV SLURM_* PMIX_*\n\
         METRIC sum --regex=\"allreduce (\\\\d+)\" --match=first\nEXPECT --regex=\"^rank 1/2 on \"\n\
         CMD [\"/opt/hello/mpi_hello\"]\n",
    );
    records.extend([
        expect.clone(),
        moved.clone(),
        within.clone(),
        mpi_run.clone(),
    ]);
    assert_eq!(records.len(), 20);
    let sbatch = |extra: &[&str]| -> Vec<String> {
        let mut a: Vec<String> = extra.iter().map(|s| (*s).to_owned()).collect();
        // Every task on both CPUs of node n1 (-w alone may add a node when
        // n1 is busy), so that placement is not a difference.
        a.extend([
            "--".to_owned(),
            "-N".to_owned(),
            "1".to_owned(),
            "-n".to_owned(),
            "2".to_owned(),
            "-w".to_owned(),
            "n1".to_owned(),
            format!("--output={}/%A_%a.out", logs.display()),
        ]);
        a
    };

    // The baseline, before the "upgrade": the first replay of each commit
    // (each unverifiable, and the reference of the later ones).
    let mut args = vec!["--json", "campaign", "start", "--slurm"];
    let tail = sbatch(&[]);
    args.extend(tail.iter().map(String::as_str));
    let base = started(&slurm_dsi(d, "1").args(&args).output().unwrap());
    let seen = wait(d, &base);
    let last = seen.last().unwrap();
    assert_eq!(
        last["counts"]["done"]["unverifiable"], 20,
        "every first replay is unverifiable (the EXPECT holds at level 1): {last}"
    );

    // The campaign after it, two array tasks at a time; one task is
    // cancelled while it waits, then resumed.
    let mut args = vec!["--json", "campaign", "start", "--slurm", "--throttle", "2"];
    let tail = sbatch(&[]);
    args.extend(tail.iter().map(String::as_str));
    let out = slurm_dsi(d, "2").args(&args).output().unwrap();
    let id = started(&out);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let array = v["arrays"][0]["job_id"].as_str().unwrap().to_owned();
    let cancelled = std::process::Command::new("scancel")
        .arg(format!("{array}_19"))
        .env("SLURM_CONF", required_env("SLURM_CONF"))
        .status()
        .unwrap();
    assert!(cancelled.success());
    let seen = wait(d, &id);
    assert!(
        seen.iter()
            .any(|s| s["counts"]["pending"].as_u64() > Some(0)),
        "pending seen"
    );
    assert!(
        seen.iter()
            .any(|s| s["counts"]["running"].as_u64() > Some(0)),
        "running seen"
    );
    let dones: Vec<u64> = seen.iter().map(done).collect();
    assert!(
        dones.windows(2).all(|w| w[0] <= w[1]) && dones.first() < dones.last(),
        "done moves up: {dones:?}"
    );
    let last = seen.last().unwrap();
    assert_eq!(done(last), 19, "{last}");
    assert_eq!(last["counts"]["failed_to_start"], 1, "{last}");
    let cancelled_task = last["task_states"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["state"] == "failed-to-start")
        .unwrap();
    assert_eq!(cancelled_task["index"], 19);

    let out = slurm_dsi(d, "2")
        .args(["--json", "campaign", "start", "--resume", &id[..10]])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["submitted"], serde_json::json!([19]), "{v}");
    let last = wait(d, &id).pop().unwrap();
    assert_eq!(done(&last), 20, "{last}");
    assert_eq!(last["duplicates"], 0);
    // A requeued task stores nothing a second time.
    let out = slurm_dsi(d, "2")
        .args(["campaign", "task", &id, "3"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("already replayed as run"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(replay_rows(d, &id), 20);

    // The report: exact counts and first differing layers.
    let r = report(d, &id);
    let s = &r["summary"];
    assert_eq!(s["records"], 20, "{r}");
    assert_eq!(s["reproduced"], 17, "{r}");
    assert_eq!(s["reproduced_within_tolerance"], 1, "{r}");
    assert_eq!(s["not_reproduced"], 1, "{r}");
    assert_eq!(s["failed"], 1, "{r}");
    assert_eq!(s["unverifiable"], 0, "{r}");
    assert_eq!(r["duplicates"], 0);
    let rows = outcomes(&r);
    let shown = serde_json::to_string_pretty(&r["rows"]).unwrap();
    let row = |rec: &str| rows.iter().find(|(r, _, _)| r == rec).unwrap().clone();
    assert_eq!(row(&expect).1, "failed", "{shown}");
    // The site level's value is not recorded (only SLURM_* and PMIX_*
    // values are): what dsi sees differ is the output.
    assert_eq!(row(&expect).2, "outputs", "{shown}");
    assert_eq!(row(&moved).1, "not-reproduced");
    assert_eq!(row(&moved).2, "outputs", "{shown}");
    assert_eq!(row(&within).1, "reproduced-within-tolerance");
    assert_eq!(row(&within).2, "outputs");
    assert_eq!(row(&mpi_run).1, "reproduced");
    for (rec, outcome, layer) in &rows {
        if outcome == "reproduced" {
            assert_eq!(
                layer, "none",
                "{rec}: nothing differs on the same node: {shown}"
            );
        }
    }
    let moved_row = r["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["record"] == moved.as_str())
        .unwrap();
    let rel = moved_row["metrics"][0]["relative"].as_f64().unwrap();
    assert!(
        (rel - 0.5).abs() < 1e-9,
        "|1.5 − 1.0| / 1.0 (the reference): {rel}"
    );
    assert!(
        moved_row["first_summary"]
            .as_str()
            .unwrap()
            .contains("METRIC time"),
        "{moved_row}"
    );
    let groups = r["by_layer"].as_array().unwrap();
    assert_eq!(groups.len(), 1, "{r}");
    assert_eq!(groups[0]["layer"], "outputs");
    assert_eq!(groups[0]["records"], 2);
    // The other formats say the same.
    for (format, needle) in [
        (
            "text",
            "20 records: 17 reproduced, 1 reproduced within tolerance, 1 not reproduced, 1 failed",
        ),
        ("markdown", "| record | commit | outcome |"),
        ("html", "<td>not reproduced</td>"),
    ] {
        let out = dsi(d)
            .args(["campaign", "report", &id, "--format", format])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(needle), "{format}: {text}");
        assert!(
            text.contains("after a change in the outputs layer"),
            "{format}: {text}"
        );
    }

    // The same campaign locally, two at a time, inside one allocation
    // (the MPI record's srun steps need one).
    let mut c = std::process::Command::new("salloc");
    c.args(["-N", "1", "-n", "2", "-w", "n1"])
        .arg(assert_cmd::cargo::cargo_bin("dsi"))
        .args(["--json", "campaign", "start", "-j", "2"])
        .current_dir(d);
    hermetic(&mut c, d);
    c.env("SLURM_CONF", required_env("SLURM_CONF"))
        .env(SITE, "2");
    let out = c.output().unwrap();
    let local = started(&out);
    let local_report = report(d, &local);
    assert_eq!(local_report["summary"], r["summary"], "{local_report}");
    assert_eq!(local_report["by_layer"], r["by_layer"]);
    assert_eq!(outcomes(&local_report), outcomes(&r));
    assert_eq!(replay_rows(d, &local), 20);
}

/// The first line of stderr.
fn first_line(out: &std::process::Output) -> String {
    stderr(out).lines().next().unwrap_or_default().to_owned()
}

/// Bad selections, unknown campaigns and tasks, a missing sbatch, a task
/// refused before it runs, and a corrupt `campaigns` row: one line each,
/// and nothing half-stored.
#[test]
fn bad_campaign_input_is_named_and_a_refused_task_is_failed_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_runfile(d, "CMD [\"true\"]\n");
    let v = json(&run(d, &["record", "Runfile", "--json"]));
    let id = v["record"]["run_id"].as_str().unwrap().to_owned();
    for (args, expected) in [
        (
            vec!["campaign", "start", "--where", "nonsense"],
            "error: --where 'nonsense': expected COLUMN OP VALUE",
        ),
        (
            vec!["campaign", "start", "--where", "exit_code=abc"],
            "error: --where 'exit_code=abc': 'abc' is not an integer",
        ),
        (
            vec!["campaign", "start", "--where", "kernel_info=x"],
            "error: --where 'kernel_info=x': column 'kernel_info' holds JSON or a blob",
        ),
        (
            vec!["campaign", "start", "--where", "colour=red"],
            "error: --where 'colour=red': no column 'colour' (columns: run_id, function,",
        ),
        (
            vec!["campaign", "start", "--image", "nothing-like-this"],
            "error: no records match the selection: nothing to replay",
        ),
        (
            vec!["campaign", "start", &id, "--host", "h"],
            "error: campaign: select records by filters or by runs and commits, not both",
        ),
        (
            vec!["campaign", "status", "01NOSUCH"],
            "error: no campaign '01NOSUCH' in the store",
        ),
    ] {
        let out = run(d, &args);
        assert!(!out.status.success(), "{args:?}");
        let line = first_line(&out);
        assert!(line.starts_with(expected), "{args:?}: {line}");
    }
    let (rows, _) = store_counts(d);
    assert_eq!(rows, 1, "a refused start stores nothing");
    // `dsi list --where` takes the same conditions.
    let v = json(&run(d, &["--json", "list", "--where", "function=consumer"]));
    assert_eq!(v["total"], 1, "{v}");
    let v = json(&run(d, &["--json", "list", "--where", "exit_code!=0"]));
    assert_eq!(
        v["total"], 0,
        "a record has no exit code (null never matches)"
    );

    // Without sbatch on PATH a Slurm campaign is refused after its plan is
    // stored; nothing is submitted.
    let out = dsi(d)
        .env("PATH", "/nonexistent")
        .args(["campaign", "start", "--slurm"])
        .output()
        .unwrap();
    assert!(
        first_line(&out).starts_with("error: sbatch not found on PATH"),
        "{}",
        stderr(&out)
    );

    // A replay refused before it runs (strict check, another kernel
    // recorded): the task failed to start, with the refusal as its error,
    // and the local campaign exits 1.
    super::edit_kernel_release(d, &id);
    let out = run(d, &["--json", "campaign", "start", "--check", "strict"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("1 of 1 tasks failed to start"),
        "{}",
        stderr(&out)
    );
    let c: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let campaign = c["campaign"].as_str().unwrap().to_owned();
    assert_eq!(c["summary"]["failed_to_start"], 1, "{c}");
    let s = json(&run(d, &["--json", "campaign", "status", &campaign]));
    assert_eq!(s["counts"]["failed_to_start"], 1, "{s}");
    let error = s["task_states"][0]["error"].as_str().unwrap();
    assert!(
        error.contains("this system differs from the recorded one (check=strict)"),
        "{error}"
    );
    let out = run(d, &["campaign", "task", &campaign, "7"]);
    assert!(
        first_line(&out).contains("has 1 tasks; there is no task 7"),
        "{}",
        stderr(&out)
    );
    // The campaigns table is dsi's: ingest refuses it.
    std::fs::write(d.join("c.csv"), "a\n1\n").unwrap();
    let out = run(d, &["ingest", "csv", "c.csv", "--table", "campaigns"]);
    assert!(
        first_line(&out).contains("table 'campaigns' holds dsi's campaigns"),
        "{}",
        stderr(&out)
    );

    // A corrupt event is named, not half-read.
    let c = rusqlite::Connection::open(d.join("dsi.db")).unwrap();
    c.execute(
        "UPDATE campaigns SET detail = '{' WHERE event = 'planned' AND campaign_id = ?1",
        [&campaign],
    )
    .unwrap();
    let out = run(d, &["campaign", "report", &campaign]);
    let line = first_line(&out);
    assert!(
        line.starts_with("error: table campaigns: event ") && line.contains("column detail: "),
        "{line}"
    );
}

/// 24 tasks, four at a time, into one SQLite file, one Delta dataset and
/// one S3 bucket (moto: atomic conditional writes): every replay and event
/// stored once, nothing lost, the store clean.
#[test]
fn concurrent_tasks_lose_nothing_on_every_back_end() {
    for driver in ["sqlite", "parquet", "s3"] {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        project(d);
        let store = match driver {
            "sqlite" => d.join("dsi.db").display().to_string(),
            "parquet" => d.join("dsi-data").display().to_string(),
            _ => format!(
                "s3://{}/campaign-{}",
                required_env("DSI_TEST_MOTO_BUCKET"),
                d.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .replace(|c: char| !c.is_ascii_alphanumeric(), "")
            ),
        };
        let with_store = |args: &[&str]| {
            let mut c = dsi(d);
            c.args(["--driver", driver, "--store", &store]).args(args);
            if driver == "s3" {
                c.env("AWS_ENDPOINT_URL", required_env("DSI_TEST_MOTO_ENDPOINT"))
                    .env("AWS_ACCESS_KEY_ID", "moto-campaign")
                    .env("AWS_SECRET_ACCESS_KEY", "moto-campaign-secret")
                    .env("AWS_ALLOW_HTTP", "true");
            }
            c.output().unwrap()
        };
        for k in 0..8 {
            write_runfile(d, &format!("CMD [\"sh\", \"-c\", \"echo {driver} {k}\"]\n"));
            let out = with_store(&["record", "Runfile", "--repo", "proj"]);
            assert!(out.status.success(), "{driver}: {}", stderr(&out));
        }
        let out = with_store(&["--json", "campaign", "start", "-j", "4", "--repeat", "3"]);
        assert!(out.status.success(), "{driver}: {}", stderr(&out));
        let id = started(&out);
        let out = with_store(&["--json", "campaign", "status", &id]);
        let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(s["tasks"], 24, "{driver}: {s}");
        assert_eq!(done(&s), 24, "{driver}: {s}");
        assert_eq!(s["duplicates"], 0, "{driver}: {s}");
        let out = with_store(&["--json", "campaign", "report", &id]);
        let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(r["summary"]["records"], 8, "{driver}: {r}");
        let replays: usize = r["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|row| row["replays"].as_array().unwrap().len())
            .sum();
        assert_eq!(replays, 24, "{driver}: {r}");
        let out = with_store(&[
            "--json",
            "query",
            &format!(
                "SELECT count(*) AS n FROM campaigns WHERE campaign_id = '{id}' AND event = 'started'"
            ),
        ]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v[0]["n"], 24, "{driver}: one start per task: {v}");
        let out = with_store(&["fsck"]);
        assert!(out.status.success(), "{driver}: {}", stderr(&out));
    }
}
