//! `dsi record`, `checkout`, `push`, `pull` against real git (file remotes
//! and `git daemon` on loopback), real Charliecloud storage and the SQLite
//! store. Needs the test services (`cargo xtask ci` starts them).

mod common;

use std::path::Path;

use common::*;

#[test]
fn record_from_a_path_into_a_new_repository_and_check_it_out() {
    let dir = tempfile::tempdir().unwrap();
    let rf = write_runfile(dir.path(), "CMD [\"/opt/app/bin/hello\", \"a\"]\n");
    let v = json(&run(dir.path(), &["record", "Runfile", "--json"]));
    let r = &v["record"];
    let run_id = r["run_id"].as_str().unwrap().to_owned();
    let commit = r["commit"].as_str().unwrap().to_owned();
    assert_eq!(run_id.len(), 26);
    assert_eq!(commit.len(), 40);
    assert_eq!(r["image"]["reference"], "dsi-test");
    assert_eq!(r["image"]["checks"], serde_json::json!(["V0", "V5"]));
    assert_eq!(v["existing"], false);
    assert!(
        r["runfile"]["digest"]
            .as_str()
            .unwrap()
            .starts_with("runfile1+sha256:")
    );

    // A unique prefix is enough.
    let out = run(dir.path(), &["checkout", &run_id[..10], "co"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let co = dir.path().join("co");
    assert_eq!(git(&co, &["rev-parse", "HEAD"]).trim(), commit);
    assert_eq!(
        git(&co, &["log", "--format=%s"]).trim(),
        "dsi record Runfile"
    );
    assert_eq!(git(&co, &["status", "--porcelain"]), "");
    git(&co, &["fsck", "--strict"]);
    assert_eq!(
        std::fs::read(co.join("Runfile")).unwrap(),
        std::fs::read(rf).unwrap()
    );

    // A second checkout into the same (now non-empty) directory is refused.
    let out = run(dir.path(), &["checkout", &run_id, "co"]);
    assert_eq!(out.status.code(), Some(65));
    assert!(
        stderr(&out).starts_with("error: co exists and is not empty"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn record_into_an_existing_repository_and_refuse_a_dirty_one() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    std::fs::create_dir(&repo).unwrap();
    git(&repo, &["init", "-q"]);
    std::fs::write(repo.join("README"), "inputs live here\n").unwrap();
    git(&repo, &["add", "README"]);
    git(&repo, &["commit", "-q", "-m", "readme"]);
    let before = git(&repo, &["rev-parse", "HEAD"]).trim().to_owned();
    write_runfile(dir.path(), "CMD [\"true\"]\n");

    let v = json(&run(
        dir.path(),
        &[
            "record",
            "Runfile",
            "--repo",
            "repo",
            "--path",
            "runs/Runfile",
            "-m",
            "case 7",
            "--json",
        ],
    ));
    let commit = v["record"]["commit"].as_str().unwrap();
    assert_eq!(git(&repo, &["rev-parse", "HEAD"]).trim(), commit);
    assert_eq!(git(&repo, &["rev-parse", "HEAD^"]).trim(), before);
    assert_eq!(git(&repo, &["log", "-1", "--format=%s"]).trim(), "case 7");
    assert_eq!(v["record"]["runfile"]["path"], "runs/Runfile");

    // Recording the unchanged repository again makes no commit and no new
    // record: the existing one is returned.
    let args = [
        "record",
        "Runfile",
        "--repo",
        "repo",
        "--path",
        "runs/Runfile",
        "--json",
    ];
    let again = json(&run(dir.path(), &args));
    assert_eq!(again["existing"], true);
    assert_eq!(again["record"]["run_id"], v["record"]["run_id"]);
    assert_eq!(store_counts(dir.path()), (1, 1), "one row, one blob");
    let out = run(dir.path(), &args[..6]);
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("already recorded as run "),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // --again records it anew, and the tarball is stored once.
    let anew = json(&run(dir.path(), &[&args[..], &["--again"]].concat()));
    assert_eq!(anew["existing"], false);
    assert_eq!(anew["record"]["commit"], v["record"]["commit"]);
    assert_eq!(anew["record"]["repository"], v["record"]["repository"]);
    assert_eq!(store_counts(dir.path()), (2, 1), "two rows, one blob");

    std::fs::write(repo.join("README"), "edited\n").unwrap();
    let out = run(dir.path(), &["record", "Runfile", "--repo", "repo"]);
    assert_eq!(out.status.code(), Some(65));
    let err = stderr(&out);
    assert!(err.contains("has uncommitted changes (README)"), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert_eq!(store_counts(dir.path()), (2, 1), "store unchanged");
}

#[test]
fn record_from_file_and_git_daemon_remotes() {
    let dir = tempfile::tempdir().unwrap();
    let runfile = format!("{}\nCMD [\"true\"]\n", local_from());
    let bare = bare_remote(dir.path(), "runs", &[("Runfile", &runfile)]);
    let head = git(&bare, &["rev-parse", "HEAD"]).trim().to_owned();

    let url = format!("file://{}", bare.display());
    let v = json(&run(dir.path(), &["record", &url, "--json"]));
    assert_eq!(v["record"]["commit"], head.as_str());

    // The same history through git daemon: already recorded.
    let daemon = GitDaemon::start(dir.path());
    let v = json(&run(
        dir.path(),
        &["record", &format!("{}/runs.git", daemon.url), "--json"],
    ));
    assert_eq!(v["record"]["commit"], head.as_str());
    assert_eq!(v["existing"], true);
    assert_eq!(store_counts(dir.path()).0, 1);
}

#[test]
fn push_and_pull_through_a_remote() {
    let dir = tempfile::tempdir().unwrap();
    write_runfile(dir.path(), "CMD [\"true\"]\n");
    let v = json(&run(dir.path(), &["record", "Runfile", "--json"]));
    let (id, commit) = (
        v["record"]["run_id"].as_str().unwrap(),
        v["record"]["commit"].as_str().unwrap(),
    );
    let remote_root = dir.path().join("srv");
    std::fs::create_dir(&remote_root).unwrap();
    git(&remote_root, &["init", "-q", "--bare", "shared.git"]);
    let daemon = GitDaemon::start(&remote_root);
    let url = format!("{}/shared.git", daemon.url);

    let pushed = json(&run(dir.path(), &["push", "--remote", &url, id, "--json"]));
    assert_eq!(pushed["refs"], serde_json::json!(["refs/heads/main"]));
    assert_eq!(
        git(&remote_root.join("shared.git"), &["rev-parse", "main"]).trim(),
        commit
    );

    let pulled = json(&run(dir.path(), &["pull", "--remote", &url, "--json"]));
    assert_eq!(pulled["commit"], commit);
    let out = run(
        dir.path(),
        &[
            "checkout",
            pulled["run_id"].as_str().unwrap(),
            "from-remote",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        git(&dir.path().join("from-remote"), &["rev-parse", "HEAD"]).trim(),
        commit
    );
}

fn file_contains(path: &Path, needle: &str) -> bool {
    let bytes = std::fs::read(path).unwrap_or_default();
    bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[test]
fn credentials_in_a_remote_url_are_never_stored_or_shown() {
    let dir = tempfile::tempdir().unwrap();
    let runfile = format!("{}\nCMD [\"true\"]\n", local_from());
    let bare = bare_remote(dir.path(), "runs", &[("Runfile", &runfile)]);
    // Served over (dumb) HTTP, with user and password in the URL.
    git(&bare, &["update-server-info"]);
    let http = HttpServer::start(dir.path());
    let with_secret = http.url.replace("http://", "http://alice:pa55w0rd-XYZ@") + "/runs.git";
    let out = run(dir.path(), &["record", &with_secret, "--json"]);
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
    assert!(!all.contains("pa55w0rd-XYZ"), "{all}");
    assert!(out.status.success(), "{all}");
    // A push of another history to it: a static HTTP server takes no pushes,
    // and the refusal names the remote, not the secret.
    write_runfile(dir.path(), "CMD [\"echo\", \"other\"]\n");
    let other = json(&run(dir.path(), &["record", "Runfile", "--json"]));
    let out = run(
        dir.path(),
        &[
            "push",
            "--remote",
            &with_secret,
            other["record"]["run_id"].as_str().unwrap(),
        ],
    );
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
    assert!(!all.contains("pa55w0rd-XYZ"), "{all}");
    assert_eq!(out.status.code(), Some(69), "{all}");
    assert!(all.contains(&format!("{}/runs.git", http.url)), "{all}");

    // Unreachable, with credentials: one line, exit 69, no secret.
    let out = run(
        dir.path(),
        &["record", "https://alice:pa55w0rd-XYZ@127.0.0.1:1/x.git"],
    );
    assert_eq!(out.status.code(), Some(69));
    let err = stderr(&out);
    assert!(
        !err.contains("pa55w0rd-XYZ") && !err.contains("alice"),
        "{err}"
    );
    assert!(
        err.starts_with("error: ") && err.contains("https://127.0.0.1:1/x.git"),
        "{err}"
    );

    for f in ["dsi.db", "dsi.db-wal"] {
        assert!(
            !file_contains(&dir.path().join(f), "pa55w0rd-XYZ"),
            "secret in {f}"
        );
    }
}

#[test]
fn bad_input_gets_one_line_and_leaves_the_store_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    write_runfile(dir.path(), "CMD [\"true\"]\n");
    json(&run(dir.path(), &["record", "Runfile", "--json"]));
    let before = store_counts(dir.path());
    std::fs::write(
        dir.path().join("bad.Runfile"),
        "FROM 127.0.0.1:5000/rf-base:v1\nCMD true\n",
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("adir")).unwrap();
    let bare = bare_remote(dir.path(), "empty", &[("README", "no Runfile here\n")]);
    let absent = format!("FROM {}\nCMD [\"true\"]\n", required_env("DSI_TEST_IMAGE"));
    std::fs::write(dir.path().join("absent.Runfile"), absent).unwrap();
    let empty_storage = tempfile::tempdir().unwrap();

    let cases: Vec<(Vec<String>, i32, String)> = vec![
        (vec!["record".into(), "missing.Runfile".into()], 74, "error: cannot read Runfile missing.Runfile: No such file".into()),
        (vec!["record".into(), "adir".into()], 65, "error: adir is a directory, not a Runfile".into()),
        (
            vec!["record".into(), "bad.Runfile".into()],
            65,
            "bad.Runfile:1:6: error: E245: image reference must be pinned: '127.0.0.1:5000/rf-base:v1'".into(),
        ),
        (vec!["record".into(), "https://127.0.0.1:1/x.git".into()], 69, "error: ".into()),
        (
            vec!["record".into(), format!("file://{}", bare.display())],
            65,
            format!("error: remote file://{} has no Runfile at HEAD", bare.display()),
        ),
        (
            vec![
                "record".into(),
                "absent.Runfile".into(),
                "--offline".into(),
                "--ch-storage".into(),
                empty_storage.path().display().to_string(),
            ],
            69,
            format!("absent.Runfile:1:1: error: E401: image not in storage and offline: {}", required_env("DSI_TEST_IMAGE")),
        ),
    ];
    for (args, code, start) in cases {
        let out = dsi(dir.path()).args(&args).output().unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
        assert!(err.starts_with(&start), "{args:?}: {err}");
        assert_eq!(
            err.trim_end()
                .lines()
                .filter(|l| !l.starts_with("  hint: "))
                .count(),
            1,
            "{args:?}: one line (and a hint): {err}"
        );
        if err.contains("E245") {
            assert!(
                err.contains(
                    "\n  hint: `dsi runfile pin 127.0.0.1:5000/rf-base:v1` prints the FROM line"
                ),
                "{err}"
            );
        }
        assert!(out.stdout.is_empty(), "{args:?}");
        assert_eq!(
            store_counts(dir.path()),
            before,
            "{args:?}: store unchanged"
        );
    }
}

/// A Runfile recorded twice without `--repo`, a second apart: each time a
/// new repository with a new commit (its time differs), the same content.
/// The second record is the first one; an edited Runfile is new.
#[test]
fn the_same_runfile_recorded_twice_in_new_repositories_is_one_record() {
    let dir = tempfile::tempdir().unwrap();
    write_runfile(dir.path(), "CMD [\"true\"]\n");
    let first = json(&run(dir.path(), &["record", "Runfile", "--json"]));
    assert_eq!(first["existing"], false);
    assert_eq!(
        first["record"]["commit_tree"].as_str().map(str::len),
        Some(40)
    );
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let second = json(&run(dir.path(), &["record", "Runfile", "--json"]));
    assert_eq!(second["existing"], true, "{second}");
    assert_eq!(second["record"]["run_id"], first["record"]["run_id"]);
    assert_eq!(store_counts(dir.path()), (1, 1));

    let p = dir.path().join("Runfile");
    let text = std::fs::read_to_string(&p).unwrap();
    std::fs::write(&p, text.replace("\"true\"", "\"/bin/true\"")).unwrap();
    let third = json(&run(dir.path(), &["record", "Runfile", "--json"]));
    assert_eq!(third["existing"], false);
    assert_ne!(
        third["record"]["commit_tree"],
        first["record"]["commit_tree"]
    );
}

/// `dsi record` makes every pre-flight check of a replay that needs no
/// container — against the host (E406) and the unpacked image (E407,
/// E408) — and refuses a Runfile that could never replay.
#[test]
fn record_refuses_what_a_replay_would_refuse() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (body, want) in [
        (
            "BIND /tmp:/no/such/dir\nCMD [\"true\"]\n",
            "Runfile:2:1: error: E407: bind destination does not exist in the image: /no/such/dir",
        ),
        (
            "WORKDIR /no/such/dir\nCMD [\"true\"]\n",
            "Runfile:2:1: error: E408: WORKDIR /no/such/dir does not exist in the image",
        ),
        (
            "BIND data:/mnt/0\nCMD [\"true\"]\n",
            "Runfile:2:1: error: E406: bind source does not exist",
        ),
    ] {
        write_runfile(d, body);
        let out = run(d, &["record", "Runfile"]);
        let err = stderr(&out);
        assert!(!out.status.success(), "{body}: {err}");
        assert!(err.starts_with(want), "{body}: {err}");
        assert!(err.contains("hint: "), "{body}: {err}");
    }
}

/// `dsi runfile pin HOST/NAME:TAG` asks the registry: it prints the FROM
/// line with the digest the registry serves for the tag (the test image's
/// pinned digest), and a Runfile with that line records from the same
/// storage; an unknown tag is E402 naming it.
#[test]
fn a_registry_tag_is_pinned_by_the_digest_its_registry_serves() {
    let image = required_env("DSI_TEST_IMAGE");
    let (name, digest) = image.split_once('@').unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let storage = d.join("ch");
    let storage = storage.to_str().unwrap();
    let tag = format!("{name}:v1");
    let out = run(d, &["runfile", "pin", &tag, "--ch-storage", storage]);
    assert!(out.status.success(), "{}", stderr(&out));
    let from = String::from_utf8(out.stdout).unwrap();
    assert_eq!(from, format!("FROM {name}@{digest}\n"));
    let v = json(&run(
        d,
        &["--json", "runfile", "pin", &tag, "--ch-storage", storage],
    ));
    assert_eq!(v["digest"], digest);
    assert_eq!(v["from"], format!("FROM {name}@{digest}"));

    std::fs::write(d.join("Runfile"), format!("{from}CMD [\"true\"]\n")).unwrap();
    let out = run(d, &["record", "Runfile", "--ch-storage", storage]);
    assert!(out.status.success(), "{}", stderr(&out));

    let out = run(
        d,
        &[
            "runfile",
            "pin",
            &format!("{name}:no-such-tag"),
            "--ch-storage",
            storage,
        ],
    );
    assert_eq!(out.status.code(), Some(69), "{}", stderr(&out));
    assert!(
        stderr(&out).starts_with("error: E402: "),
        "{}",
        stderr(&out)
    );
}

/// <TAB> after a command that takes a run reference offers the run ids and
/// commits of the configured store (`DSI_STORE`) that start with what was
/// typed; an unreadable store offers nothing and prints nothing.
#[test]
fn completion_offers_the_stores_run_ids_and_commits() {
    let dir = tempfile::tempdir().unwrap();
    write_runfile(dir.path(), "CMD [\"true\"]\n");
    let rec = json(&run(dir.path(), &["record", "Runfile", "--json"]));
    let run_id = rec["record"]["run_id"].as_str().unwrap().to_owned();
    let commit = rec["record"]["commit"].as_str().unwrap().to_owned();
    let store = dir.path().join("dsi.db").display().to_string();
    let env = [("DSI_STORE", store.as_str())];
    for command in ["show", "replay", "export", "checkout"] {
        let offered = bash_complete(dir.path(), &["dsi", command, &run_id[..4]], &env);
        assert_eq!(
            offered.lines().collect::<Vec<_>>(),
            [run_id.as_str()],
            "{command}"
        );
        let offered = bash_complete(dir.path(), &["dsi", command, &commit[..6]], &env);
        assert_eq!(
            offered.lines().collect::<Vec<_>>(),
            [commit.as_str()],
            "{command}"
        );
    }
    let elsewhere = tempfile::tempdir().unwrap();
    let absent = elsewhere.path().join("none.db").display().to_string();
    let offered = bash_complete(
        elsewhere.path(),
        &["dsi", "show", "01"],
        &[("DSI_STORE", absent.as_str())],
    );
    assert_eq!(offered.trim(), "", "an absent store offers nothing");
    assert!(
        !elsewhere.path().join("none.db").exists(),
        "completion never creates a store"
    );
}

/// On a terminal, packing a repository, uploading its blob and pulling an
/// image show what runs on what, with bytes and a rate (`script` gives dsi
/// a pseudo-terminal).
#[test]
fn packing_uploading_and_pulling_show_bytes_and_rate_on_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let proj = dir.path().join("proj");
    std::fs::create_dir_all(&proj).unwrap();
    // 16 MiB that zstd cannot shrink (a working-tree file and its git
    // object: a pack of 32 MiB, uploaded in parts of 8 MiB).
    let mut data = vec![0u8; 16 << 20];
    let mut x = 0x9e37_79b9_7f4a_7c15_u64;
    for chunk in data.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
    }
    std::fs::write(proj.join("data.bin"), &data).unwrap();
    git(&proj, &["init", "-q"]);
    git(&proj, &["add", "."]);
    git(&proj, &["commit", "-q", "-m", "data"]);
    write_runfile(dir.path(), "CMD [\"true\"]\n");
    let bin = assert_cmd::cargo::cargo_bin("dsi");
    let mut script = std::process::Command::new("script");
    script
        .args([
            "-qfec",
            &format!(
                "'{}' --driver parquet --store ds record Runfile --repo proj",
                bin.display()
            ),
            "/dev/null",
        ])
        .current_dir(dir.path());
    hermetic(&mut script, dir.path());
    let out = script
        .env_remove("NO_COLOR")
        .output()
        .expect("script (util-linux) runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("recorded run "), "{text:?}");
    // `packing repository proj 12.00 MiB 80.00 MiB/s 0s`
    let shown = |what: &str| {
        text.split(['\r', '\n'])
            .filter(|l| l.contains(what))
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let packing = shown("packing repository");
    assert!(
        packing
            .iter()
            .any(|l| l.contains("packing repository proj ") && l.contains("MiB/s")),
        "packing shows the directory, bytes and rate: {packing:?}"
    );
    let uploading = shown("uploading blob");
    assert!(
        uploading
            .iter()
            .any(|l| l.contains("sha256:") && l.contains("B/32.0") && l.contains("B/s")),
        "uploading shows the blob, bytes of the total (`4.00 MiB/32.01 MiB`) and rate (a \
         local disk may take it all before a redraw): {uploading:?}"
    );
    assert!(
        !text.contains("dir=") && !text.contains("blob="),
        "values, not key=value: {text:?}"
    );

    // A pull into an empty storage shows what the download cache received.
    let storage = dir.path().join("empty-storage");
    std::fs::write(
        dir.path().join("Pull.Runfile"),
        format!("FROM {}\nCMD [\"true\"]\n", required_env("DSI_TEST_IMAGE")),
    )
    .unwrap();
    let mut script = std::process::Command::new("script");
    script
        .args([
            "-qfec",
            &format!(
                "'{}' record Pull.Runfile --ch-storage '{}'",
                bin.display(),
                storage.display()
            ),
            "/dev/null",
        ])
        .current_dir(dir.path());
    hermetic(&mut script, dir.path());
    let out = script.env_remove("NO_COLOR").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    let pulling: Vec<&str> = text
        .split(['\r', '\n'])
        .filter(|l| l.contains("ch-image pull "))
        .collect();
    assert!(
        pulling
            .iter()
            .any(|l| l.contains("dsi-test@sha256:") && l.contains("B/s")),
        "the pull shows the image, bytes and rate: {pulling:?}"
    );
}
