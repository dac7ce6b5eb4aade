//! The second S3 test server: moto (PyPI `moto[server]`), whose S3 honours
//! `If-None-Match: *` atomically. A Delta log commits by creating
//! `_delta_log/<version>.json` only if absent, so the concurrency tests of
//! the S3 driver need that guarantee; s3s-fs (see `s3`) checks and then
//! writes, so two racing writers can both "create" a version. moto does
//! not verify request signatures, which is why s3s-fs stays the server of
//! every other S3 test.
//!
//! [`start`] installs moto into a venv under `target/moto-venv` (reused
//! while its pin is unchanged), runs it on a free 127.0.0.1 port, creates
//! the bucket and returns `DSI_TEST_MOTO_ENDPOINT` and
//! `DSI_TEST_MOTO_BUCKET`; [`stop`] ends it by its pid.

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::util::{project_root, run};

/// The moto release line the tests were written against.
pub(crate) const PACKAGE: &str = "moto[server]>=5.1,<6";
/// The bucket the concurrency tests share (each test uses its own prefix).
pub(crate) const BUCKET: &str = "dsi-moto";

/// Creates (or reuses) the venv and returns its `moto_server`.
fn ensure_venv() -> anyhow::Result<PathBuf> {
    let venv = project_root().join("target/moto-venv");
    let server = venv.join("bin/moto_server");
    let stamp = venv.join("dsi-packages.txt");
    if server.exists() && fs::read_to_string(&stamp).is_ok_and(|s| s == PACKAGE) {
        return Ok(server);
    }
    let base = std::env::var("DSI_PYTHON").unwrap_or_else(|_| "python3".into());
    run(Command::new(&base)
        .args(["-m", "venv", "--clear"])
        .arg(&venv))
    .with_context(|| {
        format!("creating a venv with {base} (set DSI_PYTHON to another interpreter)")
    })?;
    run(Command::new(venv.join("bin/python")).args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        PACKAGE,
    ]))
    .context("installing moto[server] from PyPI")?;
    fs::write(&stamp, PACKAGE)?;
    Ok(server)
}

/// One plain HTTP request to the server; returns the status code.
fn request(port: u16, method: &str, path: &str) -> anyhow::Result<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    let mut reply = String::new();
    s.read_to_string(&mut reply)?;
    reply
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .with_context(|| format!("no HTTP status in moto's reply to {method} {path}"))
}

/// Starts moto with its log and pid file in `dir`; returns the
/// environment for the tests.
pub(crate) fn start(dir: &Path) -> anyhow::Result<BTreeMap<String, String>> {
    let server = ensure_venv()?;
    stop(dir);
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .context("finding a free port")?
        .port();
    let log = dir.join("moto.log");
    let out = fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
    let mut child = Command::new(&server)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .spawn()
        .with_context(|| format!("starting {}", server.display()))?;
    fs::write(dir.join("moto.pid"), child.id().to_string())?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Some(status) = child.try_wait()? {
            bail!("moto exited ({status}); see {}", log.display());
        }
        if Instant::now() > deadline {
            stop(dir);
            bail!(
                "moto did not listen on 127.0.0.1:{port} within 30 s; see {}",
                log.display()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let status = request(port, "PUT", &format!("/{BUCKET}"))?;
    if status != 200 {
        stop(dir);
        bail!(
            "moto answered {status} to creating bucket {BUCKET}; see {}",
            log.display()
        );
    }
    let endpoint = format!("http://127.0.0.1:{port}");
    eprintln!("xtask: moto listening on {endpoint} (bucket {BUCKET})");
    Ok(BTreeMap::from([
        ("DSI_TEST_MOTO_ENDPOINT".to_owned(), endpoint),
        ("DSI_TEST_MOTO_BUCKET".to_owned(), BUCKET.to_owned()),
    ]))
}

/// Stops the moto started by [`start`] in `dir` (nothing if none runs).
pub(crate) fn stop(dir: &Path) {
    let pidfile = dir.join("moto.pid");
    let Ok(pid) = fs::read_to_string(&pidfile) else {
        return;
    };
    let pid = pid.trim();
    // Only a process that is still moto (the pid may have been reused).
    let ours = fs::read(format!("/proc/{pid}/cmdline"))
        .is_ok_and(|c| String::from_utf8_lossy(&c).contains("moto_server"));
    if ours {
        let _ = Command::new("kill").arg(pid).status();
        for _ in 0..50 {
            let alive = fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                stat.rsplit_once(") ")
                    .is_some_and(|(_, rest)| !rest.starts_with('Z'))
            });
            if !alive {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let _ = fs::remove_file(&pidfile);
}
