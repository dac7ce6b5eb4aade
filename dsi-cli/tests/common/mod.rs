//! Helpers shared by the CLI integration tests: the `dsi` command with the
//! test services' environment, Runfiles pinned to the test image, git
//! remotes on loopback.

#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// A variable the test services provide; panics (the test fails) without it.
pub(crate) fn required_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: this test needs the test services; run `cargo xtask ci`, \
             or `cargo xtask services start` and export the variables in target/dsi-services/env"
        )
    })
}

/// The ch-image storage holding the test image `dsi-test` (read-only use).
pub(crate) fn build_storage() -> String {
    required_env("DSI_TEST_BUILD_STORAGE")
}

/// `dsi` running in `dir`, hermetic: `HOME` and `XDG_CONFIG_HOME` point to
/// an empty directory (no user configuration is read), every `DSI_*` setting is
/// cleared, `USER` is set (ch-run needs it), `COLUMNS` is 100, and
/// `CH_IMAGE_STORAGE` is the test image's storage when the test services
/// run (tests that need the image call [`build_storage`], which fails
/// loudly without them).
pub(crate) fn dsi(dir: &Path) -> assert_cmd::Command {
    let mut c = assert_cmd::Command::cargo_bin("dsi").expect("dsi is built");
    c.current_dir(dir);
    hermetic(&mut c, dir);
    c
}

/// The hermetic environment of [`dsi`], for a `std::process::Command`.
pub(crate) fn hermetic<C: EnvCommand>(c: &mut C, _dir: &Path) {
    // An empty home of the tests' own (outside every test's directory).
    let home = Path::new(env!("CARGO_TARGET_TMPDIR")).join("hermetic-home");
    let _ = std::fs::create_dir_all(&home);
    // No dsi settings, and no Slurm context of the environment the tests
    // run in (the test cluster's SLURM_CONF included: the tests that use
    // Slurm set it themselves).
    for (k, _) in std::env::vars_os() {
        let k_text = k.to_string_lossy();
        if k_text.starts_with("DSI_") || k_text.starts_with("SLURM_") {
            c.remove_var(&k);
        }
    }
    c.set_var("HOME".as_ref(), home.as_os_str());
    c.set_var("XDG_CONFIG_HOME".as_ref(), home.join(".config").as_os_str());
    c.set_var("COLUMNS".as_ref(), "100".as_ref());
    // ch-image commits to its build cache with git: an identity, as a
    // user's ~/.gitconfig would give.
    for (k, v) in [
        ("GIT_AUTHOR_NAME", "dsi test"),
        ("GIT_AUTHOR_EMAIL", "test@dsi.invalid"),
        ("GIT_COMMITTER_NAME", "dsi test"),
        ("GIT_COMMITTER_EMAIL", "test@dsi.invalid"),
    ] {
        c.set_var(k.as_ref(), v.as_ref());
    }
    let user = std::env::var("USER").unwrap_or_else(|_| "root".into());
    c.set_var("USER".as_ref(), user.as_ref());
    if let Ok(s) = std::env::var("DSI_TEST_BUILD_STORAGE") {
        c.set_var("CH_IMAGE_STORAGE".as_ref(), s.as_ref());
    }
}

/// What [`hermetic`] needs of a command type.
pub(crate) trait EnvCommand {
    /// Sets a variable.
    fn set_var(&mut self, k: &std::ffi::OsStr, v: &std::ffi::OsStr);
    /// Removes a variable.
    fn remove_var(&mut self, k: &std::ffi::OsStr);
}

impl EnvCommand for assert_cmd::Command {
    fn set_var(&mut self, k: &std::ffi::OsStr, v: &std::ffi::OsStr) {
        self.env(k, v);
    }
    fn remove_var(&mut self, k: &std::ffi::OsStr) {
        self.env_remove(k);
    }
}

impl EnvCommand for Command {
    fn set_var(&mut self, k: &std::ffi::OsStr, v: &std::ffi::OsStr) {
        self.env(k, v);
    }
    fn remove_var(&mut self, k: &std::ffi::OsStr) {
        self.env_remove(k);
    }
}

/// Runs dsi and returns its output.
pub(crate) fn run(dir: &Path, args: &[&str]) -> Output {
    dsi(dir).args(args).output().expect("dsi runs")
}

/// Parses stdout as JSON, failing with stderr shown.
pub(crate) fn json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "dsi failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

/// stderr as text.
pub(crate) fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The FROM line pinning the local test image by its tree digest.
pub(crate) fn local_from() -> String {
    let out = run(
        Path::new("."),
        &[
            "runfile",
            "pin",
            "dsi-test",
            "--ch-storage",
            &build_storage(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Writes a Runfile (local test image) with `body` after FROM.
pub(crate) fn write_runfile(dir: &Path, body: &str) -> PathBuf {
    let p = dir.join("Runfile");
    std::fs::write(&p, format!("{}\n{body}", local_from())).unwrap();
    p
}

/// Runs git in `dir`, asserting success; returns stdout.
pub(crate) fn git(dir: &Path, args: &[&str]) -> String {
    let o = Command::new("git")
        .args([
            "-c",
            "user.name=Test",
            "-c",
            "user.email=test@example.org",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(
        o.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A bare repository `name.git` under `root` whose main branch holds `files`.
pub(crate) fn bare_remote(root: &Path, name: &str, files: &[(&str, &str)]) -> PathBuf {
    let work = root.join(format!("{name}-work"));
    std::fs::create_dir_all(&work).unwrap();
    git(&work, &["init", "-q"]);
    for (p, content) in files {
        std::fs::write(work.join(p), content).unwrap();
        git(&work, &["add", p]);
    }
    git(&work, &["commit", "-q", "--allow-empty", "-m", "initial"]);
    let bare = root.join(format!("{name}.git"));
    git(
        root,
        &[
            "clone",
            "-q",
            "--bare",
            work.to_str().unwrap(),
            bare.to_str().unwrap(),
        ],
    );
    bare
}

/// `git daemon` serving `base` on a free loopback port; killed on drop.
pub(crate) struct GitDaemon {
    child: Child,
    /// `git://127.0.0.1:PORT`
    pub(crate) url: String,
}

impl GitDaemon {
    /// Starts the daemon (push enabled) and waits until it accepts connections.
    pub(crate) fn start(base: &Path) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("git")
            .args([
                "daemon",
                "--reuseaddr",
                "--export-all",
                "--enable=receive-pack",
                "--listen=127.0.0.1",
            ])
            .arg(format!("--port={port}"))
            .arg(format!("--base-path={}", base.display()))
            .arg(base)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("git daemon starts");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        GitDaemon {
            child,
            url: format!("git://127.0.0.1:{port}"),
        }
    }
}

impl Drop for GitDaemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Rows and blobs in the SQLite store of `dir`.
pub(crate) fn store_counts(dir: &Path) -> (u64, u64) {
    use dsi_core::Driver;
    let db = dir.join("dsi.db");
    if !db.exists() {
        return (0, 0);
    }
    let ins = dsi_driver_sqlite::SqliteDriver::open(&db)
        .unwrap()
        .inspect()
        .unwrap();
    let rows = ins
        .tables
        .iter()
        .find(|t| t.name == "runs")
        .map_or(0, |t| t.rows);
    (rows, ins.blobs)
}

/// A static HTTP server (`python3 -m http.server`) on a free loopback port
/// serving `root` (git's dumb HTTP protocol); killed on drop.
pub(crate) struct HttpServer {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub(crate) url: String,
}

impl HttpServer {
    /// Starts the server and waits until it accepts connections.
    pub(crate) fn start(root: &Path) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("python3")
            .args([
                "-m",
                "http.server",
                "--bind",
                "127.0.0.1",
                &port.to_string(),
                "--directory",
            ])
            .arg(root)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 -m http.server starts");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        HttpServer {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Validates JSON documents against their checked-in schemas
/// (`docs/schemas/NAME.schema.json`) with Python's `jsonschema`; fails
/// naming each document that does not conform.
pub(crate) fn validate(docs: &[(&str, serde_json::Value)]) {
    let python = required_env("DSI_TEST_PYTHON");
    let schemas = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/schemas");
    let input: Vec<serde_json::Value> = docs
        .iter()
        .map(|(name, v)| serde_json::json!({"schema": schemas.join(format!("{name}.schema.json")), "doc": v}))
        .collect();
    let script = r#"
import json, sys, jsonschema
bad = []
for item in json.load(sys.stdin):
    schema = json.load(open(item["schema"]))
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(item["doc"]), key=str)
    if errors:
        bad.append(f'{item["schema"]}: {errors[0].message} at {list(errors[0].absolute_path)}')
print("\n".join(bad))
sys.exit(1 if bad else 0)
"#;
    use std::io::Write as _;
    let mut child = Command::new(python)
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(serde_json::to_string(&input).unwrap().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "documents that do not match their schema:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `bash -c` with the dynamic completion `dsi completions bash` registers,
/// completing `WORDS` (the last one being typed) in `dir` with the hermetic
/// environment of [`dsi`] and `env`: the offered
/// candidates, one per line.
pub(crate) fn bash_complete(dir: &Path, words: &[&str], env: &[(&str, &str)]) -> String {
    let bin = assert_cmd::cargo::cargo_bin("dsi");
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let script = format!(
        "source <('{bin}' completions bash) && complete -p dsi >&2 && \
         COMP_WORDS=({words}) && COMP_CWORD={last} && COMP_TYPE=9 && \
         _clap_complete_dsi dsi '{current}' '{previous}' && printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        bin = bin.display(),
        words = quoted.join(" "),
        last = words.len() - 1,
        current = words[words.len() - 1],
        previous = words[words.len().saturating_sub(2)],
    );
    let mut bash = Command::new("bash");
    bash.args(["-c", &script]).current_dir(dir);
    hermetic(&mut bash, dir);
    bash.envs(env.iter().copied());
    let out = bash.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("-F _clap_complete_dsi dsi"),
        "registered for dsi: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}
