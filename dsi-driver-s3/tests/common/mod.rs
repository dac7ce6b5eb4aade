//! The S3 test server: from the environment `cargo xtask ci` sets up, or
//! started by a test itself when it needs to stop and restart it.

#![allow(dead_code, reason = "each test binary uses part of this module")]

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use dsi_driver_s3::S3Builder;

/// The variables `cargo xtask ci` (xtask/src/s3.rs) exports.
pub(crate) struct Server {
    pub(crate) endpoint: String,
    pub(crate) bucket: String,
    pub(crate) access_key: String,
    pub(crate) secret_key: String,
}

fn var(name: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| {
            panic!(
                "{name} is not set: the S3 tests need the s3s-fs test server; run them with \
             `cargo xtask ci` (or start it with `cargo xtask services start` and export \
             target/dsi-services/env)"
            )
        })
}

/// The shared server of this test run.
pub(crate) fn server() -> Server {
    Server {
        endpoint: var("DSI_TEST_S3_ENDPOINT"),
        bucket: var("DSI_TEST_S3_BUCKET"),
        access_key: var("AWS_ACCESS_KEY_ID"),
        secret_key: var("AWS_SECRET_ACCESS_KEY"),
    }
}

fn moto_var(name: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| {
            panic!(
                "{name} is not set: the S3 concurrency tests need the moto test server, whose \
                 create-if-absent is atomic (s3s-fs's is not); run them with `cargo xtask ci` \
                 (or start it with `cargo xtask services start` and export target/dsi-services/env)"
            )
        })
}

/// The moto server of this test run (atomic `If-None-Match`; it accepts
/// any credentials and verifies no signature).
pub(crate) fn moto() -> Server {
    Server {
        endpoint: moto_var("DSI_TEST_MOTO_ENDPOINT"),
        bucket: moto_var("DSI_TEST_MOTO_BUCKET"),
        access_key: "moto-test".into(),
        secret_key: "moto-test-secret".into(),
    }
}

/// A prefix no other test uses.
pub(crate) fn unique_prefix(test: &str) -> String {
    let mut r = [0u8; 8];
    let _ = rustix::rand::getrandom(&mut r, rustix::rand::GetRandomFlags::empty());
    format!("tests/{test}-{}", u64::from_le_bytes(r))
}

impl Server {
    /// A builder for `s3://bucket/prefix` on this server.
    pub(crate) fn builder(&self, prefix: &str) -> S3Builder {
        S3Builder::new(&format!("s3://{}/{prefix}", self.bucket))
            .expect("store URL")
            .with_endpoint(&self.endpoint)
            .with_allow_http(true)
            .with_credentials(&self.access_key, &self.secret_key)
    }
}

/// A free port on 127.0.0.1.
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// An s3s-fs process of a test's own, which the test may stop and restart.
pub(crate) struct OwnServer {
    pub(crate) child: Option<Child>,
    pub(crate) port: u16,
    pub(crate) root: std::path::PathBuf,
    pub(crate) access_key: String,
    pub(crate) secret_key: String,
    pub(crate) bucket: String,
}

impl OwnServer {
    /// Starts s3s-fs on a free port with a bucket `own`.
    pub(crate) fn start(root: &Path) -> OwnServer {
        let bucket = "own".to_owned();
        std::fs::create_dir_all(root.join(&bucket)).expect("bucket directory");
        let mut s = OwnServer {
            child: None,
            port: free_port(),
            root: root.to_path_buf(),
            access_key: "ownkey".into(),
            secret_key: "ownsecret0123456789".into(),
            bucket,
        };
        s.restart();
        s
    }

    /// (Re)starts the process on the same port and root.
    pub(crate) fn restart(&mut self) {
        let child = Command::new("s3s-fs")
            .args(["--host", "127.0.0.1", "--port", &self.port.to_string()])
            .args([
                "--access-key",
                &self.access_key,
                "--secret-key",
                &self.secret_key,
            ])
            .arg(&self.root)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect(
                "starting s3s-fs (install it: cargo install s3s-fs --version 0.14.1 \
                 --features binary --locked, or run cargo xtask setup)",
            );
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "s3s-fs did not listen on {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the process (SIGKILL: as abrupt as a crash).
    pub(crate) fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// A builder for `s3://own/prefix` on this server.
    pub(crate) fn builder(&self, prefix: &str) -> S3Builder {
        S3Builder::new(&format!("s3://{}/{prefix}", self.bucket))
            .expect("store URL")
            .with_endpoint(format!("http://127.0.0.1:{}", self.port))
            .with_allow_http(true)
            .with_credentials(&self.access_key, &self.secret_key)
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        self.stop();
    }
}
