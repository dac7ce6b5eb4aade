//! The command line's surface: golden `--help` texts and error lines (update
//! them with `DSI_UPDATE_GOLDEN=1 cargo test -p dsi-cli --test surface`),
//! shell completions, no terminal decoration when output is not a
//! terminal, and the documentation's examples run verbatim (the README's
//! quick start and `toml` examples, docs/TUTORIAL.md).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{bash_complete, dsi};

fn golden_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

/// Compares `actual` with the golden file, or rewrites it when asked.
fn golden(name: &str, actual: &str) {
    let path = golden_path(name);
    if std::env::var_os("DSI_UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "{} is missing: run with DSI_UPDATE_GOLDEN=1",
            path.display()
        )
    });
    assert_eq!(
        actual, expected,
        "{name} changed; if intended, run with DSI_UPDATE_GOLDEN=1"
    );
}

#[test]
fn help_texts_are_stable() {
    let dir = tempfile::tempdir().unwrap();
    for (name, args) in [
        ("help.txt", vec!["--help"]),
        ("help-record.txt", vec!["record", "--help"]),
        ("help-replay.txt", vec!["replay", "--help"]),
        ("help-list.txt", vec!["list", "--help"]),
        ("help-export.txt", vec!["export", "--help"]),
    ] {
        let out = dsi(dir.path()).args(&args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        golden(name, &String::from_utf8(out.stdout).unwrap());
    }
}

#[test]
fn error_lines_are_stable() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("bad.Runfile"),
        "FROM 127.0.0.1:5000/rf-base:v1\nCMD true\n",
    )
    .unwrap();
    std::fs::write(d.join("ragged.csv"), "a,b\n1\n").unwrap();
    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("missing store", vec!["--store", "typo.db", "list"]),
        ("unknown driver", vec!["--driver", "postgres", "list"]),
        ("unknown plugin", vec!["collect", "--print", "nope"]),
        (
            "option no driver takes",
            vec!["--option", "colour=red", "list"],
        ),
        ("malformed option", vec!["--option", "novalue", "list"]),
        (
            "missing Runfile",
            vec!["runfile", "check", "missing.Runfile"],
        ),
        ("invalid Runfile", vec!["runfile", "check", "bad.Runfile"]),
        ("a store to read", vec!["collect", "hostname"]),
        ("unknown run", vec!["show", "ZZZZ"]),
        ("unknown run, as JSON", vec!["--json", "show", "ZZZZ"]),
        ("not a run id", vec!["show", "no-such-run!"]),
        (
            "ragged CSV",
            vec!["ingest", "csv", "ragged.csv", "--table", "t"],
        ),
        ("store is a directory", vec!["--store", ".", "list"]),
        ("bad --since", vec!["list", "--since", "last tuesday"]),
        ("write SQL refused", vec!["query", "CREATE TABLE x (a)"]),
    ];
    let mut text = String::new();
    for (what, args) in cases {
        let out = dsi(d).args(&args).output().unwrap();
        let err = String::from_utf8(out.stderr)
            .unwrap()
            .replace(&d.display().to_string(), "$DIR");
        text.push_str(&format!(
            "## {what}: dsi {}\nexit {}\n{err}\n",
            args.join(" "),
            out.status.code().unwrap_or(-1)
        ));
    }
    golden("errors.txt", &text);
}

#[test]
fn completions_are_registered_and_offer_commands_and_drivers() {
    let dir = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = dsi(dir.path())
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success(), "{shell}");
        let script = String::from_utf8(out.stdout).unwrap();
        assert!(script.contains("COMPLETE"), "{shell}: {script}");
    }
    let commands = bash_complete(dir.path(), &["dsi", "rep"], &[]);
    assert_eq!(commands.trim(), "replay", "{commands}");
    let drivers = bash_complete(dir.path(), &["dsi", "--driver", ""], &[]);
    for d in ["sqlite", "parquet", "s3"] {
        assert!(drivers.lines().any(|l| l == d), "{d}: {drivers}");
    }
}

#[test]
fn no_colour_or_progress_when_output_is_not_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("t.csv"), "a\n1\n").unwrap();
    for args in [
        vec!["-vv", "ingest", "csv", "t.csv", "--table", "t"],
        vec!["list"],
        vec!["drivers"],
        vec!["-v", "inspect"],
    ] {
        let out = dsi(dir.path()).args(&args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        for (name, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
            assert!(
                !bytes.contains(&0x1b),
                "{args:?}: escape sequence on {name}"
            );
            assert!(
                !bytes.contains(&b'\r'),
                "{args:?}: carriage return (a progress bar) on {name}"
            );
        }
    }
    // -vv shows what happened, as plain lines.
    let out = dsi(dir.path())
        .args(["-vv", "ingest", "csv", "t.csv", "--table", "u"])
        .output()
        .unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("opened SQLite store"), "{err}");
    // -q silences warnings.
    let out = dsi(dir.path()).args(["-q", "list"]).output().unwrap();
    assert!(out.stderr.is_empty());
}

#[test]
fn progress_shows_on_a_terminal() {
    // `script` gives dsi a pseudo-terminal, as an interactive shell would.
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("a,b,c\n");
    for i in 0..200_000 {
        csv.push_str(&format!("{i},{}.5,x{i}\n", i / 2));
    }
    std::fs::write(dir.path().join("big.csv"), csv).unwrap();
    let bin = assert_cmd::cargo::cargo_bin("dsi");
    let out = Command::new("script")
        .args([
            "-qfec",
            &format!("'{}' ingest csv big.csv --table big", bin.display()),
            "/dev/null",
        ])
        .current_dir(dir.path())
        .env("USER", "root")
        .env_remove("NO_COLOR")
        .output()
        .expect("script (util-linux) runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("reading CSV"),
        "a progress line for the running step: {text:?}"
    );
    assert!(text.contains("\r\x1b[2K"), "redrawn in place: {text:?}");
    assert!(text.contains("stored 200000 rows in table big"), "{text:?}");
}

#[test]
fn a_closed_stdout_ends_dsi_quietly_with_the_sigpipe_status() {
    // `dsi … | head`: the reader is gone before dsi writes. dsi ignores
    // SIGPIPE (a socket closed by a server must give an error, not kill it),
    // so the write fails and dsi ends with 128 + SIGPIPE and no message.
    let dir = tempfile::tempdir().unwrap();
    assert!(
        dsi(dir.path())
            .args(["collect", "hostname"])
            .output()
            .unwrap()
            .status
            .success()
    );
    for args in [
        &["plugins"][..],
        &["completions", "bash"],
        &["list"],
        &["--json", "list"],
        &["--json", "drivers"],
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_dsi"));
        common::hermetic(&mut c, dir.path());
        let out = c
            .args(args)
            .current_dir(dir.path())
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(141), "{args:?}: {out:?}");
        assert_eq!(String::from_utf8_lossy(&out.stderr), "", "{args:?}");
    }
}

/// The JSON Schemas of the scripting interface, checked in under
/// `docs/schemas/` (regenerate with `DSI_UPDATE_GOLDEN=1`).
#[test]
fn json_schemas_are_checked_in() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/schemas");
    let update = std::env::var_os("DSI_UPDATE_GOLDEN").is_some();
    let docs = dsi_cli::schema::all();
    let mut names: Vec<String> = Vec::new();
    for d in &docs {
        let name = format!("{}.schema.json", d.name);
        let text = serde_json::to_string_pretty(&d.schema).unwrap() + "\n";
        let path = dir.join(&name);
        if update {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &text).unwrap();
        } else {
            let have = std::fs::read_to_string(&path).unwrap_or_else(|_| {
                panic!(
                    "{} is missing: run with DSI_UPDATE_GOLDEN=1",
                    path.display()
                )
            });
            assert_eq!(
                text, have,
                "{name} changed; if intended, run with DSI_UPDATE_GOLDEN=1"
            );
        }
        names.push(name);
    }
    // No stale schema is left behind.
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    names.sort();
    assert_eq!(
        files, names,
        "docs/schemas/ holds exactly the current schemas"
    );
}

/// Where each setting comes from: a flag beats the environment, which
/// beats `./dsi.toml`, which beats the user's file
/// (`$XDG_CONFIG_HOME/dsi/config.toml`), which beats the default; options
/// merge key by key (flag, then project file, then user file); a bad file
/// or value is named.
#[test]
fn configuration_precedence() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let xdg = d.join("xdg");
    std::fs::create_dir_all(xdg.join("dsi")).unwrap();
    let user = xdg.join("dsi/config.toml");
    std::fs::write(
        &user,
        "driver = \"parquet\"\nstore = \"user-data\"\n[options]\nbusy_timeout_ms = 7\nregion = \"user\"\n",
    )
    .unwrap();
    let config = |args: &[&str], env: &[(&str, &str)]| -> serde_json::Value {
        let mut c = dsi(d);
        c.env("XDG_CONFIG_HOME", &xdg)
            .args(["--json", "config"])
            .args(args);
        for (k, v) in env {
            c.env(k, v);
        }
        let out = c.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let store = |v: &serde_json::Value| {
        (
            v["stores"][0]["value"].as_str().unwrap().to_owned(),
            v["stores"][0]["source"].clone(),
        )
    };
    let user_source = serde_json::json!(user.display().to_string());

    // The user's file alone.
    let v = config(&[], &[]);
    assert_eq!(v["driver"]["value"], serde_json::json!(["parquet"]));
    assert_eq!(v["driver"]["source"], user_source);
    assert_eq!(store(&v), ("user-data".into(), user_source.clone()));
    assert_eq!(v["files"][0]["exists"], false, "{v}");
    assert_eq!(v["files"][1]["exists"], true, "{v}");

    // The project's file beats it, key by key.
    std::fs::write(
        d.join("dsi.toml"),
        "store = \"project-data\"\n[options]\nregion = \"project\"\n",
    )
    .unwrap();
    let project = serde_json::json!("dsi.toml");
    let v = config(&[], &[]);
    assert_eq!(
        v["driver"]["source"], user_source,
        "driver still the user's"
    );
    assert_eq!(store(&v), ("project-data".into(), project.clone()));
    let option = |v: &serde_json::Value, key: &str| {
        v["options"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["key"] == key)
            .map(|o| (o["value"].as_str().unwrap().to_owned(), o["source"].clone()))
    };
    assert_eq!(
        option(&v, "region"),
        Some(("project".into(), project.clone()))
    );
    assert_eq!(
        option(&v, "busy_timeout_ms"),
        Some(("7".into(), user_source.clone()))
    );

    // The environment beats both files.
    let env = [("DSI_DRIVER", "sqlite"), ("DSI_STORE", "env.db")];
    let v = config(&[], &env);
    assert_eq!(v["driver"]["value"], serde_json::json!(["sqlite"]));
    assert_eq!(
        v["driver"]["source"],
        serde_json::json!("environment (DSI_DRIVER)")
    );
    assert_eq!(
        store(&v),
        (
            "env.db".into(),
            serde_json::json!("environment (DSI_STORE)")
        )
    );

    // Flags beat everything.
    let v = config(
        &[
            "--driver",
            "sqlite",
            "--store",
            "flag.db",
            "--option",
            "region=flag",
        ],
        &env,
    );
    let flag = serde_json::json!("command line");
    assert_eq!(v["driver"]["source"], flag);
    assert_eq!(store(&v), ("flag.db".into(), flag.clone()));
    assert_eq!(option(&v, "region"), Some(("flag".into(), flag.clone())));
    assert_eq!(
        option(&v, "busy_timeout_ms"),
        Some(("7".into(), user_source.clone()))
    );

    // The human table says the same.
    let out = dsi(d)
        .env("XDG_CONFIG_HOME", &xdg)
        .args(["config", "--store", "flag.db"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("flag.db") && text.contains("command line"),
        "{text}"
    );

    // A broken file is named, with the key at fault.
    std::fs::write(d.join("dsi.toml"), "stor = \"typo.db\"\n").unwrap();
    let out = dsi(d)
        .env("XDG_CONFIG_HOME", &xdg)
        .args(["config"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(65));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("error: dsi.toml: unknown field `stor`"),
        "{err}"
    );
    std::fs::write(d.join("dsi.toml"), "[options]\nx = [1]\n").unwrap();
    let out = dsi(d)
        .env("XDG_CONFIG_HOME", &xdg)
        .args(["config"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("error: dsi.toml: options.x must be a string, number or boolean"),
        "{err}"
    );
}

/// A fenced block of a Markdown file.
struct Block {
    /// The info string (`sh`, `console`, `toml`, …).
    lang: String,
    /// The heading it is under.
    section: String,
    /// Its text.
    text: String,
}

/// The fenced blocks of a Markdown file, in order.
fn fenced_blocks(path: &Path) -> Vec<Block> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut blocks = Vec::new();
    let mut section = String::new();
    let mut open: Option<Block> = None;
    for line in text.lines() {
        match open.as_mut() {
            Some(_) if line == "```" => blocks.push(open.take().unwrap()),
            Some(b) => {
                b.text.push_str(line);
                b.text.push('\n');
            }
            None if line.starts_with("```") => {
                open = Some(Block {
                    lang: line.trim_start_matches('`').to_owned(),
                    section: section.clone(),
                    text: String::new(),
                });
            }
            None if line.starts_with('#') => {
                section = line.trim_start_matches('#').trim().to_owned()
            }
            None => {}
        }
    }
    blocks
}

/// Whether `line` matches `pattern`, in which `…` stands for any text.
fn matches(pattern: &str, line: &str) -> bool {
    let parts: Vec<&str> = pattern.split('…').collect();
    let (first, rest) = parts.split_first().unwrap();
    let Some(mut left) = line.strip_prefix(first) else {
        return false;
    };
    for (i, part) in rest.iter().enumerate() {
        if i + 1 == rest.len() {
            return left.ends_with(part);
        }
        match left.find(part) {
            Some(at) => left = &left[at + part.len()..],
            None => return false,
        }
    }
    left.is_empty()
}

/// Runs each `sh` block under `bash -e -o pipefail` in `dir`, in order, with
/// the tests' `dsi` first on `PATH` and the test image as `$IMAGE`, and
/// compares its stdout with the `console` block that follows it, if any.
fn run_doc_blocks(dir: &Path, doc: &str, blocks: &[&Block]) {
    let bin = assert_cmd::cargo::cargo_bin("dsi");
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let storage = common::build_storage();
    let mut i = 0;
    while i < blocks.len() {
        let b = blocks[i];
        i += 1;
        if b.lang != "sh" {
            continue;
        }
        let mut c = Command::new("bash");
        c.args(["-e", "-o", "pipefail", "-c", &b.text])
            .current_dir(dir)
            .env("PATH", &path)
            .env("IMAGE", "dsi-test");
        common::hermetic(&mut c, dir);
        c.env("CH_IMAGE_STORAGE", &storage);
        let out = c.output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{doc} ({}): the block failed:\n{}\n{stdout}{}",
            b.section,
            b.text,
            String::from_utf8_lossy(&out.stderr)
        );
        if let Some(expected) = blocks.get(i).filter(|e| e.lang == "console") {
            i += 1;
            let want: Vec<&str> = expected.text.lines().collect();
            let have: Vec<&str> = stdout.lines().collect();
            assert!(
                want.len() == have.len() && want.iter().zip(&have).all(|(w, h)| matches(w, h)),
                "{doc} ({}): the block printed\n{stdout}\nwhich does not match\n{}",
                b.section,
                expected.text
            );
        }
    }
}

#[test]
fn the_pattern_matcher_of_the_doc_tests() {
    assert!(matches(
        "recorded run … at commit …",
        "recorded run 01AB at commit 12cd"
    ));
    assert!(matches("a … b … c", "a x b y c"));
    assert!(matches("exact", "exact"));
    assert!(!matches("exact", "exactly"));
    assert!(!matches("a … c", "a b d"));
    assert!(!matches("… ms", "12 s"));
}

/// The README's quick start, verbatim.
#[test]
fn readme_quick_start_runs_verbatim() {
    let readme = Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    let blocks = fenced_blocks(&readme);
    let quick: Vec<&Block> = blocks
        .iter()
        .filter(|b| b.section == "Quick start")
        .collect();
    assert_eq!(
        quick.iter().map(|b| b.lang.as_str()).collect::<Vec<_>>(),
        ["sh", "console"],
        "the quick start is one sh block and its output"
    );
    let dir = tempfile::tempdir().unwrap();
    run_doc_blocks(dir.path(), "README.md", &quick);
}

/// Every block of docs/TUTORIAL.md, in order, in one directory.
#[test]
fn the_tutorial_runs_verbatim() {
    let tutorial = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/TUTORIAL.md");
    let blocks = fenced_blocks(&tutorial);
    assert!(blocks.iter().filter(|b| b.lang == "sh").count() >= 5);
    let dir = tempfile::tempdir().unwrap();
    run_doc_blocks(
        dir.path(),
        "docs/TUTORIAL.md",
        &blocks.iter().collect::<Vec<_>>(),
    );
}

/// Every `toml` example of the README is a valid `dsi.toml`: `dsi config`
/// loads it and shows its settings.
#[test]
fn readme_configuration_examples_load() {
    let readme = Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    let examples: Vec<Block> = fenced_blocks(&readme)
        .into_iter()
        .filter(|b| b.lang == "toml")
        .collect();
    assert!(!examples.is_empty());
    for b in examples {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("dsi.toml"), &b.text).unwrap();
        let out = dsi(dir.path()).arg("config").output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "README toml example ({}):\n{}\n{}",
            b.section,
            b.text,
            String::from_utf8_lossy(&out.stderr)
        );
        for line in b.text.lines().filter(|l| l.contains(" = ")) {
            let value = line.split(" = ").nth(1).unwrap().trim_matches('"');
            assert!(
                text.contains(value),
                "dsi config does not show {value}:\n{text}"
            );
        }
    }
}
