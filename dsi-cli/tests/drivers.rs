//! Every command, in human and `--json` mode, on every driver (sqlite,
//! parquet, s3), the way ripgrep's tests loop over its engines; the same
//! record stored through all three reads back identically; the Parquet
//! dataset is read by engines no one here wrote (pyarrow, DuckDB); the
//! read commands leave a read-only store (another user's, or on read-only
//! media) byte-identical.
//!
//! Needs the test services (registry, S3 server) and `DSI_TEST_PYTHON`.

mod common;

use std::path::Path;

use common::*;

/// The global flags selecting one driver's store for this test.
fn store_flags(driver: &str, dir: &Path) -> Vec<String> {
    match driver {
        "sqlite" => vec![
            "--driver".into(),
            "sqlite".into(),
            "--store".into(),
            dir.join("dsi.db").display().to_string(),
        ],
        "parquet" => vec![
            "--driver".into(),
            "parquet".into(),
            "--store".into(),
            dir.join("dsi-data").display().to_string(),
        ],
        "s3" => {
            let bucket = required_env("DSI_TEST_S3_BUCKET");
            required_env("AWS_ENDPOINT_URL");
            let prefix = dir
                .file_name()
                .unwrap()
                .to_string_lossy()
                .replace(|c: char| !c.is_ascii_alphanumeric(), "");
            vec![
                "--driver".into(),
                "s3".into(),
                "--store".into(),
                format!("s3://{bucket}/cli-{prefix}"),
            ]
        }
        other => panic!("no store for {other}"),
    }
}

fn run_with(dir: &Path, flags: &[String], args: &[&str]) -> std::process::Output {
    let mut all: Vec<&str> = flags.iter().map(String::as_str).collect();
    all.extend_from_slice(args);
    run(dir, &all)
}

fn ok(out: &std::process::Output) -> String {
    assert!(out.status.success(), "{}", stderr(out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The whole user journey on one driver.
fn every_command(driver: &str) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let f = store_flags(driver, d);
    std::fs::create_dir_all(d.join("proj/out")).unwrap();
    std::fs::write(d.join("proj/out/.gitkeep"), "").unwrap();
    git(&d.join("proj"), &["init", "-q"]);
    git(&d.join("proj"), &["add", "."]);
    git(&d.join("proj"), &["commit", "-q", "-m", "layout"]);
    write_runfile(
        d,
        "LABEL dsi.outputs=\"out/r.txt\"\nBIND out:/out\nCMD [\"/bin/sh\", \"-c\", \"/opt/app/bin/hello x | tee /out/r.txt\"]\n",
    );

    // record / run / replay
    let rec = json(&run_with(
        d,
        &f,
        &["--json", "record", "Runfile", "--repo", "proj"],
    ));
    let (id, commit) = (
        rec["record"]["run_id"].as_str().unwrap().to_owned(),
        rec["record"]["commit"].as_str().unwrap().to_owned(),
    );
    let mut docs: Vec<(&str, serde_json::Value)> = vec![("record", rec.clone())];
    assert!(ok(&run_with(d, &f, &["replay", &commit[..8]])).contains("hello argv: x"));
    let rep = json(&run_with(d, &f, &["--json", "replay", &commit, "--verify"]));
    assert_eq!(rep["verification"]["verdict"], "reproduced", "{rep}");
    docs.push(("replay", rep.clone()));
    assert_eq!(rep["record"]["parent_run_id"], id.as_str());
    // The same commit and image again: the existing record is replayed.
    let human_run = ok(&run_with(d, &f, &["run", "Runfile", "--repo", "proj"]));
    assert!(
        human_run.starts_with(&format!("recorded run {id}")),
        "{human_run}"
    );

    // list / show / diff / query
    let list = json(&run_with(d, &f, &["--json", "list", "--all"]));
    assert_eq!(list["runs"].as_array().unwrap().len(), 4, "{list}");
    assert_eq!(list["total"], 4, "{list}");
    docs.push(("list", list.clone()));
    let human = ok(&run_with(d, &f, &["list", "--function", "consumer"]));
    assert_eq!(human.lines().count(), 2, "header + 1 record: {human}");
    let cut = ok(&run_with(d, &f, &["list", "-n", "2"]));
    assert!(
        cut.ends_with("2 of 4 shown; -n N or --all for more\n"),
        "{cut}"
    );
    let show = json(&run_with(d, &f, &["--json", "show", &id[..12]]));
    docs.push(("show", show.clone()));
    docs.push(("diff", json(&run_with(d, &f, &["--json", "diff", &id]))));
    docs.push((
        "log",
        json(&run_with(d, &f, &["--json", "log", "--repo", "proj"])),
    ));
    docs.push((
        "replay-plan",
        json(&run_with(d, &f, &["--json", "replay", &id, "--dry-run"])),
    ));
    assert_eq!(show["run"]["run_id"], id.as_str());
    assert!(
        show["runfile"]
            .as_str()
            .unwrap()
            .contains("CMD [\"/bin/sh\"")
    );
    assert!(ok(&run_with(d, &f, &["show", &id])).contains(&format!("Runfile at {commit}")));
    assert_eq!(
        json(&run_with(d, &f, &["--json", "diff", &id, "--now"]))["identical"],
        true
    );
    assert!(ok(&run_with(d, &f, &["diff", &id])).contains("no differences"));
    let q = json(&run_with(
        d,
        &f,
        &[
            "--json",
            "query",
            "SELECT count(*) AS n FROM runs WHERE function = 'producer'",
        ],
    ));
    assert_eq!(q[0]["n"], 3, "{q}");
    docs.push(("query", q.clone()));
    assert!(
        ok(&run_with(
            d,
            &f,
            &["query", "SELECT count(*) AS n FROM runs"]
        ))
        .contains('4')
    );

    // checkout / push / pull
    assert!(ok(&run_with(d, &f, &["checkout", &id, "co"])).starts_with("checked out run"));
    std::fs::create_dir(d.join("srv")).unwrap();
    git(&d.join("srv"), &["init", "-q", "--bare", "r.git"]);
    let url = format!("file://{}", d.join("srv/r.git").display());
    assert_eq!(
        json(&run_with(d, &f, &["--json", "push", "--remote", &url, &id]))["refs"][0],
        "refs/heads/main"
    );
    let pulled = json(&run_with(d, &f, &["--json", "pull", "--remote", &url]));
    assert_eq!(pulled["commit"].as_str().unwrap().len(), 40);
    docs.push(("pull", pulled.clone()));
    docs.push((
        "checkout",
        json(&run_with(d, &f, &["--json", "checkout", &id, "co2"])),
    ));

    // ingest / collect / inspect / fsck / export
    std::fs::write(d.join("t.csv"), "a,b\n1,x\n2,y\n").unwrap();
    assert_eq!(
        json(&run_with(
            d,
            &f,
            &["--json", "ingest", "csv", "t.csv", "--table", "t"]
        ))["rows"],
        2
    );
    assert!(ok(&run_with(d, &f, &["collect", "hostname"])).starts_with("stored 1 row in hostname"));
    let ins = json(&run_with(d, &f, &["--json", "inspect"]));
    docs.push(("inspect", ins.clone()));
    docs.push(("config", json(&run_with(d, &f, &["--json", "config"]))));
    docs.push((
        "runfile-check",
        json(&run(d, &["--json", "runfile", "check", "Runfile"])),
    ));
    docs.push(("modules", json(&run_with(d, &f, &["--json", "drivers"]))));
    let tables: Vec<&str> = ins[0]["store"]["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(
        tables.contains(&"runs") && tables.contains(&"t") && tables.contains(&"hostname"),
        "{tables:?}"
    );
    assert!(ok(&run_with(d, &f, &["inspect"])).contains("newest runs:"));
    let fsck = json(&run_with(d, &f, &["--json", "fsck"]));
    assert_eq!(fsck["problems"].as_array().unwrap().len(), 0, "{fsck}");
    docs.push(("fsck", fsck.clone()));
    assert!(ok(&run_with(d, &f, &["fsck"])).contains("no problems"));
    let ex = json(&run_with(d, &f, &["export", &id, "--format", "json"]));
    assert_eq!(ex["run"]["run_id"], id.as_str());
    docs.push(("export", ex));
    docs.push((
        "written",
        json(&run_with(d, &f, &["--json", "export", &id, "-o", "x.json"])),
    ));
    let err = run_with(d, &f, &["--json", "show", "ZZZZZZ"]);
    docs.push(("error", serde_json::from_slice(&err.stderr).unwrap()));

    // compact / migrate: the Delta stores compact, holding the same runs,
    // and are of the current layout; SQLite needs neither and says so.
    if driver == "sqlite" {
        for cmd in ["compact", "migrate"] {
            let out = run_with(d, &f, &[cmd]);
            assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
            assert!(
                stderr(&out).contains("not supported by sqlite"),
                "{}",
                stderr(&out)
            );
        }
    } else {
        let before = json(&run_with(d, &f, &["--json", "list", "--all"]));
        let compacted = json(&run_with(d, &f, &["--json", "compact"]));
        let runs = compacted[0]["compaction"]["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["table"] == "runs")
            .unwrap_or_else(|| panic!("{compacted}"))
            .clone();
        assert!(runs["files_before"].as_u64().unwrap() > 1, "{compacted}");
        assert_eq!(runs["files_after"], 1, "{compacted}");
        docs.push(("compact", compacted));
        assert_eq!(json(&run_with(d, &f, &["--json", "list", "--all"])), before);
        assert!(ok(&run_with(d, &f, &["fsck"])).contains("no problems"));
        let migrated = json(&run_with(d, &f, &["--json", "migrate"]));
        assert_eq!(
            migrated[0]["migration"]["already_current"], true,
            "{migrated}"
        );
        docs.push(("migrate", migrated));
    }
    validate(&docs);
    if driver != "s3" {
        reads_leave_the_store_alone(driver, d, &f, &id);
    }
}

/// Every file under `path` (a file or a directory) with its content.
fn contents(path: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut todo = vec![path.to_path_buf()];
    while let Some(p) = todo.pop() {
        if p.is_dir() {
            out.insert(format!("{}/", p.display()), Vec::new());
            for e in std::fs::read_dir(&p).unwrap() {
                todo.push(e.unwrap().path());
            }
        } else {
            out.insert(p.display().to_string(), std::fs::read(&p).unwrap());
        }
    }
    out
}

/// The read commands on a store that `chmod -R a-w` made read-only, run
/// as another user (root may write anyway), and on read-only media (a
/// read-only bind mount in a private mount namespace): each succeeds and
/// no file of the store is created, changed or removed. A store that does
/// not exist is an error and is not created.
fn reads_leave_the_store_alone(driver: &str, d: &Path, f: &[String], id: &str) {
    use std::os::unix::fs::PermissionsExt;
    let store = Path::new(&f[3]).to_path_buf();
    let before = contents(&store);
    let chmod = |mode: &str| {
        let st = std::process::Command::new("chmod")
            .args(["-R", mode])
            .arg(&store)
            .status()
            .unwrap();
        assert!(st.success(), "chmod -R {mode}");
    };
    // Another user may enter the test directory and check out into `ro-out`.
    std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out_dir = d.join("ro-out");
    std::fs::create_dir(&out_dir).unwrap();
    std::fs::set_permissions(&out_dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    chmod("a-w");
    let dsi = assert_cmd::cargo::cargo_bin("dsi");
    let reads: Vec<Vec<String>> = [
        vec!["list", "--all"],
        vec!["show", id],
        vec!["query", "SELECT count(*) AS n FROM runs"],
        vec!["inspect"],
        vec!["fsck"],
        vec!["export", id, "--format", "prov"],
        vec!["diff", id],
        vec!["replay", id, "--dry-run"],
        vec!["checkout", id],
    ]
    .iter()
    .map(|a| a.iter().map(|s| (*s).to_owned()).collect())
    .collect();
    for (how, prefix) in [
        (
            "as another user",
            vec![
                "setpriv".to_owned(),
                "--reuid=nobody".into(),
                "--regid=nogroup".into(),
                "--clear-groups".into(),
            ],
        ),
        (
            "on read-only media",
            vec![
                "unshare".to_owned(),
                "-m".into(),
                "sh".into(),
                "-c".into(),
                "mount --bind \"$0\" \"$0\" && mount -o remount,bind,ro \"$0\" && exec \"$@\""
                    .into(),
                store.display().to_string(),
            ],
        ),
    ] {
        for (i, args) in reads.iter().enumerate() {
            let mut c = std::process::Command::new(&prefix[0]);
            c.args(&prefix[1..]).arg(&dsi).args(f).args(args);
            if args[0] == "checkout" {
                c.arg(out_dir.join(format!("{}-{i}", how.replace(' ', "-"))));
            }
            c.current_dir(&out_dir);
            hermetic(&mut c, d);
            let out = c.output().expect("setpriv and unshare (util-linux) run");
            assert!(
                out.status.success(),
                "{driver} {how}: dsi {}: {}",
                args.join(" "),
                stderr(&out)
            );
        }
    }
    chmod("u+w");
    assert_eq!(
        contents(&store).keys().collect::<Vec<_>>(),
        before.keys().collect::<Vec<_>>(),
        "{driver}: the read commands created or removed files"
    );
    assert!(
        contents(&store) == before,
        "{driver}: a read command changed a file"
    );

    let missing = d.join(if driver == "sqlite" {
        "missing.db"
    } else {
        "missing"
    });
    let out = run(
        d,
        &[
            "--driver",
            driver,
            "--store",
            missing.to_str().unwrap(),
            "list",
        ],
    );
    assert_eq!(out.status.code(), Some(65), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("store '{}' not found", missing.display())),
        "{}",
        stderr(&out)
    );
    assert!(!missing.exists(), "a read created {}", missing.display());
}

#[test]
fn every_command_on_sqlite() {
    every_command("sqlite");
}

#[test]
fn every_command_on_parquet() {
    every_command("parquet");
}

#[test]
fn every_command_on_s3() {
    every_command("s3");
}

#[test]
fn the_same_record_reads_back_identically_from_every_driver() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_runfile(d, "CMD [\"true\"]\n");
    let mut all: Vec<String> = Vec::new();
    for driver in ["sqlite", "parquet", "s3"] {
        all.extend(store_flags(driver, d));
    }
    let rec = json(&run_with(d, &all, &["--json", "record", "Runfile"]));
    let stores: Vec<&str> = rec["stores"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().split(' ').next().unwrap())
        .collect();
    assert_eq!(stores, ["sqlite", "parquet", "s3"]);
    let id = rec["record"]["run_id"].as_str().unwrap();
    let shows: Vec<serde_json::Value> = ["sqlite", "parquet", "s3"]
        .iter()
        .map(|drv| json(&run_with(d, &store_flags(drv, d), &["--json", "show", id])))
        .collect();
    assert_eq!(shows[0], shows[1], "sqlite and parquet differ");
    assert_eq!(shows[0], shows[2], "sqlite and s3 differ");
    for drv in ["sqlite", "parquet", "s3"] {
        let fsck = json(&run_with(d, &store_flags(drv, d), &["--json", "fsck"]));
        assert_eq!(fsck["blobs"], 1, "{drv}: {fsck}");
    }
}

#[test]
fn the_parquet_dataset_is_read_by_deltalake_and_duckdb() {
    let python = required_env("DSI_TEST_PYTHON");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let f = store_flags("parquet", d);
    write_runfile(d, "CMD [\"true\"]\n");
    ok(&run_with(d, &f, &["run", "Runfile"]));
    ok(&run_with(d, &f, &["run", "Runfile"]));
    let ours = json(&run_with(d, &f, &["--json", "list", "--all"]));
    let mut ids: Vec<String> = ours["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["run_id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();

    let script = r#"
import json, os, sys
import duckdb, duckdb_extension_delta
from deltalake import DeltaTable
root = sys.argv[1]
t = DeltaTable(root + "/runs").to_pyarrow_table()
ext = os.path.join(os.path.dirname(duckdb_extension_delta.__file__), "extensions")
con = duckdb.connect(config={"allow_unsigned_extensions": "true"})
con.load_extension(os.path.join(ext, os.listdir(ext)[0], "delta.duckdb_extension"))
q = f"SELECT run_id, exit_code, \"commit\", container_run_commands.sha256 AS blob FROM delta_scan('{root}/runs') ORDER BY run_id"
rows = con.execute(q).fetchall()
desc = {r[0]: r[1] for r in con.execute(f"DESCRIBE SELECT * FROM delta_scan('{root}/runs')").fetchall()}
print(json.dumps({
  "pyarrow_ids": sorted(t.column("run_id").to_pylist()),
  "pyarrow_types": {f.name: str(f.type) for f in t.schema},
  "duckdb_ids": [r[0] for r in rows],
  "duckdb_exit_codes": [r[1] for r in rows],
  "duckdb_blobs": sorted({r[3] for r in rows if r[3]}),
  "duckdb_commits": sorted({r[2] for r in rows if r[2]}),
  "duckdb_types": desc,
}))
"#;
    let out = std::process::Command::new(&python)
        .args(["-c", script, &d.join("dsi-data").display().to_string()])
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["pyarrow_ids"], serde_json::json!(ids));
    assert_eq!(v["duckdb_ids"], serde_json::json!(ids));
    assert_eq!(v["pyarrow_types"]["exit_code"], "int64");
    assert_eq!(v["pyarrow_types"]["recorded_at"], "timestamp[us, tz=UTC]");
    // No Hive partition column: the Delta table holds exactly dsi's columns.
    assert_eq!(v["pyarrow_types"].get("date"), None);
    assert_eq!(v["duckdb_types"]["exit_code"], "BIGINT");
    assert_eq!(v["duckdb_types"]["recorded_at"], "TIMESTAMP WITH TIME ZONE");
    assert_eq!(
        v["duckdb_blobs"].as_array().unwrap().len(),
        v["duckdb_commits"].as_array().unwrap().len(),
        "one repository blob per commit: {v}"
    );
    let codes: Vec<serde_json::Value> = v["duckdb_exit_codes"].as_array().unwrap().clone();
    assert_eq!(
        codes.iter().filter(|c| c.is_null()).count(),
        1,
        "one record (the second run found it recorded)"
    );
    assert_eq!(
        codes.iter().filter(|c| **c == serde_json::json!(0)).count(),
        2,
        "two replays"
    );
}

/// The `dsi inspect --notebook` of the Delta stores executes: each store's
/// `runs` loads with `deltalake` (on S3 with the endpoint dsi used and the
/// credentials of the environment only).
#[test]
fn the_notebook_opens_the_parquet_and_s3_stores() {
    let python = required_env("DSI_TEST_PYTHON");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut f = store_flags("parquet", d);
    f.extend(store_flags("s3", d));
    write_runfile(d, "CMD [\"true\"]\n");
    ok(&run_with(d, &f, &["run", "Runfile"]));
    ok(&run_with(d, &f, &["inspect", "--notebook", "store.ipynb"]));
    let text = std::fs::read_to_string(d.join("store.ipynb")).unwrap();
    assert!(!text.contains(&required_env("AWS_SECRET_ACCESS_KEY")));
    let script = r#"
import os, sys
import nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
nbformat.validate(nb)
# The notebook must not follow an endpoint from the environment.
os.environ["AWS_ENDPOINT_URL"] = "http://127.0.0.1:9"
NotebookClient(nb, timeout=120, kernel_name="python3").execute()
for cell in nb.cells:
    for o in cell.get("outputs", []):
        assert o.output_type != "error", o
nb.cells.append(nbformat.v4.new_code_cell(
    "print(sorted((k, len(v)) for k, v in frames.items()))"))
NotebookClient(nb, timeout=120, kernel_name="python3").execute()
print(nb.cells[-1].outputs[0]["text"].strip())
"#;
    let out = std::process::Command::new(&python)
        .args(["-c", script, &d.join("store.ipynb").display().to_string()])
        .current_dir("/")
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "[('parquet:0', 2), ('s3:1', 2)]"
    );
}
