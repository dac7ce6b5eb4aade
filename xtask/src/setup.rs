//! `cargo xtask setup`: the Debian packages the tests and the demo need.
//!
//! Idempotent: only missing packages are installed. As root it runs
//! `apt-get install`; otherwise it prints the command to run.

use std::process::Command;

use anyhow::bail;

use crate::util::run as sh;

/// Debian packages and why they are needed.
pub(crate) const PACKAGES: &[(&str, &str)] = &[
    (
        "charliecloud-runtime",
        "ch-run, which executes the recorded steps",
    ),
    (
        "charliecloud-builders",
        "ch-image, which pulls and builds images",
    ),
    ("python3-lark", "ch-image's parser"),
    (
        "slurm-wlm",
        "the test Slurm cluster (slurmctld, slurmd, srun)",
    ),
    ("munge", "Slurm's authentication"),
    (
        "openmpi-bin",
        "mpirun, and Open MPI's PMIx for srun --mpi=pmix",
    ),
    ("libpmix-dev", "Slurm's PMIx plugin (srun --mpi=pmix)"),
    (
        "debootstrap",
        "the Open MPI test image, from the Debian mirror",
    ),
    (
        "squashfs-tools",
        "mksquashfs and unsquashfs: ch-convert's SquashFS images (path images)",
    ),
    ("python3-requests", "ch-image's registry client"),
    (
        "docker-registry",
        "a real OCI registry on loopback for tests",
    ),
    ("busybox-static", "the test and demo image's userland"),
    ("openssl", "the registry's self-signed certificate"),
    ("git", "git for test repositories and remotes"),
    ("curl", "talking to the test registry"),
    ("sqlite3", "inspecting SQLite stores in tests"),
    ("time", "peak RSS of processes in cargo xtask bench"),
    (
        "git-annex",
        "DataLad's storage layer, for the DataLad peer in cargo xtask bench",
    ),
    (
        "strace",
        "the phase breakdown of dsi replay in cargo xtask bench",
    ),
];

fn installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// `cargo xtask setup`: everything the tests need (Debian packages, the S3
/// server binary).
pub(crate) fn run() -> anyhow::Result<()> {
    packages()?;
    crate::s3::install()?;
    crate::fuzz::install()
}

/// The Debian packages only (all the demo needs); installs what is missing.
pub(crate) fn packages() -> anyhow::Result<()> {
    let missing: Vec<&str> = PACKAGES
        .iter()
        .map(|(p, _)| *p)
        .filter(|p| !installed(p))
        .collect();
    if missing.is_empty() {
        eprintln!(
            "xtask: setup: all {} Debian packages present",
            PACKAGES.len()
        );
        return Ok(());
    }
    if !is_root() {
        bail!(
            "missing Debian packages: {}; run as root: apt-get install -y {}",
            missing.join(", "),
            missing.join(" ")
        );
    }
    sh(Command::new("apt-get").args(["update", "-q"]))?;
    sh(Command::new("apt-get")
        .args(["install", "-y", "-q", "--no-install-recommends"])
        .args(&missing)
        .env("DEBIAN_FRONTEND", "noninteractive"))?;
    Ok(())
}
