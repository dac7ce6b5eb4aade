//! `dsi run`, `dsi replay`, `dsi diff` against real Charliecloud, the real
//! registry on loopback and real git. Needs the test services.

mod common;

#[path = "replay/campaign.rs"]
mod campaign;

use std::path::Path;

use common::*;

/// A project repository with an `out/` directory for outputs.
fn project(dir: &Path) -> std::path::PathBuf {
    let p = dir.join("proj");
    std::fs::create_dir_all(p.join("out")).unwrap();
    std::fs::write(p.join("out/.gitkeep"), "").unwrap();
    git(&p, &["init", "-q"]);
    git(&p, &["add", "."]);
    git(&p, &["commit", "-q", "-m", "layout"]);
    p
}

const OUTPUTS: &str = "LABEL dsi.outputs=\"out/result.txt\"\nBIND out:/out\n";

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn record_replay_and_verify() {
    let dir = tempfile::tempdir().unwrap();
    project(dir.path());
    write_runfile(
        dir.path(),
        &format!(
            "{OUTPUTS}CMD [\"/bin/sh\", \"-c\", \"/opt/app/bin/hello a 'b c' | tee /out/result.txt\"]\n"
        ),
    );
    let out = run(dir.path(), &["run", "Runfile", "--repo", "proj"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("hello argv: a b c\ncwd: /\nGREETING=hello world\n"),
        "{text}"
    );
    let commit = git(&dir.path().join("proj"), &["rev-parse", "HEAD"])
        .trim()
        .to_owned();

    // The same commit again, verified against the first replay (a legacy
    // Runfile: @stdout and each dsi.outputs word, exact).
    let v = json(&run(
        dir.path(),
        &["replay", &commit[..7], "--verify", "--json"],
    ));
    assert_eq!(v["record"]["outcome"]["exit_code"], 0);
    assert_eq!(v["verification"]["verdict"], "reproduced", "{v}");
    let items = v["verification"]["items"].as_array().unwrap();
    let names: Vec<&str> = items.iter().map(|i| i["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["@stdout", "out/result.txt"]);
    assert!(items.iter().all(|i| i["status"] == "identical"), "{v}");
    assert_eq!(v["record"]["outputs"][0]["path"], "out/result.txt");
    assert!(v["record"]["outputs"][0]["sha256"].is_string());
    assert_eq!(v["record"]["texts"][1]["stored"], true, "{v}");

    // A Runfile whose output changes every time is not reproduced, readably.
    write_runfile(
        dir.path(),
        &format!(
            "{OUTPUTS}CMD [\"/bin/sh\", \"-c\", \"cat /proc/sys/kernel/random/uuid | tee /out/result.txt\"]\n"
        ),
    );
    let first = run(dir.path(), &["run", "Runfile", "--repo", "proj"]);
    assert!(first.status.success(), "{}", stderr(&first));
    let commit = git(&dir.path().join("proj"), &["rev-parse", "HEAD"])
        .trim()
        .to_owned();
    let out = run(dir.path(), &["replay", &commit, "--verify"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("verification against run "), "{text}");
    assert!(
        text.contains("differs          OUTPUT out/result.txt (exact): replay 1:1 / reference 1:1"),
        "{text}"
    );
    assert!(
        text.contains("differs          OUTPUT @stdout (exact)"),
        "{text}"
    );
    assert!(text.contains("verdict: not-reproduced"), "{text}");
    assert_eq!(
        stderr(&out).trim(),
        "error: the replay did not reproduce the reference run (verdict not-reproduced)"
    );
}

/// A project whose container copies texts from a host directory `host`
/// (bound at /mnt/0) into `out/` (bound at /mnt/1) and prints `stdout.txt`:
/// the test changes the texts between replays of one commit.
fn texts_project(dir: &Path, body: &str) -> (std::path::PathBuf, String) {
    project(dir);
    let host = dir.join("host");
    std::fs::create_dir_all(&host).unwrap();
    write_runfile(
        dir,
        &format!(
            "BIND {}:/mnt/0\nBIND out:/mnt/1\n{body}CMD [\"/bin/sh\", \"-c\", \"cp /mnt/0/*.txt /mnt/1/ 2>/dev/null; cat /mnt/0/stdout.txt 2>/dev/null; true\"]\n",
            host.display()
        ),
    );
    let rec = json(&run(
        dir,
        &["record", "Runfile", "--repo", "proj", "--json"],
    ));
    let commit = rec["record"]["commit"].as_str().unwrap().to_owned();
    (host, commit)
}

/// `dsi replay --verify --json` whatever its exit status, and the status.
fn verify_json(dir: &Path, args: &[&str]) -> (Option<i32>, serde_json::Value) {
    let mut all = vec!["--json", "replay"];
    all.extend_from_slice(args);
    let out = run(dir, &all);
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(&out)));
    (out.status.code(), v)
}

fn item<'a>(v: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    v["verification"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"].as_str().unwrap().starts_with(name))
        .unwrap_or_else(|| panic!("no item {name} in {v}"))
}

fn e2(x: &serde_json::Value) -> String {
    format!("{:.1e}", x.as_f64().unwrap())
}

/// RUNFILE-1.1 §9.4 X-1, end to end: the first replay has no reference
/// (unverifiable, exit 2); the second, whose texts differ only as shown, is
/// reproduced within tolerance with exactly the statistics printed there.
#[test]
fn worked_example_x1_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (host, commit) = texts_project(
        d,
        "OUTPUT --compare=numbers --rtol=1e-9 --atol=1e-9 --ignore=\"^# date\" out/energy.txt\n\
         METRIC energy --from=out/energy.txt --regex=\"^E_total = (?P<value>\\\\S+)\" --rtol=1e-9\n\
         EXPECT --no-regex=NaN\n",
    );
    std::fs::write(
        host.join("energy.txt"),
        "# date 2026-12-01T18:40:11Z\n\
         step 1  E_total = -76.02663273509 Ha  dE = 1.2e-3\n\
         step 2  E_total = -76.02679934127 Ha  dE = 1.7e-4\n\
         conv 12 iterations, residual 3.1e-09\n\
         E_total = -76.026799341270\n",
    )
    .unwrap();
    let (code, p) = verify_json(d, &[&commit, "--verify"]);
    assert_eq!(code, Some(2), "{p}");
    assert_eq!(p["verification"]["verdict"], "unverifiable", "{p}");
    assert!(p["verification"]["reference"].is_null());
    assert_eq!(item(&p, "--no-regex")["status"], "identical");

    std::fs::write(
        host.join("energy.txt"),
        "# date 2026-12-02T09:13:55Z\n\
         step 1  E_total = -76.02663273511 Ha  dE = 1.2e-3\n\
         step 2  E_total = -76.02679934125 Ha  dE = 1.70e-4\n\
         conv 12 iterations, residual 2.9e-09\n\
         E_total = -76.026799341251\n",
    )
    .unwrap();
    let (code, r) = verify_json(d, &[&commit, "--verify"]);
    assert_eq!(code, Some(0), "{r}");
    assert_eq!(r["verification"]["reference"], p["record"]["run_id"]);
    let o = item(&r, "out/energy.txt");
    assert_eq!(o["status"], "within-tolerance", "{o}");
    assert_eq!(o["statistics"]["numbers"], 9);
    assert_eq!(o["statistics"]["differing_spelling"], 5);
    assert_eq!(e2(&o["statistics"]["max_abs"]), "2.0e-10");
    assert_eq!(e2(&o["statistics"]["max_rel"]), "6.5e-2");
    let m = item(&r, "energy");
    assert_eq!(m["status"], "within-tolerance", "{m}");
    assert_eq!(e2(&m["statistics"]["max_abs"]), "1.9e-11");
    assert_eq!(e2(&m["statistics"]["max_rel"]), "2.5e-13");
    assert_eq!(m["values"][0], "-76.026799341251");
    assert_eq!(m["reference_values"][0], "-76.026799341270");
    assert_eq!(item(&r, "--no-regex")["status"], "identical");
    assert_eq!(r["verification"]["verdict"], "reproduced-within-tolerance");

    // The verdict is stored: shown, listed, filtered and exported.
    let id = r["record"]["run_id"].as_str().unwrap();
    let show = stdout(&run(d, &["show", id]));
    assert!(
        show.contains(&format!(
            "verification against run {}: reproduced-within-tolerance",
            p["record"]["run_id"].as_str().unwrap()
        )),
        "{show}"
    );
    assert!(show.contains("within-tolerance OUTPUT out/energy.txt (numbers): 9 numbers, 5 differing in spelling, max abs 2.0e-10, max rel 6.5e-2"), "{show}");
    let listed = json(&run(
        d,
        &["--json", "list", "--verdict", "reproduced-within-tolerance"],
    ));
    let runs = listed["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1, "{listed}");
    assert_eq!(runs[0]["run_id"], id);
    let listed = json(&run(d, &["--json", "list", "--verdict", "unverifiable"]));
    assert_eq!(listed["runs"][0]["run_id"], p["record"]["run_id"]);
    // A store written before verdicts existed (its runs table has no
    // verdict column): no run has a verdict, so the filter selects none.
    let old = d.join("old");
    std::fs::create_dir(&old).unwrap();
    std::fs::copy(d.join("dsi.db"), old.join("dsi.db")).unwrap();
    let c = rusqlite::Connection::open(old.join("dsi.db")).unwrap();
    c.execute_batch(
        "ALTER TABLE runs DROP COLUMN verdict;
         DELETE FROM _dsi_columns WHERE table_name = 'runs' AND column_name = 'verdict';",
    )
    .unwrap();
    drop(c);
    let listed = json(&run(&old, &["--json", "list", "--verdict", "unverifiable"]));
    assert_eq!(listed["runs"].as_array().map(Vec::len), Some(0), "{listed}");
    assert_eq!(listed["total"], 0);
    let all = json(&run(&old, &["--json", "list"]));
    assert_eq!(all["runs"].as_array().map(Vec::len), Some(3), "{all}");
    let prov = json(&run(d, &["export", id, "--format", "prov"]));
    let activity = prov["activity"]
        .as_object()
        .unwrap()
        .values()
        .find(|a| a["dsi:runId"] == id)
        .unwrap();
    assert_eq!(activity["dsi:verdict"], "reproduced-within-tolerance");
}

/// X-2: a lines OUTPUT that differs in one checksum and a numbers OUTPUT
/// that differs only in spelling: not reproduced (exit 1).
#[test]
fn worked_example_x2_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (host, commit) = texts_project(
        d,
        "OUTPUT --compare=lines --ignore=\"^# \" out/log.txt\nOUTPUT --compare=numbers @stdout\n",
    );
    std::fs::write(
        host.join("log.txt"),
        "# host vm, 2 ranks\nmesh 64x64, 100 steps\nstep 100: converged\nchecksum 0x5f3a9c21\n",
    )
    .unwrap();
    std::fs::write(
        host.join("stdout.txt"),
        "rank 0: 1.0 2.50\nrank 1: 3.0e0 4.5\n",
    )
    .unwrap();
    let (code, p) = verify_json(d, &[&commit]);
    assert_eq!(code, Some(0), "{p}");
    std::fs::write(
        host.join("log.txt"),
        "# host n17, 2 ranks\nmesh 64x64, 100 steps\nstep 100: converged\nchecksum 0x5f3a9c27\n",
    )
    .unwrap();
    std::fs::write(host.join("stdout.txt"), "rank 0: 1.00 2.5\nrank 1: 3 4.5\n").unwrap();
    let (code, r) = verify_json(d, &[&commit, "--verify"]);
    assert_eq!(code, Some(1), "{r}");
    let log = item(&r, "out/log.txt");
    assert_eq!(log["status"], "differs");
    let diff = &log["difference"];
    assert_eq!(
        (
            diff["replay"]["line"].as_u64(),
            diff["replay"]["column"].as_u64()
        ),
        (Some(4), Some(19))
    );
    assert_eq!(
        (
            diff["reference"]["line"].as_u64(),
            diff["reference"]["column"].as_u64()
        ),
        (Some(4), Some(19))
    );
    assert_eq!(diff["replay"]["token"], "0x5f3a9c27");
    assert_eq!(diff["reference"]["token"], "0x5f3a9c21");
    let out = item(&r, "@stdout");
    assert_eq!(out["status"], "within-tolerance", "{out}");
    assert_eq!(out["statistics"]["numbers"], 6);
    assert_eq!(out["statistics"]["differing_spelling"], 3);
    assert_eq!(out["statistics"]["max_abs"], 0.0);
    assert_eq!(r["verification"]["verdict"], "not-reproduced");
}

/// X-3: W-2 with `--repeat 3` against a reference: each repeat within
/// tolerance, the statistics of the example, both metrics nondeterministic.
#[test]
fn worked_example_x3_repeats_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    project(d);
    let host = d.join("host");
    std::fs::create_dir_all(&host).unwrap();
    // Each run prints the next of out0.txt, out1.txt, … (a counter in host/).
    write_runfile(
        d,
        &format!(
            "BIND {}:/mnt/0\n\
             METRIC gflops --regex=\"GFLOP/s: (\\\\d+\\\\.\\\\d*)\" --match=all --rtol=5e-2 --min=100 --unit=GFLOP/s\n\
             METRIC wall --regex=\"wall +([0-9.]+) s\" --unit=\"s (wall)\" --report-only --match=first\n\
             EXPECT --regex=\"^run complete$\"\n\
             OUTPUT --compare=lines --ignore=\"^wall \" --ignore=\"GFLOP/s\" @stdout\n\
             CMD [\"/bin/sh\", \"-c\", \"n=$(cat /mnt/0/n); echo $((n+1)) > /mnt/0/n; cat /mnt/0/out$n.txt\"]\n",
            host.display()
        ),
    );
    let runs = [
        ("812.4", "806.9", "12.31"),
        ("798.1", "803.3", "12.52"),
        ("821.0", "799.6", "12.07"),
        ("790.2", "811.0", "12.88"),
    ];
    for (i, (a, b, w)) in runs.iter().enumerate() {
        std::fs::write(
            host.join(format!("out{i}.txt")),
            format!("GFLOP/s: {a}\nGFLOP/s: {b}\nwall {w} s\nrun complete\n"),
        )
        .unwrap();
    }
    std::fs::write(host.join("n"), "0\n").unwrap();
    let rec = json(&run(d, &["record", "Runfile", "--repo", "proj", "--json"]));
    let commit = rec["record"]["commit"].as_str().unwrap().to_owned();
    let (code, p) = verify_json(d, &[&commit]);
    assert_eq!(code, Some(0), "{p}");
    let (code, all) = verify_json(d, &[&commit, "--verify", "--repeat", "3"]);
    assert_eq!(code, Some(0), "{all}");
    let replays = all["replays"].as_array().unwrap();
    assert_eq!(replays.len(), 3);
    for (r, want) in replays.iter().zip(["1.76e-2", "1.06e-2", "2.73e-2"]) {
        assert_eq!(r["verification"]["reference"], p["record"]["run_id"], "{r}");
        let g = item(r, "gflops");
        assert_eq!(g["status"], "within-tolerance", "{g}");
        assert_eq!(
            format!("{:.2e}", g["statistics"]["max_rel"].as_f64().unwrap()),
            want
        );
        assert_eq!(g["nondeterministic"], true);
        assert_eq!(item(r, "wall")["counted"], false);
        assert_eq!(item(r, "@stdout")["status"], "within-tolerance");
        assert_eq!(item(r, "--regex")["status"], "identical");
    }
    assert_eq!(item(&replays[0], "wall")["status"], "differs");
    let s = &all["summary"];
    assert_eq!(s["verdict"], "reproduced-within-tolerance");
    // The metrics' values, and the stdout's bytes (the lines-mode OUTPUT is
    // within tolerance, but its content changes), differ between repeats.
    assert_eq!(
        s["nondeterministic"],
        serde_json::json!(["@stdout", "gflops", "wall"])
    );
    let m = |name: &str, index: Option<u64>| {
        s["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == name && m["index"].as_u64() == index)
            .unwrap()
            .clone()
    };
    let g0 = m("gflops", Some(0));
    assert_eq!(format!("{:.1}", g0["mean"].as_f64().unwrap()), "803.1");
    assert_eq!(format!("{:.3}", g0["stdev"].as_f64().unwrap()), "15.997");
    assert_eq!(format!("{:.2e}", g0["cov"].as_f64().unwrap()), "1.99e-2");
    assert_eq!(
        (g0["min"].as_f64(), g0["max"].as_f64()),
        (Some(790.2), Some(821.0))
    );
    let g1 = m("gflops", Some(1));
    assert_eq!(format!("{:.3}", g1["mean"].as_f64().unwrap()), "804.633");
    assert_eq!(format!("{:.3}", g1["stdev"].as_f64().unwrap()), "5.816");
    assert_eq!(format!("{:.2e}", g1["cov"].as_f64().unwrap()), "7.23e-3");
    let w = m("wall", None);
    assert_eq!(format!("{:.2}", w["mean"].as_f64().unwrap()), "12.49");
    assert_eq!(format!("{:.3}", w["stdev"].as_f64().unwrap()), "0.406");
    assert_eq!(format!("{:.2e}", w["cov"].as_f64().unwrap()), "3.25e-2");
}

/// Random output with `--repeat 5` is nondeterministic; a replay that
/// fails an EXPECT is failed and never becomes the reference.
#[test]
fn nondeterminism_and_failed_replays() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    project(d);
    write_runfile(
        d,
        "METRIC r --regex=\"^r=([0-9]+)$\" --rtol=1\nOUTPUT --compare=numbers --rtol=1 @stdout\n\
         CMD [\"/bin/sh\", \"-c\", \"echo r=1$(tr -dc 0-9 < /dev/urandom | head -c 6)\"]\n",
    );
    let rec = json(&run(d, &["record", "Runfile", "--repo", "proj", "--json"]));
    let commit = rec["record"]["commit"].as_str().unwrap().to_owned();
    // The first repeat has no reference: the worst verdict is unverifiable.
    let (code, all) = verify_json(d, &[&commit, "--verify", "--repeat", "5"]);
    assert_eq!(code, Some(2), "{all}");
    assert_eq!(
        all["summary"]["nondeterministic"],
        serde_json::json!(["@stdout", "r"]),
        "{all}"
    );
    assert_eq!(all["summary"]["metrics"][0]["n"], 5);
    // The first repeat had no reference; the others compared with it.
    let replays = all["replays"].as_array().unwrap();
    assert_eq!(replays[0]["verification"]["verdict"], "unverifiable");
    assert_eq!(
        replays[1]["verification"]["reference"],
        replays[0]["record"]["run_id"]
    );
    assert_eq!(all["summary"]["verdict"], "unverifiable");

    // EXPECT: the first replay fails it (exit 1, failed), the second meets
    // it but has no reference (the failed one is not), the third compares
    // with the second.
    let host = d.join("host");
    std::fs::create_dir_all(&host).unwrap();
    write_runfile(
        d,
        &format!(
            "BIND {}:/mnt/0\nEXPECT --regex=\"^done$\"\nCMD [\"cat\", \"/mnt/0/say\"]\n",
            host.display()
        ),
    );
    std::fs::write(host.join("say"), "oops\n").unwrap();
    let rec = json(&run(d, &["record", "Runfile", "--repo", "proj", "--json"]));
    let commit = rec["record"]["commit"].as_str().unwrap().to_owned();
    let (code, first) = verify_json(d, &[&commit, "--verify"]);
    assert_eq!(code, Some(1), "{first}");
    assert_eq!(first["verification"]["verdict"], "failed");
    assert_eq!(item(&first, "--regex")["reason"], "no line matches");
    std::fs::write(host.join("say"), "done\n").unwrap();
    let (code, second) = verify_json(d, &[&commit, "--verify"]);
    assert_eq!(code, Some(2), "{second}");
    assert!(second["verification"]["reference"].is_null(), "{second}");
    let (code, third) = verify_json(d, &[&commit, "--verify"]);
    assert_eq!(code, Some(0), "{third}");
    assert_eq!(
        third["verification"]["reference"],
        second["record"]["run_id"]
    );
    assert_eq!(third["verification"]["verdict"], "reproduced");
    // --against names the reference.
    let first_id = first["record"]["run_id"].as_str().unwrap();
    let (code, against) = verify_json(d, &[&commit, "--verify", "--against", first_id]);
    assert_eq!(code, Some(1), "{against}");
    assert_eq!(against["verification"]["reference"], first_id);
}

/// `dsi why`: replays of two commits differ first in the Runfile (with its
/// diff); two replays of one commit whose systems differ (one row carries
/// another kernel release, as a record from another machine would) differ
/// first in the system.
#[test]
fn why_names_the_first_differing_layer() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    project(d);
    write_runfile(d, "CMD [\"echo\", \"one\"]\n");
    let a = json(&run(d, &["--json", "run", "Runfile", "--repo", "proj"]));
    write_runfile(d, "CMD [\"echo\", \"two\"]\n");
    let b = json(&run(d, &["--json", "run", "Runfile", "--repo", "proj"]));
    let (ida, idb) = (
        a["record"]["run_id"].as_str().unwrap().to_owned(),
        b["record"]["run_id"].as_str().unwrap().to_owned(),
    );
    let w = json(&run(d, &["--json", "why", &ida, &idb]));
    assert_eq!(w["first"], "runfile", "{w}");
    let diff = w["layers"][0]["diff"].as_str().unwrap();
    assert!(
        diff.contains("-CMD [\"echo\", \"one\"]\n+CMD [\"echo\", \"two\"]"),
        "{diff}"
    );
    let text = stdout(&run(d, &["why", &ida, &idb]));
    assert!(
        text.contains("first difference: runfile (the likely cause)"),
        "{text}"
    );
    assert!(text.contains("outputs      differs"), "{text}");

    // Two replays of one commit, the second "made elsewhere".
    let commit = b["record"]["commit"].as_str().unwrap().to_owned();
    let c = json(&run(d, &["--json", "replay", &commit]));
    let idc = c["record"]["run_id"].as_str().unwrap().to_owned();
    let db = rusqlite::Connection::open(d.join("dsi.db")).unwrap();
    let k: String = db
        .query_row(
            "SELECT kernel_info FROM runs WHERE run_id = ?1",
            [&idc],
            |r| r.get(0),
        )
        .unwrap();
    let mut k: serde_json::Value = serde_json::from_str(&k).unwrap();
    k["sections"]["kernel"]["release"] = "9.9.9-elsewhere".into();
    db.execute(
        "UPDATE runs SET kernel_info = ?1 WHERE run_id = ?2",
        rusqlite::params![k.to_string(), idc],
    )
    .unwrap();
    let w = json(&run(d, &["--json", "why", &idb, &idc]));
    assert_eq!(w["first"], "system", "{w}");
    let system = w["layers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == "system")
        .unwrap();
    assert!(
        system["details"].as_array().unwrap().iter().any(|d| d
            .as_str()
            .unwrap()
            .starts_with("kernel.release: ")
            && d.as_str().unwrap().ends_with(" → 9.9.9-elsewhere")),
        "{system}"
    );
}

#[test]
fn an_older_commit_replays_its_own_runfile() {
    let dir = tempfile::tempdir().unwrap();
    project(dir.path());
    write_runfile(dir.path(), "CMD [\"echo\", \"version one\"]\n");
    json(&run(
        dir.path(),
        &["record", "Runfile", "--repo", "proj", "--json"],
    ));
    let old = git(&dir.path().join("proj"), &["rev-parse", "HEAD"])
        .trim()
        .to_owned();
    write_runfile(dir.path(), "CMD [\"echo\", \"version two\"]\n");
    json(&run(
        dir.path(),
        &["record", "Runfile", "--repo", "proj", "--json"],
    ));

    let out = run(dir.path(), &["replay", &old]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("version one\n"),
        "{}",
        stdout(&out)
    );
    // From the repository directly, too, saying what it does under -v.
    let out = run(dir.path(), &["-v", "replay", &old, "--repo", "proj"]);
    assert!(
        stdout(&out).starts_with("version one\n"),
        "{}",
        stdout(&out)
    );
    let said = stderr(&out);
    for line in [
        "image ",
        "step 1/1 (line 2): ch-run ",
        "step 1/1 exited 0 after ",
        "stored replay ",
    ] {
        assert!(
            said.lines().any(|l| l.starts_with(line)),
            "-v says {line:?}: {said}"
        );
    }
    assert!(
        said.contains(": verified (V0 ") && said.contains("; in storage)"),
        "{said}"
    );
    assert!(said.contains(" -- echo version one"), "{said}");
}

#[test]
fn an_absent_image_is_pulled_by_digest_and_a_down_registry_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let storage = dir.path().join("storage");
    let image = required_env("DSI_TEST_IMAGE");
    std::fs::write(
        dir.path().join("Runfile"),
        format!("FROM {image}\nCMD [\"cat\", \"/opt/app/VERSION\"]\n"),
    )
    .unwrap();
    let st = storage.display().to_string();
    let out = run(dir.path(), &["run", "Runfile", "--ch-storage", &st]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("v1\n"));

    // The registry is down (nothing listens there) and the image is not in storage.
    let empty = dir.path().join("empty-storage");
    let down = image.replacen(&required_env("DSI_TEST_REGISTRY"), "127.0.0.1:1", 1);
    std::fs::write(
        dir.path().join("down.Runfile"),
        format!("FROM {down}\nCMD [\"true\"]\n"),
    )
    .unwrap();
    let rows_before = store_counts(dir.path());
    let out = run(
        dir.path(),
        &[
            "run",
            "down.Runfile",
            "--ch-storage",
            &empty.display().to_string(),
        ],
    );
    assert_eq!(out.status.code(), Some(69), "{}", stderr(&out));
    // One line saying what is wrong, one saying what to do; no traceback.
    let err = stderr(&out);
    assert_eq!(
        err.lines().next().unwrap(),
        format!(
            "down.Runfile:1:1: error: E402: registry 127.0.0.1:1 is unreachable (connection refused); image not in storage: {down}"
        ),
        "{err}"
    );
    assert_eq!(err.lines().count(), 2, "{err}");
    assert!(
        err.lines()
            .nth(1)
            .unwrap()
            .trim_start()
            .starts_with("hint: "),
        "{err}"
    );
    assert_eq!(store_counts(dir.path()), rows_before, "nothing recorded");
}

fn edit_kernel_release(dir: &Path, run_id: &str) {
    let c = rusqlite::Connection::open(dir.join("dsi.db")).unwrap();
    let info: String = c
        .query_row(
            "SELECT kernel_info FROM runs WHERE run_id = ?1",
            [run_id],
            |r| r.get(0),
        )
        .unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&info).unwrap();
    v["sections"]["kernel"]["release"] = serde_json::json!("2.6.32-recorded-elsewhere");
    c.execute(
        "UPDATE runs SET kernel_info = ?1 WHERE run_id = ?2",
        [v.to_string(), run_id.to_owned()],
    )
    .unwrap();
}

#[test]
fn a_different_kernel_warns_under_warn_and_refuses_under_strict() {
    let dir = tempfile::tempdir().unwrap();
    write_runfile(dir.path(), "CMD [\"true\"]\n");
    let v = json(&run(dir.path(), &["record", "Runfile", "--json"]));
    let (id, commit) = (
        v["record"]["run_id"].as_str().unwrap(),
        v["record"]["commit"].as_str().unwrap(),
    );
    edit_kernel_release(dir.path(), id);

    let out = run(dir.path(), &["replay", commit, "--check", "warn"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("warning: system differs from the recorded one: kernel release differs: recorded \"2.6.32-recorded-elsewhere\""),
        "{}",
        stderr(&out)
    );
    let (rows, _) = store_counts(dir.path());
    let out = run(dir.path(), &["replay", commit, "--check", "strict"]);
    assert_eq!(out.status.code(), Some(65), "{}", stderr(&out));
    assert!(
        stderr(&out).starts_with("error: this system differs from the recorded one (check=strict): kernel release differs"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        store_counts(dir.path()).0,
        rows,
        "a refused replay records nothing"
    );

    // dsi diff shows it, grouped by section, and as JSON.
    let out = run(dir.path(), &["diff", id]);
    assert!(
        stdout(&out).contains("kernel (1 changed, 0 added, 0 removed)"),
        "{}",
        stdout(&out)
    );
    assert!(
        stdout(&out).contains("~ release: 2.6.32-recorded-elsewhere → "),
        "{}",
        stdout(&out)
    );
    let v = json(&run(dir.path(), &["diff", id, "--now", "--json"]));
    assert_eq!(v["identical"], false);
    assert_eq!(v["sections"]["kernel"]["changed"][0]["key"], "release");
}

#[test]
fn a_failing_step_is_recorded_and_its_status_is_the_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    write_runfile(dir.path(), "RUN exit 3\nCMD [\"echo\", \"never\"]\n");
    let out = run(dir.path(), &["run", "Runfile"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(
        stderr(&out).trim(),
        "Runfile:2:1: error: E501: step 1/2 exited with status 3"
    );
    assert!(!stdout(&out).contains("never"));
    let c = rusqlite::Connection::open(dir.path().join("dsi.db")).unwrap();
    let (code, steps): (i64, String) = c
        .query_row(
            "SELECT exit_code, steps FROM runs WHERE function = 'producer'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(code, 3);
    let steps: serde_json::Value = serde_json::from_str(&steps).unwrap();
    assert_eq!(steps.as_array().unwrap().len(), 1, "CMD did not run");
}

#[test]
fn bad_replay_input_is_named() {
    let dir = tempfile::tempdir().unwrap();
    write_runfile(dir.path(), "CMD [\"true\"]\n");
    let v = json(&run(dir.path(), &["record", "Runfile", "--json"]));
    let commit = v["record"]["commit"].as_str().unwrap();

    let out = run(dir.path(), &["replay", "ZZZZZZ"]);
    assert_eq!(out.status.code(), Some(65));
    assert_eq!(
        stderr(&out),
        "error: run or commit 'ZZZZZZ' not found\nhint: `dsi list` shows the runs and `dsi log` the commits\n"
    );

    let out = run(dir.path(), &["replay", "0123abcd"]);
    assert_eq!(out.status.code(), Some(65));
    assert!(
        stderr(&out).starts_with("error: run or commit '0123abcd' not found"),
        "{}",
        stderr(&out)
    );

    let out = run(dir.path(), &["replay", "not-a-hash"]);
    assert_eq!(out.status.code(), Some(65));
    assert!(
        stderr(&out).contains("'not-a-hash' is not a run id or a commit"),
        "{}",
        stderr(&out)
    );

    // A commit without a Runfile (the repository's first commit).
    let proj = project(dir.path());
    let first = git(&proj, &["rev-parse", "HEAD"]).trim().to_owned();
    let out = run(dir.path(), &["replay", "0123abcd", "--repo", "proj"]);
    assert_eq!(out.status.code(), Some(65));
    assert_eq!(
        stderr(&out).trim(),
        "error: commit '0123abcd' not found in the repository"
    );
    let out = run(dir.path(), &["replay", &first, "--repo", "proj"]);
    assert_eq!(out.status.code(), Some(65));
    assert_eq!(
        stderr(&out).trim(),
        format!("error: commit {first} has no Runfile")
    );

    // A corrupt stored tarball: detected before anything runs.
    let (rows, _) = store_counts(dir.path());
    let c = rusqlite::Connection::open(dir.path().join("dsi.db")).unwrap();
    c.execute(
        "UPDATE _dsi_blob_chunks SET data = zeroblob(length(data))",
        [],
    )
    .unwrap();
    drop(c);
    let out = run(dir.path(), &["replay", commit]);
    assert_eq!(out.status.code(), Some(74), "{}", stderr(&out));
    assert!(
        stderr(&out).starts_with("error: corrupt data: stored repository of run"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("failed verification"),
        "{}",
        stderr(&out)
    );
    assert_eq!(store_counts(dir.path()).0, rows);
}

#[test]
fn an_ambiguous_commit_prefix_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let proj = project(dir.path());
    // Enough objects that some 4-digit prefix is shared by a commit and another object.
    std::fs::write(
        proj.join("Runfile"),
        format!("{}\nCMD [\"true\"]\n", local_from()),
    )
    .unwrap();
    git(&proj, &["add", "Runfile"]);
    git(&proj, &["commit", "-q", "-m", "runfile"]);
    let mut prefix = None;
    for round in 0..20 {
        for i in 0..50 {
            git(
                &proj,
                &[
                    "commit",
                    "-q",
                    "--allow-empty",
                    "-m",
                    &format!("filler {round} {i}"),
                ],
            );
        }
        let commits = git(&proj, &["rev-list", "--all"]);
        let objects = git(
            &proj,
            &[
                "cat-file",
                "--batch-all-objects",
                "--batch-check=%(objectname)",
            ],
        );
        let all: Vec<&str> = objects.lines().collect();
        prefix = commits.lines().find_map(|c| {
            let p = &c[..4];
            (all.iter().filter(|o| o.starts_with(p)).count() > 1).then(|| p.to_owned())
        });
        if prefix.is_some() {
            break;
        }
    }
    let prefix = prefix.expect("a shared 4-digit prefix among ~1000 commits");
    let out = run(dir.path(), &["replay", &prefix, "--repo", "proj"]);
    assert_eq!(out.status.code(), Some(65), "{}", stderr(&out));
    assert_eq!(
        stderr(&out).trim(),
        format!("error: commit '{prefix}' is ambiguous; give more digits")
    );
}

#[test]
fn passenv_records_scheduler_values_and_never_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_runfile(
        d,
        "PASSENV AWS_* SLURM_*\nCMD [\"/bin/sh\", \"-c\", \"echo job=$SLURM_JOB_ID\"]\n",
    );
    let secret = "canary-secret-7e3a";
    let real_secret = required_env("AWS_SECRET_ACCESS_KEY");
    for driver in ["sqlite", "parquet", "s3"] {
        let store = match driver {
            "sqlite" => d.join("dsi.db").display().to_string(),
            "parquet" => d.join("dsi-data").display().to_string(),
            _ => format!(
                "s3://{}/passenv-{}",
                required_env("DSI_TEST_S3_BUCKET"),
                d.file_name().unwrap().to_string_lossy().replace('.', "")
            ),
        };
        let out = dsi(d)
            .args([
                "--driver", driver, "--store", &store, "--json", "run", "Runfile",
            ])
            .env("AWS_CANARY_SECRET", secret)
            .env("SLURM_JOB_ID", "4242")
            .output()
            .unwrap();
        let v = json(&out);
        let passed = &v["record"]["passenv"];
        let value = |name: &str| {
            passed
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["name"] == name)
                .map(|p| p["value"].clone())
        };
        assert_eq!(
            value("SLURM_JOB_ID"),
            Some(serde_json::json!("4242")),
            "{driver}: {passed}"
        );
        assert_eq!(
            value("AWS_CANARY_SECRET"),
            Some(serde_json::Value::Null),
            "{driver}: {passed}"
        );
        assert_eq!(
            value("AWS_SECRET_ACCESS_KEY"),
            Some(serde_json::Value::Null),
            "{driver}: {passed}"
        );
        let shown = dsi(d)
            .args([
                "--driver",
                driver,
                "--store",
                &store,
                "show",
                v["record"]["run_id"].as_str().unwrap(),
            ])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&shown.stdout);
        assert!(
            text.contains("AWS_CANARY_SECRET (passed, value not recorded)"),
            "{text}"
        );
        assert!(text.contains("SLURM_JOB_ID=4242"), "{text}");
        assert!(!text.contains(secret), "{text}");
    }
    // Neither value is anywhere in any store: the SQLite files, the dataset.
    let mut stack = vec![d.to_path_buf()];
    while let Some(p) = stack.pop() {
        for e in std::fs::read_dir(&p).unwrap().flatten() {
            let path = e.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                for s in [secret, real_secret.as_str()] {
                    assert!(
                        !bytes.windows(s.len()).any(|w| w == s.as_bytes()),
                        "a secret in {}",
                        path.display()
                    );
                }
            }
        }
    }
    // And none in the bucket's objects.
    let bucket = required_env("DSI_TEST_S3_BUCKET");
    let ds = dsi_driver_s3::S3Builder::from_env(&format!(
        "s3://{bucket}/passenv-{}",
        d.file_name().unwrap().to_string_lossy().replace('.', "")
    ))
    .unwrap()
    .open()
    .unwrap();
    let store = ds.store().clone();
    let prefix = ds.prefix().clone();
    let found = ds.block_on(async move {
        use dsi_driver_parquet::object_store::ObjectStoreExt as _;
        let mut found = 0;
        let mut dirs = vec![prefix];
        let mut objects = 0;
        while let Some(dir) = dirs.pop() {
            let page = store.list_with_delimiter(Some(&dir)).await.unwrap();
            dirs.extend(page.common_prefixes);
            for o in page.objects {
                objects += 1;
                let bytes = store.get(&o.location).await.unwrap().bytes().await.unwrap();
                for s in [secret, real_secret.as_str()] {
                    if bytes.windows(s.len()).any(|w| w == s.as_bytes()) {
                        found += 1;
                    }
                }
            }
        }
        assert!(objects > 0, "the bucket holds the record");
        found
    });
    assert_eq!(found, 0, "a secret in the bucket");
}

#[test]
fn a_dry_run_says_what_would_run_and_runs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    project(d);
    write_runfile(
        d,
        &format!(
            "{OUTPUTS}PASSENV SLURM_*\nBIND /tmp:/mnt/1\nCMD [\"/bin/sh\", \"-c\", \"touch /out/ran\"]\n"
        ),
    );
    let v = json(&run(d, &["record", "Runfile", "--repo", "proj", "--json"]));
    let id = v["record"]["run_id"].as_str().unwrap();
    let before = store_counts(d);
    let out = dsi(d)
        .args(["replay", id, "--dry-run"])
        .env("SLURM_JOB_ID", "9")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for want in [
        "dry run: nothing is run and nothing is stored",
        &format!("record    {id} by "),
        "image     dsi-test",
        "verified by digest before running (tree digest, V5)",
        "bind      <context>/out -> /out (read-write, from the commit)",
        "bind      /tmp -> /mnt/1 (read-write, host path)",
        "passenv   SLURM_* (now: SLURM_JOB_ID)",
        "output    out/result.txt",
        "step 1/1 (line ",
        "ch-run --storage=",
    ] {
        assert!(text.contains(want), "{want}: {text}");
    }
    assert_eq!(store_counts(d), before, "nothing stored");
    let plan = json(&run(d, &["replay", id, "--dry-run", "--json"]));
    assert_eq!(plan["binds"][1]["host_path"], "/tmp");
    assert_eq!(plan["steps"][0]["argv"][0], "ch-run");

    // A record made by someone else announces its binds before it runs.
    let c = rusqlite::Connection::open(d.join("dsi.db")).unwrap();
    c.execute(
        "UPDATE runs SET moniker = 'alice', hostname = 'elsewhere'",
        [],
    )
    .unwrap();
    drop(c);
    let out = run(d, &["replay", id]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(
            "warning: record by alice@elsewhere: this replay mounts host paths read-write:"
        ),
        "{err}"
    );
    assert!(
        err.contains("warning:   bind /tmp -> /mnt/1 (read-write)"),
        "{err}"
    );
}

/// `n` copies of `dsi ARGS` started at once in `dir` (the shared store);
/// each one's output, in start order.
fn at_once(dir: &Path, n: usize, args: &[&str]) -> Vec<std::process::Output> {
    let children: Vec<std::process::Child> = (0..n)
        .map(|_| {
            let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("dsi"));
            c.current_dir(dir)
                .args(args)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            hermetic(&mut c, dir);
            c.spawn().expect("dsi starts")
        })
        .collect();
    children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect()
}

/// Every one succeeded and reported nothing but what it did.
fn all_succeed(what: &str, outs: &[std::process::Output]) {
    for (i, o) in outs.iter().enumerate() {
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{what}: process {i} failed: {err}");
        assert!(
            !err.contains("error") && !err.contains("warning"),
            "{what}: process {i} reported: {err}"
        );
    }
}

/// The start of a job array: 32 processes at once on one storage and one
/// store, for one registry image that is absent (never pulled, then
/// deleted but in the build cache), present, and tampered with. Every
/// process succeeds; the tampered image is repaired once.
#[test]
fn thirty_two_processes_share_one_image_and_one_store() {
    const N: usize = 32;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let storage = d.join("storage");
    let st = storage.display().to_string();
    let image = required_env("DSI_TEST_IMAGE");
    std::fs::write(
        d.join("Runfile"),
        format!("FROM {image}\nCMD [\"cat\", \"/opt/app/VERSION\"]\n"),
    )
    .unwrap();
    let record = ["record", "Runfile", "--ch-storage", &st, "--again"];

    // Absent: never pulled. Every record pulls or waits for the pull.
    let t = std::time::Instant::now();
    let outs = at_once(d, N, &record);
    all_succeed("record, image absent", &outs);
    eprintln!("{N} records from an absent image: {:?}", t.elapsed());
    let (rows, _) = store_counts(d);
    assert_eq!(rows, N as u64, "one record per process");
    let v = json(&run(d, &["--json", "list", "-n", "1"]));
    let commit = v["runs"][0]["commit"].as_str().unwrap().to_owned();
    let replay = ["replay", &commit, "--ch-storage", &st, "-v"];

    // Absent again: deleted, still in the build cache (`ch-image undelete`).
    // ch-image runs under the system Python (the one with its modules).
    let ch = std::process::Command::new("/usr/bin/python3")
        .arg("/usr/bin/ch-image")
        .arg(format!("--storage={st}"))
        .args(["delete", &image])
        .output()
        .expect("ch-image runs");
    assert!(
        ch.status.success(),
        "{}",
        String::from_utf8_lossy(&ch.stderr)
    );
    let t = std::time::Instant::now();
    let outs = at_once(d, N, &replay);
    all_succeed("replay, image deleted", &outs);
    eprintln!("{N} replays from a deleted image: {:?}", t.elapsed());
    let undeleted = outs
        .iter()
        .filter(|o| String::from_utf8_lossy(&o.stderr).contains("; restored from the build cache)"))
        .count();
    assert_eq!(undeleted, 1, "one process restores the image");

    // Present: records and replays at once.
    let t = std::time::Instant::now();
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| at_once(d, N, &record));
        let b = s.spawn(|| at_once(d, N, &replay));
        (a.join().unwrap(), b.join().unwrap())
    });
    all_succeed("record, image present", &a);
    all_succeed("replay, image present", &b);
    eprintln!(
        "{N} records and {N} replays of a present image: {:?}",
        t.elapsed()
    );

    // Tampered: a file of the unpacked image edited.
    let for_path = image.replace('/', "%").replace(':', "+");
    let version = storage.join("img").join(&for_path).join("opt/app/VERSION");
    std::fs::write(&version, "tampered\n").unwrap();
    let t = std::time::Instant::now();
    let outs = at_once(d, N, &replay);
    all_succeed("replay, image tampered", &outs);
    eprintln!("{N} replays of a tampered image: {:?}", t.elapsed());
    let repaired = outs
        .iter()
        .filter(|o| {
            String::from_utf8_lossy(&o.stderr).contains("; repaired: it failed verification")
        })
        .count();
    assert_eq!(repaired, 1, "one process repairs the image");
    for o in &outs {
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(
            out.starts_with("v1\nreplayed commit "),
            "every replay ran the original: {out}"
        );
    }
    assert_eq!(std::fs::read_to_string(&version).unwrap(), "v1\n");
    let fsck = json(&run(d, &["--json", "fsck"]));
    assert_eq!(fsck["problems"], serde_json::json!([]), "{fsck}");
}

/// Without `ch-run` on `PATH` a replay stops before anything runs, with
/// its own code (E420, not E501 "a step failed") and a hint; nothing is
/// stored.
#[test]
fn a_missing_ch_run_is_e420_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_runfile(d, "CMD [\"true\"]\n");
    let v = json(&run(d, &["--json", "record", "Runfile"]));
    let commit = v["record"]["commit"].as_str().unwrap().to_owned();
    let before = store_counts(d);
    // A PATH with git (the image checks use it) and nothing else.
    let bin = d.join("bin");
    std::fs::create_dir(&bin).unwrap();
    std::os::unix::fs::symlink("/usr/bin/git", bin.join("git")).unwrap();
    let out = dsi(d)
        .env("PATH", &bin)
        .env("DSI_CH_IMAGE", "/usr/bin/ch-image")
        .args([
            "replay",
            &commit[..8],
            "--ch-storage",
            &build_storage(),
            "--offline",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(69), "{}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(
        err.lines().next().unwrap(),
        "Runfile:2:1: error: E420: program not found on PATH: ch-run",
        "{err}"
    );
    assert!(err.contains("hint: install Charliecloud"), "{err}");
    assert_eq!(store_counts(d), before, "nothing stored");
}

/// `dsi runfile pin PATH`'s FROM line.
fn pin_path(dir: &Path, path: &str) -> String {
    let out = run(dir, &["runfile", "pin", path]);
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out).trim().to_owned()
}

#[test]
fn path_images_record_and_replay_from_a_fresh_mount_point_and_a_changed_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    project(dir.path());
    let sqfs = dir.path().join("tiny.sqfs");
    std::fs::copy(required_env("DSI_TEST_SQUASHFS"), &sqfs).unwrap();
    let image_dir = dir.path().join("tiny.dir");
    let cp = std::process::Command::new("cp")
        .arg("-a")
        .arg(required_env("DSI_TEST_IMAGE_DIR"))
        .arg(&image_dir)
        .status()
        .unwrap();
    assert!(cp.success());
    let from_sqfs = pin_path(dir.path(), &sqfs.display().to_string());
    assert!(
        from_sqfs.starts_with("FROM --tree=rftree1+sha256:")
            && from_sqfs.contains(&format!("{}@sha256:", sqfs.display())),
        "{from_sqfs}"
    );
    // The SquashFS tree is the directory's tree.
    let from_dir = pin_path(dir.path(), &image_dir.display().to_string());
    let tree = |from: &str| from.split_whitespace().nth(1).unwrap().to_owned();
    assert_eq!(tree(&from_sqfs), tree(&from_dir));

    let body = "WORKDIR /opt/app\nCMD [\"cat\", \"VERSION\"]\n";
    for (from, kind) in [(&from_sqfs, "squashfs"), (&from_dir, "directory")] {
        std::fs::write(dir.path().join("Runfile"), format!("{from}\n{body}")).unwrap();
        let out = run(dir.path(), &["run", "Runfile", "--repo", "proj", "--json"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let v = json(&out);
        let rec = &v["record"];
        assert_eq!(rec["outcome"]["exit_code"], 0, "{v}");
        assert_eq!(rec["image"]["kind"], kind, "{v}");
        assert!(rec["image"]["storage"].is_null(), "{v}");
        let argv: Vec<String> = rec["steps"][0]["argv"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_owned())
            .collect();
        let image_arg = if kind == "squashfs" {
            &sqfs
        } else {
            &image_dir
        };
        let real = std::fs::canonicalize(image_arg).unwrap();
        assert!(argv.contains(&real.display().to_string()), "{argv:?}");
        assert!(!argv.iter().any(|a| a.starts_with("--storage")), "{argv:?}");
        let mounts: Vec<&String> = argv.iter().filter(|a| a.starts_with("--mount=")).collect();
        if kind == "squashfs" {
            assert_eq!(rec["image"]["checks"], serde_json::json!(["V6", "V5"]));
            assert!(
                rec["image"]["file_digest"]
                    .as_str()
                    .unwrap()
                    .starts_with("sha256:")
            );
            // A fresh mount point of its own, not /var/tmp/$USER.ch/mnt, gone afterwards.
            assert_eq!(mounts.len(), 1, "{argv:?}");
            let m = Path::new(mounts[0].trim_start_matches("--mount="));
            assert!(!m.starts_with("/var/tmp"), "{}", m.display());
            assert!(!m.exists(), "{} was left behind", m.display());
        } else {
            assert_eq!(rec["image"]["checks"], serde_json::json!(["V5"]));
            assert!(mounts.is_empty(), "{argv:?}");
        }
    }

    // One byte appended to the SquashFS file: refused before anything runs.
    std::fs::write(dir.path().join("Runfile"), format!("{from_sqfs}\n{body}")).unwrap();
    let runs_before = store_counts(dir.path());
    std::fs::OpenOptions::new()
        .append(true)
        .open(&sqfs)
        .and_then(|mut f| std::io::Write::write_all(&mut f, b"x"))
        .unwrap();
    let out = run(dir.path(), &["run", "Runfile", "--repo", "proj"]);
    assert_eq!(out.status.code(), Some(69), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("error: E413: file digest mismatch for ")
            && err.contains("tiny.sqfs: have sha256:"),
        "{err}"
    );
    assert!(
        !stdout(&out).contains("v1"),
        "nothing ran: {}",
        stdout(&out)
    );
    assert_eq!(store_counts(dir.path()), runs_before);

    // A directory image after chmod: E404.
    std::fs::write(dir.path().join("Runfile"), format!("{from_dir}\n{body}")).unwrap();
    std::process::Command::new("chmod")
        .arg("700")
        .arg(image_dir.join("opt/app"))
        .status()
        .unwrap();
    let out = run(dir.path(), &["run", "Runfile", "--repo", "proj"]);
    assert_eq!(out.status.code(), Some(69), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("error: E404: tree digest mismatch for "),
        "{}",
        stderr(&out)
    );
    assert_eq!(store_counts(dir.path()), runs_before);
}

/// `salloc SALLOC_ARGS dsi DSI_ARGS` in `dir`, hermetic, on the test cluster.
fn in_allocation(dir: &Path, salloc: &[&str], args: &[&str]) -> std::process::Output {
    let mut c = std::process::Command::new("salloc");
    c.args(salloc)
        .arg(assert_cmd::cargo::cargo_bin("dsi"))
        .args(args)
        .current_dir(dir);
    hermetic(&mut c, dir);
    c.env("SLURM_CONF", required_env("SLURM_CONF"));
    c.env_remove("SLURM_JOB_ID");
    c.output().expect("salloc runs")
}

/// The MPI test image pinned by its file digest: `FROM P@sha256:H`.
fn mpi_from() -> String {
    let p = required_env("DSI_TEST_MPI_SQUASHFS");
    let out = std::process::Command::new("sha256sum")
        .arg(&p)
        .output()
        .unwrap();
    let hex = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    format!("FROM {p}@sha256:{hex}")
}

/// The steps of the newest replay in `dir`'s store.
fn replay_steps(dir: &Path) -> serde_json::Value {
    let c = rusqlite::Connection::open(dir.join("dsi.db")).unwrap();
    let steps: String = c
        .query_row(
            "SELECT steps FROM runs WHERE function = 'producer' ORDER BY recorded_at DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    serde_json::from_str(&steps).unwrap()
}

#[test]
fn mpi_under_slurm_through_launch_l1_l2_exit_status_e416_e417() {
    let dir = tempfile::tempdir().unwrap();
    project(dir.path());
    let from = mpi_from();
    let write = |body: &str| {
        std::fs::write(dir.path().join("Runfile"), format!("{from}\n{body}")).unwrap();
    };
    // L-1: two ranks in one user namespace (--join), PMIx through srun.
    write(
        "LAUNCH --join [\"srun\", \"-n\", \"2\", \"--mpi=pmix\"]\nPASSENV SLURM_* PMIX_*\nCMD [\"/opt/hello/mpi_hello\"]\n",
    );
    let out = in_allocation(
        dir.path(),
        &["-n", "2"],
        &["run", "Runfile", "--repo", "proj"],
    );
    let text = stdout(&out);
    assert!(out.status.success(), "{}\n{text}", stderr(&out));
    // Rank counts checked: singletons would print 0/1 and exit 0.
    assert!(text.contains("rank 0/2 on "), "{text}");
    assert!(text.contains("rank 1/2 on "), "{text}");
    assert_eq!(text.matches(" allreduce 2\n").count(), 2, "{text}");
    let steps = replay_steps(dir.path());
    let l = &steps[0]["launcher"];
    assert_eq!(
        l["argv"],
        serde_json::json!(["srun", "-n", "2", "--mpi=pmix"]),
        "{steps}"
    );
    assert!(l["path"].as_str().unwrap().ends_with("/srun"), "{l}");
    assert!(l["version"].as_str().unwrap().starts_with("slurm"), "{l}");
    assert_eq!(l["tasks"], 2);
    assert_eq!(l["join"], true);
    assert!(
        l["slurm_job_id"].as_str().is_some_and(|j| !j.is_empty()),
        "{l}"
    );
    let argv = steps[0]["argv"].as_array().unwrap();
    assert_eq!(argv[..5], ["srun", "-n", "2", "--mpi=pmix", "ch-run"]);
    assert_eq!(argv[5], "--join");

    // The same record replayed with --slurm from outside any allocation:
    // dsi runs itself under salloc, and the step is a step of that job.
    let commit = git(&dir.path().join("proj"), &["rev-parse", "HEAD"])
        .trim()
        .to_owned();
    let mut c = dsi(dir.path());
    c.env("SLURM_CONF", required_env("SLURM_CONF"))
        .env_remove("SLURM_JOB_ID");
    let out = c
        .args(["replay", &commit[..12], "--slurm", "--", "-n", "2"])
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(out.status.success(), "{}\n{text}", stderr(&out));
    assert!(
        text.contains("rank 0/2 on ") && text.contains("rank 1/2 on "),
        "{text}"
    );
    let steps = replay_steps(dir.path());
    let job = steps[0]["launcher"]["slurm_job_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(
        Some(job.as_str()),
        l["slurm_job_id"].as_str(),
        "a job of its own"
    );

    // The replay's row carries the job id and the scheduler context.
    let (row_job, info) = newest_replay_scheduler(dir.path());
    assert_eq!(row_job.map(|j| j.to_string()), Some(job.clone()));
    assert_eq!(info["schema"], "dsi.scheduler_info/1");
    let sections = &info["sections"];
    assert_eq!(sections["job"]["job_id"].to_string(), job, "{info}");
    assert_eq!(
        sections["job"]["cluster"],
        required_env("DSI_TEST_SLURM_CLUSTER")
    );
    assert!(sections["job"]["submit_time"].is_string(), "{info}");
    assert_eq!(sections["scheduler"]["partition"], "debug", "{info}");
    assert_eq!(sections["scheduler"]["num_tasks"], 2, "{info}");
    assert!(
        sections["scheduler"]["version"]
            .as_str()
            .unwrap()
            .starts_with("slurm"),
        "{info}"
    );
    let plugins = sections["mpi"]["srun_plugins"].as_array().unwrap();
    assert!(plugins.contains(&serde_json::json!("pmix")), "{info}");
    assert_eq!(
        sections["mpi"]["pmix_versions"],
        serde_json::json!(["pmix_v4"])
    );
    assert_eq!(sections["step"], "unavailable: not in a job step");
    let out = run(dir.path(), &["show", &commit[..12]]);
    let shown = stdout(&out);
    assert!(shown.contains("system.slurm_job_id"), "{shown}");
    assert!(shown.contains("scheduler.partition"), "{shown}");
    assert!(shown.contains("mpi.srun_plugins"), "{shown}");

    // L-2: a launched RUN, then LAUNCH [] and an unlaunched CMD.
    write(
        "PASSENV SLURM_*\nLAUNCH [\"srun\", \"-n\", \"2\"]\nRUN [\"sh\", \"-c\", \"echo task $SLURM_PROCID\"]\nLAUNCH []\nCMD [\"sh\", \"-c\", \"echo ntasks=$SLURM_NTASKS procid=${SLURM_PROCID:-unset}\"]\n",
    );
    let out = in_allocation(
        dir.path(),
        &["-n", "2"],
        &["run", "Runfile", "--repo", "proj"],
    );
    let text = stdout(&out);
    assert!(out.status.success(), "{}\n{text}", stderr(&out));
    assert!(
        text.contains("task 0\n") && text.contains("task 1\n"),
        "{text}"
    );
    assert!(text.contains("ntasks=2 procid=unset\n"), "{text}");
    let steps = replay_steps(dir.path());
    assert_eq!(steps[0]["argv"][0], "srun");
    assert_eq!(steps[1]["argv"][0], "ch-run");
    assert!(steps[1]["launcher"].is_null(), "{steps}");

    // Replays of L-2 on one and on two virtual nodes: `dsi diff` names the
    // scheduler difference, and nothing in the kernel or MPI sections.
    // (Not of L-1: the test cluster's two virtual nodes share one host's
    // /dev/shm, where two one-rank `--join` peer groups with the same tag
    // race on one semaphore, and the surviving rank waits for its peer in
    // MPI_Init for ever.)
    let commit = git(&dir.path().join("proj"), &["rev-parse", "HEAD"])
        .trim()
        .to_owned();
    let mut on_nodes = Vec::new();
    for nodes in ["1", "2"] {
        let mut c = dsi(dir.path());
        c.env("SLURM_CONF", required_env("SLURM_CONF"))
            .env_remove("SLURM_JOB_ID");
        let out = c
            .args([
                "replay",
                &commit[..12],
                "--slurm",
                "--",
                "-N",
                nodes,
                "-n",
                "2",
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        on_nodes.push(newest_replay_id(dir.path()));
    }
    let out = run(dir.path(), &["diff", &on_nodes[0], &on_nodes[1]]);
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(text.contains("\nscheduler ("), "{text}");
    assert!(text.contains("  ~ num_nodes: 1 → 2"), "{text}");
    assert!(!text.contains("\nmpi ("), "{text}");
    let out = run(dir.path(), &["--json", "diff", &on_nodes[0], &on_nodes[1]]);
    let d: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(d["blocking"], serde_json::json!([]), "{d}");
    assert!(d["sections"]["scheduler"].is_object(), "{d}");
    assert!(
        d["sections"].get("job").is_none(),
        "job identity is not compared: {d}"
    );

    // A rank that exits non-zero: srun's status (the highest task status).
    write(
        "LAUNCH --join [\"srun\", \"-n\", \"2\", \"--mpi=pmix\"]\nPASSENV SLURM_* PMIX_*\nCMD [\"/opt/hello/mpi_hello\", \"3\", \"1\"]\n",
    );
    let out = in_allocation(
        dir.path(),
        &["-n", "2"],
        &["run", "Runfile", "--repo", "proj"],
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("Runfile:4:1: error: E501: step 1/1 exited with status 3"),
        "{}",
        stderr(&out)
    );

    // E417 outside an allocation, E416 for a launcher that is not installed.
    write(
        "LAUNCH --join [\"srun\", \"-n\", \"2\", \"--mpi=pmix\"]\nPASSENV SLURM_* PMIX_*\nCMD [\"/opt/hello/mpi_hello\"]\n",
    );
    let mut c = dsi(dir.path());
    c.env("SLURM_CONF", required_env("SLURM_CONF"))
        .env_remove("SLURM_JOB_ID");
    let out = c
        .args(["run", "Runfile", "--repo", "proj"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(69), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(
            "Runfile:2:1: error: E417: srun needs a Slurm allocation (SLURM_JOB_ID is not set)"
        ) && err.contains("hint: run inside salloc/sbatch, or use dsi replay --slurm"),
        "{err}"
    );
    assert!(!stdout(&out).contains("rank"), "nothing ran");
    write("PASSENV SLURM_*\nLAUNCH [\"mpiexec.hydra\"]\nCMD [\"true\"]\n");
    let out = run(dir.path(), &["run", "Runfile", "--repo", "proj"]);
    assert_eq!(out.status.code(), Some(69), "{}", stderr(&out));
    assert!(
        stderr(&out)
            .contains("Runfile:3:1: error: E416: launcher not found on PATH: mpiexec.hydra"),
        "{}",
        stderr(&out)
    );

    // The --join leftover (in this test, since /dev/shm is shared by every
    // job on the machine). A step whose peer group never completes (ch-run
    // expects two peers, one starts) leaves its files: dsi removes them.
    write("LAUNCH --join [\"srun\", \"-n\", \"1\"]\nCMD [\"true\"]\n");
    let before = join_files();
    let mut c = std::process::Command::new("salloc");
    c.args(["-n", "1"])
        .arg(assert_cmd::cargo::cargo_bin("dsi"))
        .args(["run", "Runfile", "--repo", "proj"])
        .current_dir(dir.path());
    hermetic(&mut c, dir.path());
    c.env("SLURM_CONF", required_env("SLURM_CONF"))
        .env_remove("SLURM_JOB_ID")
        .env("OMPI_COMM_WORLD_LOCAL_SIZE", "2");
    let out = c.output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("step 1/1 left ch-run --join files; removed: /dev/shm/"),
        "{}",
        stderr(&out)
    );
    assert_eq!(join_files(), before, "dsi's own leftovers are gone");

    // A stale group with a step id as tag (as a killed job leaves it):
    // pre-flight refuses, naming the files, before anything runs.
    let tag = format!("9{}", std::process::id());
    let stale = [
        format!("/dev/shm/ch-run_shm-{tag}"),
        format!("/dev/shm/sem.ch-run_sem-{tag}"),
    ];
    for f in &stale {
        std::fs::write(f, [0u8; 8]).unwrap();
    }
    let out = in_allocation(
        dir.path(),
        &["-n", "1"],
        &["run", "Runfile", "--repo", "proj"],
    );
    for f in &stale {
        std::fs::remove_file(f).unwrap();
    }
    assert_eq!(out.status.code(), Some(69), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "Runfile:2:1: error: E421: ch-run --join leftovers would make a step of this job wait and fail: {} {}",
            stale[0], stale[1]
        )) && err.contains(&format!("hint: no process uses them; remove them: rm {} {}", stale[0], stale[1])),
        "{err}"
    );
}

/// This user's `ch-run --join` files in `/dev/shm`.
fn join_files() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir("/dev/shm")
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("ch-run_shm-") || n.starts_with("sem.ch-run_sem-"))
        .collect();
    v.sort();
    v
}

/// The run id of the newest replay in `dir`'s store.
fn newest_replay_id(dir: &Path) -> String {
    let c = rusqlite::Connection::open(dir.join("dsi.db")).unwrap();
    c.query_row(
        "SELECT run_id FROM runs WHERE function = 'producer' ORDER BY recorded_at DESC LIMIT 1",
        [],
        |r| r.get(0),
    )
    .unwrap()
}

/// `slurm_job_id` and `scheduler_info` of the newest replay in `dir`'s store.
fn newest_replay_scheduler(dir: &Path) -> (Option<i64>, serde_json::Value) {
    let c = rusqlite::Connection::open(dir.join("dsi.db")).unwrap();
    let (job, info): (Option<i64>, String) = c
        .query_row(
            "SELECT slurm_job_id, scheduler_info FROM runs WHERE function = 'producer' \
             ORDER BY recorded_at DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    (job, serde_json::from_str(&info).unwrap())
}

/// INPUT (RUNFILE-1.1 §5.1): the record keeps the host file's digest; a
/// replay after it changed is refused before anything runs (E419, exit 69),
/// and one after it was removed too (E418).
#[test]
fn inputs_are_pinned_by_their_digests() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    project(d);
    let input = d.join("case7.yaml");
    std::fs::write(&input, "n: 7\n").unwrap();
    write_runfile(d, &format!("INPUT {}\nCMD [\"true\"]\n", input.display()));
    let rec = json(&run(d, &["--json", "record", "Runfile", "--repo", "proj"]));
    let commit = rec["record"]["commit"].as_str().unwrap().to_owned();
    let digest = rec["record"]["inputs"][0]["digest"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(digest.starts_with("sha256:"), "{rec}");
    let ok = json(&run(d, &["--json", "replay", &commit]));
    assert_eq!(ok["record"]["inputs"][0]["digest"], digest.as_str());

    std::fs::write(&input, "n: 8\n").unwrap();
    let out = run(d, &["replay", &commit]);
    assert_eq!(out.status.code(), Some(69), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "Runfile:2:1: error: E419: INPUT changed: {}: recorded {digest}, have sha256:",
            input.display()
        )),
        "{err}"
    );
    std::fs::remove_file(&input).unwrap();
    let out = run(d, &["replay", &commit]);
    assert_eq!(out.status.code(), Some(69), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!(
            "error: E418: INPUT not found: {}",
            input.display()
        )),
        "{}",
        stderr(&out)
    );
}
