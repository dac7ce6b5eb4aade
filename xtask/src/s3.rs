//! The S3 test server: `s3s-fs` (crates.io `s3s-fs` 0.14.1, feature
//! `binary`), a small S3 implementation over a directory that verifies SigV4
//! signatures, supports multipart uploads and create-if-absent.
//!
//! [`start`] runs it on a free 127.0.0.1 port with freshly generated
//! credentials and one bucket, and returns the variables the S3 tests read
//! (`DSI_TEST_S3_*` and the standard `AWS_*`); [`stop`] ends it. The tests
//! fail, naming `cargo xtask ci`, when the variables are missing.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::util::{cargo, have, run};

/// The version CI installs (0.17 needs a newer rustc).
pub(crate) const VERSION: &str = "0.14.1";
/// The bucket the tests share (each test uses its own prefix).
pub(crate) const BUCKET: &str = "dsi-test";

const INSTALL_HINT: &str = "cargo install s3s-fs --version 0.14.1 --features binary --locked";

/// Installs `s3s-fs` with cargo when it is not on PATH (3–5 minutes).
pub(crate) fn install() -> anyhow::Result<()> {
    if have("s3s-fs") {
        return Ok(());
    }
    run(cargo().args([
        "install",
        "s3s-fs",
        "--version",
        VERSION,
        "--features",
        "binary",
        "--locked",
    ]))
    .context("installing the S3 test server s3s-fs")
}

/// `n` random bytes as lower-case hex.
fn random_hex(n: usize) -> anyhow::Result<String> {
    let mut bytes = vec![0u8; n];
    fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .context("reading /dev/urandom")?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Starts s3s-fs with its data and pid file in `dir`; returns the
/// environment for the tests.
pub(crate) fn start(dir: &Path) -> anyhow::Result<BTreeMap<String, String>> {
    if !have("s3s-fs") {
        bail!(
            "s3s-fs (the S3 test server) is not on PATH: install it with `{INSTALL_HINT}` (or run cargo xtask setup)"
        );
    }
    stop(dir);
    let data = dir.join("data");
    if data.exists() {
        fs::remove_dir_all(&data).with_context(|| format!("removing {}", data.display()))?;
    }
    // s3s-fs serves each directory under its root as a bucket.
    fs::create_dir_all(data.join(BUCKET))
        .with_context(|| format!("creating {}", data.join(BUCKET).display()))?;
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .context("finding a free port")?
        .port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let env = BTreeMap::from([
        ("DSI_TEST_S3_ENDPOINT".to_owned(), endpoint.clone()),
        ("DSI_TEST_S3_BUCKET".to_owned(), BUCKET.to_owned()),
        (
            "AWS_ACCESS_KEY_ID".to_owned(),
            format!("dsi{}", random_hex(8)?),
        ),
        ("AWS_SECRET_ACCESS_KEY".to_owned(), random_hex(20)?),
        ("AWS_REGION".to_owned(), "us-east-1".to_owned()),
        ("AWS_ENDPOINT_URL".to_owned(), endpoint),
        ("AWS_ALLOW_HTTP".to_owned(), "true".to_owned()),
    ]);
    serve(dir, &env)?;
    eprintln!(
        "xtask: s3s-fs listening on {} (bucket {BUCKET})",
        env["DSI_TEST_S3_ENDPOINT"]
    );
    Ok(env)
}

/// Starts s3s-fs again after [`stop`], on the port, credentials and data
/// of an earlier [`start`] in `dir` (what it returned): a server restart.
pub(crate) fn restart(dir: &Path, env: &BTreeMap<String, String>) -> anyhow::Result<()> {
    stop(dir);
    serve(dir, env)
}

/// Runs s3s-fs over `dir/data` as `env` describes, until it listens.
fn serve(dir: &Path, env: &BTreeMap<String, String>) -> anyhow::Result<()> {
    let var = |k: &str| {
        env.get(k)
            .map(String::as_str)
            .with_context(|| format!("{k} missing from the S3 server's environment"))
    };
    let endpoint = var("DSI_TEST_S3_ENDPOINT")?;
    let port: u16 = endpoint
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .with_context(|| format!("no port in {endpoint}"))?;
    let log = dir.join("s3s-fs.log");
    let out = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .with_context(|| format!("opening {}", log.display()))?;
    let mut child = Command::new("s3s-fs")
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--access-key", var("AWS_ACCESS_KEY_ID")?])
        .args(["--secret-key", var("AWS_SECRET_ACCESS_KEY")?])
        .arg(dir.join("data"))
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .spawn()
        .with_context(|| format!("starting s3s-fs (install it with `{INSTALL_HINT}`)"))?;
    fs::write(dir.join("s3s-fs.pid"), child.id().to_string())
        .with_context(|| format!("writing {}", dir.join("s3s-fs.pid").display()))?;
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Some(status) = child.try_wait()? {
            bail!("s3s-fs exited ({status}); see {}", log.display());
        }
        if Instant::now() > deadline {
            stop(dir);
            bail!(
                "s3s-fs did not listen on 127.0.0.1:{port} within 20 s; see {}",
                log.display()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// Stops the s3s-fs started by [`start`] in `dir` (nothing if none runs).
pub(crate) fn stop(dir: &Path) {
    let pidfile = dir.join("s3s-fs.pid");
    let Ok(pid) = fs::read_to_string(&pidfile) else {
        return;
    };
    let pid = pid.trim();
    // Only a process that is still s3s-fs (the pid may have been reused).
    let ours =
        fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|comm| comm.trim() == "s3s-fs");
    if ours {
        let _ = Command::new("kill").arg(pid).status();
        // Wait (up to 5 s) until it is gone; a zombie (our own unreaped
        // child) counts as gone.
        let alive = || {
            fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                stat.rsplit_once(") ")
                    .is_some_and(|(_, rest)| !rest.starts_with('Z'))
            })
        };
        for _ in 0..50 {
            if !alive() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let _ = fs::remove_file(&pidfile);
}
