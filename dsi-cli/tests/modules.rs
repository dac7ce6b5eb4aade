//! `dsi plugins` and `dsi drivers`, human and JSON, and the registry
//! matching the enabled features.

use assert_cmd::Command;

fn dsi() -> Command {
    Command::cargo_bin("dsi").expect("the dsi binary is built")
}

fn json(args: &[&str]) -> serde_json::Value {
    let out = dsi().args(args).output().expect("run dsi");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("valid JSON")
}

fn names(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .expect("an array")
        .iter()
        .map(|m| m["name"].as_str().expect("a name").to_owned())
        .collect()
}

#[test]
fn registered_drivers_equal_the_enabled_features() {
    let v = json(&["drivers", "--json"]);
    let mut expected: Vec<String> = dsi_cli::ENABLED_DRIVERS
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    expected.sort();
    assert_eq!(names(&v), expected);
    assert!(names(&v).contains(&"sqlite".to_owned()));
    let sqlite = v
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "sqlite")
        .unwrap();
    assert_eq!(sqlite["function"], "back-end");
    assert_eq!(sqlite["options"][0]["name"], "store");
}

#[test]
fn plugins_include_the_environment_plugins() {
    let v = json(&["plugins", "--json"]);
    let n = names(&v);
    assert!(
        n.contains(&"hostname".to_owned()) && n.contains(&"system-kernel".to_owned()),
        "{n:?}"
    );
    let mut sorted = n.clone();
    sorted.sort();
    assert_eq!(n, sorted, "listing is sorted");
}

#[test]
fn human_listing_is_an_aligned_table() {
    let out = dsi().arg("drivers").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    assert!(
        header.starts_with("NAME ") && header.contains(" FUNCTION "),
        "{text}"
    );
    let col = header.find("FUNCTION").unwrap();
    let sqlite = lines
        .find(|l| l.starts_with("sqlite "))
        .expect("a sqlite line");
    assert_eq!(&sqlite[col..col + 8], "back-end", "aligned: {text}");
    assert!(
        text.lines().all(|l| l.chars().count() <= 160),
        "compact: {text}"
    );
}

#[test]
fn usage_errors_exit_2() {
    dsi().arg("no-such-command").assert().code(2);
    dsi().assert().code(2);
}

#[test]
fn help_lists_exit_codes() {
    let out = dsi().arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("65  invalid Runfile or input data"), "{text}");
}

#[test]
fn collect_stores_rows_in_the_default_sqlite_store() {
    let dir = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        dsi()
            .current_dir(dir.path())
            .arg("collect")
            .assert()
            .success();
    }
    let out = dsi()
        .current_dir(dir.path())
        .args(["collect", "hostname", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["tables"], serde_json::json!(["hostname"]));
    assert!(dir.path().join("dsi.db").exists());
}

#[test]
fn the_slurm_plugin_records_not_under_slurm_outside_a_job() {
    let mut c = dsi();
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("SLURM_") {
            c.env_remove(&k);
        }
    }
    let out = c
        .args(["--json", "collect", "--print", "slurm"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let row = &v["tables"][0]["rows"][0];
    assert_eq!(v["tables"][0]["name"], "slurm");
    assert!(row["slurm_job_id"].is_null(), "{row}");
    let info: serde_json::Value =
        serde_json::from_str(row["scheduler_info"].as_str().unwrap()).unwrap();
    assert_eq!(info["schema"], "dsi.scheduler_info/1");
    for section in ["job", "step", "scheduler"] {
        assert_eq!(
            info["sections"][section], "unavailable: not under Slurm",
            "{info}"
        );
    }
    assert!(info["sections"].get("mpi").is_some(), "{info}");
}

#[test]
fn collect_names_an_unknown_plugin() {
    let out = dsi().args(["collect", "--print", "nope"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.starts_with("error: unknown plugin 'nope'; available: charliecloud-consumer, charliecloud-producer, csv, git-info, hostname, slurm, system-kernel"),
        "{err}"
    );
    assert!(err.contains("hint: `dsi plugins` lists"), "{err}");
}
