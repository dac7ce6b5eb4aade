//! Helpers shared by the tests that need the test services (a TLS registry
//! holding `dsi-test`, Charliecloud 0.31): environment, per-test ch-image
//! storage, Runfiles in a context directory.
//!
//! Tests that use these helpers FAIL, never skip, when the services are absent.

// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use dsi_plugins_charliecloud::image::{self, ChImage, ResolveOptions, ResolvedImage, Storage};
use dsi_plugins_charliecloud::runfile::{Diagnostic, Runfile};
use tempfile::TempDir;

/// The value of an environment variable the test services provide.
///
/// # Panics
///
/// When it is not set: the test needs the services and must fail without them.
#[track_caller]
pub(crate) fn required_env(name: &str) -> String {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => v,
        _ => panic!(
            "{name} is not set: this test needs the test services; run `cargo xtask ci`, \
             or `cargo xtask services start` and export target/dsi-services/env \
             (set -a; . target/dsi-services/env; set +a)"
        ),
    }
}

/// `host:port/dsi-test@sha256:…`, the pushed test image.
#[track_caller]
pub(crate) fn test_image() -> String {
    required_env("DSI_TEST_IMAGE")
}

/// `USER` as ch-image and ch-run need it.
#[track_caller]
pub(crate) fn user() -> String {
    required_env("USER")
}

/// `ch-image` as the library starts it.
pub(crate) fn ch() -> ChImage {
    ChImage::locate(&user())
}

/// A fresh directory for one test: a ch-image storage `S` (not created: the
/// first ch-image call initialises it) and a context directory `ctx`.
/// Everything is removed when it is dropped.
pub(crate) struct Scratch {
    dir: TempDir,
    /// The per-test storage.
    pub(crate) storage: Storage,
    /// The context directory (holds the Runfile).
    pub(crate) ctx: PathBuf,
}

impl Scratch {
    pub(crate) fn new() -> Scratch {
        let dir = tempfile::Builder::new()
            .prefix("dsi-cc-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .expect("create a temporary directory under CARGO_TARGET_TMPDIR");
        let ctx = dir.path().join("ctx");
        std::fs::create_dir(&ctx).expect("create the context directory");
        let storage = Storage::new(dir.path().join("storage"));
        Scratch { dir, storage, ctx }
    }

    /// The scratch directory itself.
    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `text` as `ctx/Runfile` and parses it.
    #[track_caller]
    pub(crate) fn runfile(&self, text: &str) -> Runfile {
        write_runfile(&self.ctx, text)
    }

    /// `image::resolve` of the Runfile's FROM into this storage.
    pub(crate) fn resolve(
        &self,
        rf: &Runfile,
        online: bool,
        full: bool,
    ) -> Result<ResolvedImage, Diagnostic> {
        image::resolve(
            rf.image(),
            rf.from_line(),
            &self.ctx,
            &self.storage,
            &ch(),
            ResolveOptions { online, full },
        )
    }

    /// Runs `ch-image --storage=S ARGS…`, asserting success; returns its output.
    #[track_caller]
    pub(crate) fn ch_image(&self, args: &[&str]) -> String {
        let out = ch()
            .run(self.storage.root(), args)
            .expect("ch-image starts");
        assert!(out.success, "ch-image {args:?} failed:\n{}", out.text);
        out.text
    }

    /// Copies the local image `name` of the services' build storage into this
    /// storage (`cp -a`), as `ch-image import` would have put it there.
    #[track_caller]
    pub(crate) fn copy_local_image(&self, name: &str) -> PathBuf {
        let from = Path::new(&required_env("DSI_TEST_BUILD_STORAGE"))
            .join("img")
            .join(name);
        assert!(from.is_dir(), "{} is missing", from.display());
        let img = self.storage.root().join("img");
        std::fs::create_dir_all(&img).expect("create S/img");
        run_ok(Command::new("cp").arg("-a").arg(&from).arg(&img));
        img.join(name)
    }
}

/// Writes `dir/Runfile` and parses it, panicking with the diagnostic if it is
/// not a valid Runfile.
#[track_caller]
pub(crate) fn write_runfile(dir: &Path, text: &str) -> Runfile {
    std::fs::write(dir.join("Runfile"), text).expect("write the Runfile");
    match Runfile::parse_str(text) {
        Ok(rf) => rf,
        Err(e) => panic!("invalid test Runfile: {}\n{text}", e.render("Runfile")),
    }
}

/// Runs a host command, asserting success; returns its stdout.
#[track_caller]
pub(crate) fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().expect("command starts");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// An in-memory output sink.
pub(crate) type Buffer = Arc<Mutex<Vec<u8>>>;

/// An in-memory output sink and a handle to read it back.
pub(crate) fn buffer() -> Buffer {
    Arc::new(Mutex::new(Vec::new()))
}

/// The text written to a [`buffer`] so far.
pub(crate) fn text(b: &Buffer) -> String {
    String::from_utf8(b.lock().unwrap().clone()).expect("UTF-8 output")
}

/// Hex SHA-256 of `bytes`.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(bytes))
}
