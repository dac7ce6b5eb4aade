//! `dsi export` (JSON, PROV-JSON, RO-Crate) of a real record and its replay,
//! and `dsi inspect --notebook`, checked with the tools that read them: the
//! Python `rocrate` package loads the crate, `nbformat` validates the
//! notebook and `nbclient` executes it; the Python DSI (`dsi-workflow`)
//! finds, searches and rewrites a dsi store that dsi still reads. Needs the
//! test services and
//! `DSI_TEST_PYTHON` (a venv with rocrate, nbformat, nbclient, ipykernel,
//! pandas; `cargo xtask ci` makes one).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use serde_json::Value;

/// The interpreter of the test venv; the test fails without it.
fn python() -> PathBuf {
    let p = std::env::var("DSI_TEST_PYTHON").unwrap_or_else(|_| {
        panic!(
            "DSI_TEST_PYTHON is not set: this test checks dsi's output with Python packages \
             (rocrate, nbformat, nbclient, ipykernel, pandas); run `cargo xtask ci`, or create \
             target/py-venv with them and export DSI_TEST_PYTHON=$PWD/target/py-venv/bin/python"
        )
    });
    PathBuf::from(p)
}

/// Runs a Python script with arguments, asserting success; returns stdout.
fn py(script: &str, args: &[&str]) -> String {
    let out = Command::new(python())
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("the test Python runs");
    assert!(
        out.status.success(),
        "python failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A project repository with an `out/` directory for outputs.
fn project(dir: &Path) {
    let p = dir.join("proj");
    std::fs::create_dir_all(p.join("out")).unwrap();
    std::fs::write(p.join("out/.gitkeep"), "").unwrap();
    git(&p, &["init", "-q"]);
    git(&p, &["add", "."]);
    git(&p, &["commit", "-q", "-m", "layout"]);
}

/// Records and replays a Runfile using the registry image (so every image
/// digest is known); returns (record id, replay id, commit).
fn record_and_replay(dir: &Path) -> (String, String, String) {
    project(dir);
    let image = required_env("DSI_TEST_IMAGE");
    std::fs::write(
        dir.join("Runfile"),
        format!(
            "FROM {image}\nLABEL dsi.outputs=\"out/result.txt\"\nBIND out:/out\n\
             CMD [\"/bin/sh\", \"-c\", \"cat /opt/app/VERSION | tee /out/result.txt\"]\n"
        ),
    )
    .unwrap();
    let st = dir.join("storage").display().to_string();
    let v = json(&run(
        dir,
        &[
            "run",
            "Runfile",
            "--repo",
            "proj",
            "--ch-storage",
            &st,
            "--json",
        ],
    ));
    let replay = v["record"]["run_id"].as_str().unwrap().to_owned();
    let record = v["record"]["parent_run_id"].as_str().unwrap().to_owned();
    let commit = v["record"]["commit"].as_str().unwrap().to_owned();
    (record, replay, commit)
}

/// Every (a, b) pair of a PROV relation kind.
fn relation(doc: &Value, kind: &str, a: &str, b: &str) -> Vec<(String, String)> {
    doc[kind]
        .as_object()
        .unwrap_or_else(|| panic!("no {kind} relations"))
        .values()
        .map(|r| {
            (
                r[a].as_str().unwrap().to_owned(),
                r[b].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn has(doc: &Value, kind: &str, a: &str, b: &str, want: (&str, &str)) {
    let pairs = relation(doc, kind, a, b);
    assert!(
        pairs.iter().any(|(x, y)| x == want.0 && y == want.1),
        "{kind} has no ({}, {}): {pairs:?}",
        want.0,
        want.1
    );
}

#[test]
fn a_record_and_its_replay_export_as_json_prov_and_ro_crate() {
    python();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (record, replay, commit) = record_and_replay(dir);
    let digest = required_env("DSI_TEST_IMAGE_DIGEST");

    // JSON: every column, typed, plus the Runfile and the parent.
    let r = json(&run(dir, &["export", &replay[..12], "--format", "json"]));
    let c = json(&run(dir, &["export", &record, "-f", "json"]));
    assert_eq!(r["run"]["run_id"], replay.as_str());
    assert_eq!(r["run"]["function"], "producer");
    assert_eq!(r["parent"], record.as_str());
    assert_eq!(r["run"]["parent_run_id"], record.as_str());
    assert_eq!(r["run"]["outcome"]["exit_code"], 0);
    assert!(r["run"]["outcome"]["duration_ms"].is_i64());
    assert_eq!(r["run"]["commit"], commit.as_str());
    assert_eq!(r["run"]["image"]["digest"], digest.as_str());
    assert!(r["run"]["image"]["manifest_digest"].is_string());
    assert!(r["run"]["image"]["config_digest"].is_string());
    assert!(r["runfile"].as_str().unwrap().starts_with("FROM "));
    assert_eq!(r["run"]["outputs"][0]["path"], "out/result.txt");
    assert_eq!(c["run"]["function"], "consumer");
    assert_eq!(c["parent"], Value::Null);
    assert_eq!(c["runfile"], r["runfile"]);
    assert_eq!(c["run"]["repository"], r["run"]["repository"]);
    assert_eq!(c["run"]["runfile"]["digest"], r["run"]["runfile"]["digest"]);
    // A file, reported as {"format", "path"} with --json.
    let v = json(&run(
        dir,
        &["--json", "export", &replay, "-o", "replay.json"],
    ));
    assert_eq!(v["format"], "json");
    assert_eq!(
        v["path"],
        dir.join("replay.json").display().to_string().as_str()
    );
    let file: Value =
        serde_json::from_slice(&std::fs::read(dir.join("replay.json")).unwrap()).unwrap();
    assert_eq!(file, r);

    // PROV-JSON of the replay: its parent record comes along.
    let doc = json(&run(dir, &["export", &replay, "--format", "prov"]));
    let blob = format!(
        "dsi:blob/sha256:{}",
        r["run"]["repository"]["sha256"].as_str().unwrap()
    );
    let (ra, ca) = (format!("dsi:run/{replay}"), format!("dsi:run/{record}"));
    let (rr, cr) = (format!("{ra}/runfile"), format!("{ca}/runfile"));
    let (ri, ci) = (format!("{ra}/image"), format!("{ca}/image"));
    let output = format!("{ra}/output/out/result.txt");
    for p in ["dsi", "prov", "xsd"] {
        assert!(doc["prefix"][p].is_string(), "prefix {p}");
    }
    assert_eq!(doc["activity"][&ra]["prov:type"]["$"], "dsi:Replay");
    assert_eq!(doc["activity"][&ca]["prov:type"]["$"], "dsi:Record");
    assert_eq!(doc["activity"][&ra]["dsi:exitCode"], 0);
    assert_eq!(
        doc["activity"][&ra]["prov:endTime"],
        r["run"]["recorded_at"]
    );
    assert!(doc["activity"][&ra]["prov:startTime"].is_string());
    assert_eq!(
        doc["entity"][&rr]["dsi:sha256"],
        r["run"]["runfile"]["sha256"]
    );
    assert_eq!(
        doc["entity"][&rr]["dsi:runfileDigest"],
        r["run"]["runfile"]["digest"]
    );
    assert_eq!(doc["entity"][&rr]["dsi:commit"], commit.as_str());
    assert_eq!(doc["entity"][&rr]["dsi:path"], "Runfile");
    assert_eq!(doc["entity"][&ri]["dsi:digest"], digest.as_str());
    assert_eq!(
        doc["entity"][&ri]["dsi:manifestDigest"],
        r["run"]["image"]["manifest_digest"]
    );
    assert_eq!(
        doc["entity"][&ri]["dsi:configDigest"],
        r["run"]["image"]["config_digest"]
    );
    assert_eq!(
        doc["entity"][&blob]["dsi:length"],
        r["run"]["repository"]["len"]
    );
    assert_eq!(
        doc["entity"][&output]["dsi:sha256"],
        r["run"]["outputs"][0]["sha256"]
    );
    let user = format!(
        "dsi:user/{}@{}",
        r["run"]["user"]["moniker"].as_str().unwrap(),
        r["run"]["user"]["hostname"].as_str().unwrap()
    );
    assert_eq!(doc["agent"][&user]["prov:type"]["$"], "prov:Person");
    let software = format!(
        "dsi:software/dsi/{}",
        r["run"]["dsi_version"].as_str().unwrap()
    );
    assert_eq!(
        doc["agent"][&software]["prov:type"]["$"],
        "prov:SoftwareAgent"
    );
    let (act, ent) = ("prov:activity", "prov:entity");
    for e in [&rr, &ri, &blob] {
        has(&doc, "used", act, ent, (&ra, e));
    }
    has(&doc, "used", act, ent, (&ca, &cr));
    has(&doc, "wasGeneratedBy", ent, act, (&output, &ra));
    has(&doc, "wasGeneratedBy", ent, act, (&blob, &ca));
    has(&doc, "wasAssociatedWith", act, "prov:agent", (&ra, &user));
    has(&doc, "wasAssociatedWith", act, "prov:agent", (&ca, &user));
    has(
        &doc,
        "wasInformedBy",
        "prov:informed",
        "prov:informant",
        (&ra, &ca),
    );
    let derived = ("prov:generatedEntity", "prov:usedEntity");
    has(&doc, "wasDerivedFrom", derived.0, derived.1, (&rr, &cr));
    has(&doc, "wasDerivedFrom", derived.0, derived.1, (&ri, &ci));
    // The record's own document: the same identifiers, no parent.
    let rec = json(&run(dir, &["export", &record, "--format", "prov"]));
    assert_eq!(rec["activity"][&ca], doc["activity"][&ca]);
    assert_eq!(rec["entity"][&cr], doc["entity"][&cr]);
    assert!(rec.get("wasInformedBy").is_none());
    assert_eq!(rec["activity"].as_object().unwrap().len(), 1);

    // RO-Crate: the default directory, and -O; read back with `rocrate`.
    let out = run(dir, &["export", &replay, "--format", "ro-crate"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let default = dir.join(format!("{replay}.crate"));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&default.display().to_string()),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let v = json(&run(
        dir,
        &["--json", "export", &record, "-f", "ro-crate", "-o", "rec"],
    ));
    assert_eq!(v["format"], "ro-crate");
    assert_eq!(v["path"], dir.join("rec").display().to_string().as_str());
    let check = r##"
import hashlib, json, sys
from rocrate.rocrate import ROCrate

path, run_id, image_sha, runfile_sha, function = sys.argv[1:6]
crate = ROCrate(path)
profile = "https://w3id.org/ro/wfrun/process/0.5"
conforms = crate.root_dataset["conformsTo"]
conforms = conforms if isinstance(conforms, list) else [conforms]
assert profile in [c.id for c in conforms], conforms
action = crate.get("#run-" + run_id)
assert action is not None and action.type == "CreateAction", action
runfile = crate.get("Runfile")
assert runfile is not None, "no Runfile entity"
assert "File" in runfile.type and "SoftwareSourceCode" in runfile.type, runfile.type
data = open(path + "/Runfile", "rb").read()
assert hashlib.sha256(data).hexdigest() == runfile["sha256"] == runfile_sha
assert runfile in crate.data_entities
assert action["instrument"] is runfile or action["instrument"].id == "Runfile"
image = action["containerImage"]
assert image.type == "ContainerImage", image.type
assert image["sha256"] == image_sha, image.properties()
assert action["agent"].type == "Person"
assert action["endTime"] and action["actionStatus"] == "http://schema.org/CompletedActionStatus"
results = action.get("result") or []
results = results if isinstance(results, list) else [results]
objects = action.get("object") or []
objects = objects if isinstance(objects, list) else [objects]
if function == "producer":
    assert action["startTime"]
    assert [r["name"] for r in results] == ["out/result.txt"], results
    assert len(results[0]["sha256"]) == 64
    assert objects[0]["sha256"] and objects[0]["encodingFormat"] == "application/zstd"
    parents = [e for e in crate.get_entities() if e.type == "CreateAction" and e.id != action.id]
    assert len(parents) == 1 and parents[0]["result"].id == objects[0].id, parents
else:
    assert [o.id for o in objects] == ["Runfile"], objects
    assert results[0]["encodingFormat"] == "application/zstd"
print("ok", action.id)
"##;
    let image_sha = digest.strip_prefix("sha256:").unwrap();
    let runfile_sha = r["run"]["runfile"]["sha256"].as_str().unwrap();
    let ok = py(
        check,
        &[
            default.to_str().unwrap(),
            &replay,
            image_sha,
            runfile_sha,
            "producer",
        ],
    );
    assert_eq!(ok.trim(), format!("ok #run-{replay}"));
    let ok = py(
        check,
        &[
            dir.join("rec").to_str().unwrap(),
            &record,
            image_sha,
            runfile_sha,
            "consumer",
        ],
    );
    assert_eq!(ok.trim(), format!("ok #run-{record}"));

    // A crate directory that is not empty is refused.
    let out = run(dir, &["export", &record, "-f", "ro-crate", "-o", "rec"]);
    assert_eq!(out.status.code(), Some(65), "{}", stderr(&out));
    assert!(stderr(&out).contains("not empty"), "{}", stderr(&out));
}

#[test]
fn the_inspect_notebook_validates_and_executes() {
    python();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write_runfile(dir, "CMD [\"/opt/app/bin/hello\", \"a\"]\n");
    let out = run(dir, &["run", "Runfile"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // Written from a subdirectory: the notebook must hold absolute paths.
    std::fs::create_dir(dir.join("sub")).unwrap();
    let v = json(&run(
        dir,
        &[
            "--json",
            "--store",
            "dsi.db",
            "inspect",
            "--notebook",
            "sub/store.ipynb",
        ],
    ));
    assert_eq!(v["format"], "ipynb");
    assert_eq!(v["stores"][0]["store"]["driver"], "sqlite");
    let nb = dir.join("sub/store.ipynb");
    let text = std::fs::read_to_string(&nb).unwrap();
    let db = std::fs::canonicalize(dir.join("dsi.db")).unwrap();
    assert!(
        text.contains(&format!("sqlite3.connect(\\\"{}\\\")", db.display())),
        "{text}"
    );
    let human = run(dir, &["inspect", "--notebook", "sub/again.ipynb"]);
    assert!(human.status.success(), "{}", stderr(&human));
    assert!(
        String::from_utf8_lossy(&human.stdout).contains("notebook: "),
        "{}",
        String::from_utf8_lossy(&human.stdout)
    );

    let script = r#"
import os, sys
import nbformat
from nbclient import NotebookClient

nb = nbformat.read(sys.argv[1], as_version=4)
nbformat.validate(nb)
assert nb.nbformat == 4 and nb.nbformat_minor == 5
assert all(c.get("id") for c in nb.cells)
os.chdir("/")
NotebookClient(nb, timeout=120, kernel_name="python3").execute()
texts = []
for cell in nb.cells:
    for o in cell.get("outputs", []):
        assert o.output_type != "error", o
        texts.append(o.get("text") or o.get("data", {}).get("text/plain", ""))
out = "\n".join(texts)
assert "consumer" in out and "producer" in out, out
assert "dsi.kernel_info/1" in out, out
print("executed", len(nb.cells))
"#;
    let ok = py(script, &[nb.to_str().unwrap()]);
    assert!(ok.starts_with("executed"), "{ok}");
}

#[test]
fn bad_export_input_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write_runfile(dir, "CMD [\"true\"]\n");
    let v = json(&run(dir, &["record", "Runfile", "--json"]));
    let id = v["record"]["run_id"].as_str().unwrap();

    let out = run(dir, &["export", "ZZZZZZ", "--format", "json"]);
    assert_eq!(out.status.code(), Some(65), "{}", stderr(&out));
    assert!(
        stderr(&out).starts_with("error: run or commit 'ZZZZZZ' not found\n"),
        "{}",
        stderr(&out)
    );

    let out = run(dir, &["export", id, "--format", "yaml"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("invalid value 'yaml'"),
        "{}",
        stderr(&out)
    );

    // The output's parent is a file: nothing can be written there.
    std::fs::write(dir.join("file"), "").unwrap();
    for (format, path) in [
        ("json", "file/out.json"),
        ("prov", "file/out.json"),
        ("ro-crate", "file/crate"),
    ] {
        let out = run(dir, &["export", id, "-f", format, "-o", path]);
        assert_eq!(out.status.code(), Some(74), "{format}: {}", stderr(&out));
        assert!(
            stderr(&out).starts_with("error: ") && stderr(&out).contains(path),
            "{}",
            stderr(&out)
        );
    }
    let out = run(dir, &["inspect", "--notebook", "file/nb.ipynb"]);
    assert_eq!(out.status.code(), Some(74), "{}", stderr(&out));
}

/// The Python DSI (`dsi-workflow`, in the test venv) opens a dsi SQLite
/// store: `list`, `find` and `search` work on it, and after its `update()`
/// rewrites the `runs` table (drop and re-create with the types pandas
/// infers) every record still has its repository: dsi lists, shows, checks
/// out, replays and fscks it.
#[test]
fn the_python_dsi_reads_and_rewrites_a_dsi_store() {
    python();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (record, replay, commit) = record_and_replay(dir);
    let db = dir.join("dsi.db");
    let script = r#"
import sqlite3, sys
from dsi.dsi import DSI

db, record, replay = sys.argv[1:4]
ddl = lambda: sqlite3.connect(db).execute(
    "select sql from sqlite_master where name = 'runs'").fetchone()[0]
before = ddl()
d = DSI(db)
found = d.find("function = producer", collection=True)
assert found is not None and list(found["run_id"]) == [replay], found
hits = d.search(record, collection=True)
assert hits and any(record in set(f["run_id"]) for f in hits), hits
rows = d.find("function = consumer", collection=True, update=True)
rows["notes"] = "edited by the Python DSI"
d.update(rows)
d.close()
after = ddl()
assert before != after, "update() did not rewrite the table"
print("rewritten:", after)
"#;
    let out = py(script, &[db.to_str().unwrap(), &record, &replay]);
    assert!(out.contains("\nrewritten: CREATE TABLE"), "{out}");

    let v = json(&run(dir, &["show", &record, "--json"]));
    assert_eq!(v["run"]["commit"], commit.as_str());
    assert_eq!(v["run"]["extra"]["notes"], "edited by the Python DSI");
    let out = run(dir, &["checkout", &record, "co"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(dir.join("co/Runfile").is_file());
    let out = run(
        dir,
        &[
            "replay",
            &commit[..10],
            "--ch-storage",
            dir.join("storage").to_str().unwrap(),
            "--verify",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(dir, &["fsck"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("no problems"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// Another tool rewrote `runs` with integer run ids (pandas `to_sql` of
/// numbered runs): `list` shows each id, `fsck` sees no duplicates, `show`
/// and `checkout` find a run by its number.
#[test]
fn a_runs_table_with_integer_ids_reads() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write_runfile(dir, "CMD [\"true\"]\n");
    let v = json(&run(dir, &["--json", "run", "Runfile"]));
    let commit = v["record"]["commit"].as_str().unwrap();
    let out = run(dir, &["replay", commit]);
    assert!(out.status.success(), "{}", stderr(&out));
    let c = rusqlite::Connection::open(dir.join("dsi.db")).unwrap();
    let cols: Vec<String> = c
        .prepare("SELECT name FROM pragma_table_info('runs') WHERE name != 'run_id'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let list = cols
        .iter()
        .map(|c| format!("\"{c}\""))
        .collect::<Vec<_>>()
        .join(", ");
    c.execute_batch(&format!(
        "ALTER TABLE runs RENAME TO old;
         CREATE TABLE runs (run_id INTEGER, {list});
         INSERT INTO runs SELECT row_number() OVER (ORDER BY recorded_at, rowid), {list} FROM old;
         DROP TABLE old;"
    ))
    .unwrap();
    let types: Vec<String> = c
        .prepare("SELECT DISTINCT typeof(run_id) FROM runs")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(types, ["integer"]);
    drop(c);

    let v = json(&run(dir, &["--json", "list", "--all"]));
    let mut ids: Vec<&str> = v["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["run_id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, ["1", "2", "3"], "one record, two replays: {v}");
    let out = run(dir, &["list"]);
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .skip(1)
            .all(|l| l
                .split_whitespace()
                .next()
                .is_some_and(|id| id.parse::<u8>().is_ok())),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let fsck = json(&run(dir, &["--json", "fsck"]));
    assert_eq!(fsck["problems"], serde_json::json!([]), "{fsck}");
    assert_eq!(fsck["runs"], 3, "{fsck}");
    let show = json(&run(dir, &["--json", "show", "3"]));
    assert_eq!(show["run"]["run_id"], "3");
    let out = run(dir, &["checkout", "1", "co"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

/// A stored run id names the RO-Crate's default directory only when it is
/// a plain file name: a hostile `AB/../../x` is refused, nothing is written
/// outside the working directory, and `-o` still works.
#[test]
fn a_hostile_run_id_does_not_name_a_path() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let dir = root.join("a/b");
    std::fs::create_dir_all(&dir).unwrap();
    write_runfile(&dir, "CMD [\"true\"]\n");
    let v = json(&run(&dir, &["record", "Runfile", "--json"]));
    let id = v["record"]["run_id"].as_str().unwrap().to_owned();
    let db = rusqlite::Connection::open(dir.join("dsi.db")).unwrap();
    db.execute(
        "UPDATE runs SET run_id = 'AB/../../x' WHERE run_id = ?1",
        [&id],
    )
    .unwrap();
    drop(db);
    let out = run(&dir, &["export", "AB", "--format", "ro-crate"]);
    assert_eq!(out.status.code(), Some(65), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        "error: run id 'AB/../../x' is not a plain file name; give the directory with -o PATH\n"
    );
    assert!(!root.join("x.crate").exists() && !root.join("a/x.crate").exists());
    let out = run(&dir, &["export", "AB", "--format", "ro-crate", "-o", "c"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(dir.join("c/ro-crate-metadata.json").exists());
}
