//! DataLad as a peer of `dsi record` and `dsi replay`.
//!
//! `datalad` and `datalad-container` are installed from PyPI into a venv
//! under `target/bench-venv` (created with `python3 -m venv`, reused when it
//! already imports both); `git-annex` comes from Debian (`cargo xtask
//! setup`). Each bench invocation makes a fresh dataset under
//! `target/bench-data/datalad/ds` with one container, `dsi-test`:
//!
//! * the image is the same directory that dsi runs, in ch-image storage
//!   (`$DSI_TEST_BUILD_STORAGE/img/dsi-test`), linked into the dataset as
//!   the symlink `.datalad/environments/dsi-test/image` (committed to git);
//! * `datalad containers-add dsi-test -i .datalad/environments/dsi-test/image
//!   --call-fmt "ch-run --unset-env='*' {img} -- {cmd}"`;
//! * a run is `datalad containers-run -n dsi-test --sidecar yes true`: the
//!   sidecar run record (`.datalad/runinfo/…`) makes every run a commit even
//!   though `true` changes nothing (without it DataLad records nothing), and
//!   so `datalad rerun COMMIT` has a run to repeat.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

use super::measure::measure;
use super::{bench_data, fresh_dir, target_dir};
use crate::util::{have, run as sh};

/// The container's call format.
pub(super) const CALL_FMT: &str = "ch-run --unset-env='*' {img} -- {cmd}";

/// Versions installed into a new venv (a benchmark peer should not change
/// under the report without saying so; the report prints what ran).
const PIP_PACKAGES: &[&str] = &["datalad==1.7.1", "datalad-container==1.2.6"];

/// Where the image link lives in the dataset.
const IMAGE_IN_DATASET: &str = ".datalad/environments/dsi-test/image";

/// Sets a fixed git identity (git and DataLad refuse to commit without one).
pub(super) fn git_identity(cmd: &mut Command) -> &mut Command {
    cmd.env("GIT_AUTHOR_NAME", "dsi bench")
        .env("GIT_AUTHOR_EMAIL", "bench@dsi.invalid")
        .env("GIT_COMMITTER_NAME", "dsi bench")
        .env("GIT_COMMITTER_EMAIL", "bench@dsi.invalid")
}

/// DataLad, set up on first use.
#[derive(Debug, Default)]
pub(super) struct DataLad {
    ready: Option<Ready>,
}

/// A venv with DataLad and a dataset with the `dsi-test` container.
#[derive(Debug)]
pub(super) struct Ready {
    venv_bin: PathBuf,
    /// The dataset (the directory DataLad commands run in).
    pub(super) dataset: PathBuf,
    user: String,
    /// What ran: DataLad, datalad-container, git-annex and git versions.
    pub(super) versions: String,
    /// The newest commit made by `containers-run`.
    run_commit: Option<String>,
}

impl DataLad {
    /// The venv and the dataset, made on first call.
    pub(super) fn ready(&mut self, image_dir: &Path, user: &str) -> anyhow::Result<&mut Ready> {
        if self.ready.is_none() {
            self.ready = Some(Ready::new(image_dir, user)?);
        }
        Ok(self.ready.as_mut().expect("just set"))
    }
}

fn venv() -> PathBuf {
    target_dir().join("bench-venv")
}

/// Whether the venv's python imports DataLad and its container extension.
fn venv_ok(venv: &Path) -> bool {
    venv.join("bin").join("datalad").exists()
        && Command::new(venv.join("bin").join("python"))
            .args(["-c", "import datalad, datalad_container"])
            .output()
            .is_ok_and(|o| o.status.success())
}

/// Creates (or reuses) the venv.
fn ensure_venv() -> anyhow::Result<PathBuf> {
    let venv = venv();
    if venv_ok(&venv) {
        return Ok(venv);
    }
    eprintln!(
        "xtask: bench: installing DataLad into {} (once)",
        venv.display()
    );
    if !venv.join("bin").join("pip").exists() {
        new_venv(&venv)?;
    }
    sh(Command::new(venv.join("bin").join("pip"))
        .args(["install", "--quiet", "--disable-pip-version-check"])
        .args(PIP_PACKAGES))?;
    if !venv_ok(&venv) {
        bail!("{}: DataLad still does not import", venv.display());
    }
    Ok(venv)
}

/// The first line of a command's output, or `unknown`.
fn first_line(cmd: &mut Command) -> String {
    cmd.output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .map(|l| l.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into())
}

impl Ready {
    fn new(image_dir: &Path, user: &str) -> anyhow::Result<Ready> {
        if !have("git-annex") {
            bail!("git-annex is missing (DataLad needs it): run `cargo xtask setup`");
        }
        let venv = ensure_venv()?;
        let root = bench_data().join("datalad");
        fresh_dir(&root)?;
        let mut ready = Ready {
            venv_bin: venv.join("bin"),
            dataset: root.join("ds"),
            user: user.to_owned(),
            versions: String::new(),
            run_commit: None,
        };
        let mut create = ready.datalad(&["create", "ds"]);
        measure(create.current_dir(&root), false)?;
        let link = ready.dataset.join(IMAGE_IN_DATASET);
        std::fs::create_dir_all(link.parent().expect("has a parent"))?;
        std::os::unix::fs::symlink(image_dir, &link)
            .with_context(|| format!("linking {}", link.display()))?;
        measure(&ready.git(&["add", IMAGE_IN_DATASET]), false)?;
        measure(
            &ready.git(&[
                "commit",
                "-q",
                "-m",
                "dsi-test image: a link into ch-image storage",
            ]),
            false,
        )?;
        measure(
            &ready.datalad(&[
                "containers-add",
                "dsi-test",
                "-i",
                IMAGE_IN_DATASET,
                "--call-fmt",
                CALL_FMT,
            ]),
            false,
        )?;
        let container = first_line(Command::new(venv.join("bin").join("python")).args([
            "-c",
            "import datalad_container; print(datalad_container.__version__)",
        ]));
        ready.versions = format!(
            "{}, datalad-container {container}, git-annex {}, {}",
            first_line(&mut ready.datalad(&["--version"])),
            first_line(Command::new("git-annex").arg("version"))
                .trim_start_matches("git-annex version: "),
            first_line(Command::new("git").arg("--version")),
        );
        Ok(ready)
    }

    fn env(&self, cmd: &mut Command) {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut paths = vec![self.venv_bin.clone()];
        paths.extend(std::env::split_paths(&path));
        cmd.env(
            "PATH",
            std::env::join_paths(paths).expect("PATH entries have no ':'"),
        )
        .env("USER", &self.user)
        .current_dir(&self.dataset);
        git_identity(cmd);
    }

    /// `datalad ARGS` in the dataset.
    pub(super) fn datalad(&self, args: &[&str]) -> Command {
        let mut c = Command::new(self.venv_bin.join("datalad"));
        c.args(args);
        self.env(&mut c);
        c
    }

    fn git(&self, args: &[&str]) -> Command {
        let mut c = Command::new("git");
        c.args(args);
        self.env(&mut c);
        c
    }

    /// `datalad containers-run` of `true` in the container (one commit).
    pub(super) fn containers_run(&self) -> Command {
        self.datalad(&[
            "containers-run",
            "-n",
            "dsi-test",
            "--sidecar",
            "yes",
            "true",
        ])
    }

    /// Notes the dataset's HEAD as the newest run commit.
    pub(super) fn note_run(&mut self) -> anyhow::Result<()> {
        let out = self
            .git(&["rev-parse", "HEAD"])
            .output()
            .context("git rev-parse HEAD")?;
        if !out.status.success() {
            bail!("git rev-parse HEAD failed in {}", self.dataset.display());
        }
        self.run_commit = Some(String::from_utf8_lossy(&out.stdout).trim().to_owned());
        Ok(())
    }

    /// A commit recorded by `containers-run` (one is made if none was).
    pub(super) fn run_commit(&mut self) -> anyhow::Result<String> {
        if self.run_commit.is_none() {
            measure(&self.containers_run(), false)?;
            self.note_run()?;
        }
        Ok(self.run_commit.clone().expect("just set"))
    }
}

/// A new venv at `venv` (anything there is removed first): with the python3
/// on PATH, or Debian's if that has no venv module.
pub(super) fn new_venv(venv: &std::path::Path) -> anyhow::Result<()> {
    if venv.exists() {
        std::fs::remove_dir_all(venv)?;
    }
    let made = ["python3", "/usr/bin/python3"].iter().any(|py| {
        Command::new(py)
            .args(["-m", "venv"])
            .arg(venv)
            .status()
            .is_ok_and(|s| s.success())
    });
    if !made {
        bail!(
            "cannot create a venv at {} with `python3 -m venv`",
            venv.display()
        );
    }
    Ok(())
}
