//! `cargo xtask demo`: the main job, end to end, on the embedded SQLite
//! store (`./dsi.db`).
//!
//! Installs what is missing (`setup`), builds the example image `dsi-demo`
//! with `ch-image` into the default storage (once), writes an example project
//! (a git repository with input data and a Runfile pinned to the image's tree
//! digest) under `target/demo/`, then runs the `dsi` commands a user would:
//! record, replay twice with verification, show the system diff and the
//! stored record.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

use crate::services::{build_image, user};
use crate::util::{cargo, project_root, run as sh};

/// Name of the example image.
const IMAGE: &str = "dsi-demo";

fn storage() -> PathBuf {
    std::env::var_os("CH_IMAGE_STORAGE")
        .filter(|s| !s.is_empty())
        .map_or_else(
            || PathBuf::from(format!("/var/tmp/{}.ch", user())),
            PathBuf::from,
        )
}

fn git(dir: &Path, args: &[&str]) -> anyhow::Result<()> {
    let status = Command::new("git")
        .args([
            "-c",
            "user.name=dsi demo",
            "-c",
            "user.email=demo@localhost",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .status()
        .context("running git")?;
    if !status.success() {
        bail!("git {args:?} failed");
    }
    Ok(())
}

/// Runs `dsi ARGS` in the repository root, echoing the command line.
fn dsi(bin: &Path, args: &[&str]) -> anyhow::Result<String> {
    println!("\n$ dsi {}", args.join(" "));
    let out = Command::new(bin)
        .args(args)
        .current_dir(project_root())
        .env("USER", user())
        .env("CH_IMAGE_STORAGE", storage())
        .output()
        .context("running dsi")?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    print!("{stdout}");
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    if !out.status.success() {
        bail!("dsi {} failed with {}", args.join(" "), out.status);
    }
    Ok(stdout)
}

/// `cargo xtask demo`.
pub(crate) fn run() -> anyhow::Result<()> {
    crate::setup::packages()?;
    let root = project_root();
    let storage = storage();
    if storage.join("img").join(IMAGE).is_dir() {
        println!("example image {IMAGE} already in {}", storage.display());
    } else {
        let work = root.join("target/demo/image-work");
        fs::create_dir_all(&work)?;
        build_image(&storage, &work, IMAGE)?;
    }
    // The main job needs only the SQLite back-end: skip the Parquet, S3 and
    // DataFusion builds on a fresh machine.
    sh(cargo().args([
        "build",
        "--quiet",
        "-p",
        "dsi-cli",
        "--no-default-features",
        "--features",
        "sqlite",
    ]))?;
    let bin = root.join("target/debug/dsi");

    // The example project: input data, an output directory, a Runfile.
    let project = root.join("target/demo/project");
    for old in [&project, &root.join("target/demo/checkout")] {
        if old.exists() {
            fs::remove_dir_all(old)?;
        }
    }
    fs::create_dir_all(project.join("data"))?;
    fs::create_dir_all(project.join("out"))?;
    fs::write(project.join("data/input.txt"), "mesh sweep, case 7\n")?;
    fs::write(project.join("out/.gitkeep"), "")?;
    git(&project, &["init", "-q"])?;
    git(&project, &["add", "."])?;
    git(&project, &["commit", "-q", "-m", "inputs"])?;

    let from = dsi(&bin, &["runfile", "pin", IMAGE])?;
    let runfile = format!(
        "# runfile=1\n{}\nLABEL dsi.outputs=\"out/sums.txt\"\nENV GREETING=\"hello from the demo\"\n\
         BIND data:/data\nBIND out:/out\nRUN sha256sum /data/input.txt > /out/sums.txt\n\
         CMD [\"/opt/app/bin/hello\", \"case\", \"7\"]\n",
        from.trim()
    );
    let runfile_path = root.join("target/demo/Runfile");
    fs::write(&runfile_path, runfile)?;
    let rf = runfile_path
        .strip_prefix(&root)
        .unwrap_or(&runfile_path)
        .display()
        .to_string();
    let proj = project
        .strip_prefix(&root)
        .unwrap_or(&project)
        .display()
        .to_string();

    dsi(&bin, &["runfile", "check", &rf])?;
    let recorded = dsi(
        &bin,
        &["record", &rf, "--repo", &proj, "--message", "demo run"],
    )?;
    let words: Vec<&str> = recorded.split_whitespace().collect();
    let (run_id, commit) = match words.as_slice() {
        ["recorded", "run", id, "at", "commit", c, ..] => ((*id).to_owned(), (*c).to_owned()),
        _ => bail!("unexpected output of dsi record: {recorded}"),
    };
    // The first replay becomes the reference; the second is verified
    // against it.
    dsi(&bin, &["replay", &commit[..10]])?;
    dsi(&bin, &["replay", &commit[..10], "--verify"])?;
    dsi(&bin, &["diff", &run_id[..10], "--now"])?;
    dsi(&bin, &["checkout", &run_id[..10], "target/demo/checkout"])?;
    dsi(&bin, &["list"])?;
    println!("\ndemo finished: the record and its replays are in ./dsi.db");
    Ok(())
}
