//! The Open MPI test image, from the Debian mirror only: `debootstrap
//! --variant=minbase bookworm`, then in the chroot `apt-get install
//! openmpi-bin libopenmpi-dev gcc libc6-dev` and `mpicc` of dsi's MPI test
//! program (`mpi_hello.c`: rank, size, node, an allreduce, and an exit
//! status chosen by argument). The device nodes under the tree's `/dev`
//! are deleted before `ch-image import` (an import read `/dev/zero` and
//! filled the disk), and the stored image is converted with `ch-convert -o
//! squash`.
//!
//! Built once and cached under `target/dsi-cache/mpi` (a build takes one to
//! two minutes on two cores; the SquashFS conversion most of it), keyed by
//! the recipe: a changed program or package list builds afresh.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;

use crate::services::{ch_convert, ch_image};
use crate::util::{project_root, run};

/// dsi's MPI test program.
const PROGRAM: &str = r#"/* dsi's MPI test program: each rank prints its rank, the world size, its
   node and the sum of 1 over all ranks (MPI_Allreduce); `mpi_hello S R`
   makes rank R exit with status S after MPI_Finalize. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv) {
    int rank, size, one = 1, sum = 0;
    char host[256] = "?";
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    gethostname(host, sizeof host - 1);
    MPI_Allreduce(&one, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    const char *node = getenv("SLURMD_NODENAME");
    printf("rank %d/%d on %s allreduce %d\n", rank, size, node ? node : host, sum);
    fflush(stdout);
    int status = 0;
    if (argc > 2 && atoi(argv[2]) == rank) status = atoi(argv[1]);
    MPI_Finalize();
    return status;
}
"#;

const PACKAGES: &str = "openmpi-bin libopenmpi-dev gcc libc6-dev";
const SUITE: &str = "bookworm";

/// The mirror debootstrap uses: the first `URIs:` of the host's Debian
/// sources, else deb.debian.org.
fn mirror() -> String {
    fs::read_to_string("/etc/apt/sources.list.d/debian.sources")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("URIs:").map(|u| u.trim().to_owned()))
        })
        .filter(|u| u.starts_with("http"))
        .unwrap_or_else(|| "http://deb.debian.org/debian".to_owned())
}

/// FNV-1a (64 bits) of the recipe, in hex: names the cached image.
fn recipe_key() -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in [PROGRAM, PACKAGES, SUITE].iter().flat_map(|s| s.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// The cached SquashFS image, built first when missing: its path.
pub(crate) fn ensure() -> anyhow::Result<PathBuf> {
    let cache = project_root().join("target/dsi-cache/mpi");
    let key = recipe_key();
    let sqfs = cache.join(format!("dsi-mpi-{key}.sqfs"));
    if sqfs.is_file() {
        return Ok(sqfs);
    }
    if cache.exists() {
        fs::remove_dir_all(&cache).with_context(|| format!("removing {}", cache.display()))?;
    }
    fs::create_dir_all(&cache)?;
    let root = cache.join("root");
    run(Command::new("debootstrap")
        .args(["--variant=minbase", SUITE])
        .arg(&root)
        .arg(mirror()))
    .context("debootstrap (Debian: apt-get install debootstrap)")?;
    fs::copy("/etc/resolv.conf", root.join("etc/resolv.conf")).ok();
    run(Command::new("chroot")
        .arg(&root)
        .args([
            "/usr/bin/env",
            "-i",
            "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
            "DEBIAN_FRONTEND=noninteractive",
            "sh",
            "-c",
        ])
        .arg(format!(
            "apt-get update -q && apt-get install -y -q --no-install-recommends {PACKAGES} && apt-get clean"
        )))
    .context("installing Open MPI in the image")?;
    let hello = root.join("opt/hello");
    fs::create_dir_all(&hello)?;
    fs::write(hello.join("mpi_hello.c"), PROGRAM)?;
    run(Command::new("chroot").arg(&root).args([
        "/usr/bin/env",
        "-i",
        "PATH=/usr/bin:/bin",
        "mpicc",
        "-O2",
        "-o",
        "/opt/hello/mpi_hello",
        "/opt/hello/mpi_hello.c",
    ]))
    .context("compiling mpi_hello")?;
    let _ = fs::remove_file(root.join("etc/resolv.conf"));
    empty_dir(&root.join("dev"))?;
    let storage = cache.join("storage");
    run(ch_image()
        .env("CH_IMAGE_STORAGE", &storage)
        .arg("import")
        .arg(&root)
        .arg("dsi-mpi"))
    .context("ch-image import of the MPI image")?;
    let tmp = cache.join("dsi-mpi.sqfs.tmp");
    ch_convert(&storage, "squash", "dsi-mpi", &tmp)?;
    fs::rename(&tmp, &sqfs)?;
    // The tree and the storage are not needed again (the tests use the
    // SquashFS file); 600 MB each.
    fs::remove_dir_all(&root).ok();
    fs::remove_dir_all(&storage).ok();
    Ok(sqfs)
}

/// Removes everything inside `dir` (device nodes included), keeping it.
fn empty_dir(dir: &Path) -> anyhow::Result<()> {
    for e in fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let p = e?.path();
        if p.is_dir() && !p.is_symlink() {
            fs::remove_dir_all(&p)?;
        } else {
            fs::remove_file(&p)?;
        }
    }
    Ok(())
}
