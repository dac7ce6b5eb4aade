//! `rftree1` tree digest throughput (RUNFILE.md §8.4) over the unpacked test
//! image, in bytes of regular files per second.
//!
//! The directory is `$DSI_BENCH_RFTREE_DIR`, else
//! `$DSI_TEST_BUILD_STORAGE/img/dsi-test` (see `cargo xtask services start`);
//! without either the benchmark is skipped with a message. `cargo xtask
//! bench` sets the variable and also times the 1 GiB synthetic tree with the
//! `rftree` example (one process per digest, for wall time and peak RSS).

use std::fs;
use std::hint::black_box;
use std::path::{Path, PathBuf};

use criterion::{Criterion, Throughput};
use dsi_plugins_charliecloud::image::rftree;

fn tree_dir() -> Option<PathBuf> {
    std::env::var_os("DSI_BENCH_RFTREE_DIR")
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("DSI_TEST_BUILD_STORAGE")
                .filter(|s| !s.is_empty())
                .map(|s| Path::new(&s).join("img").join("dsi-test"))
        })
}

/// Bytes of the regular files under `dir` (symlinks not followed).
fn regular_bytes(dir: &Path) -> std::io::Result<u64> {
    let mut total = 0;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let ty = entry.file_type()?;
        if ty.is_dir() {
            total += regular_bytes(&entry.path())?;
        } else if ty.is_file() {
            total += entry.metadata()?.len();
        }
    }
    Ok(total)
}

fn bench(c: &mut Criterion, dir: &Path) {
    let bytes = regular_bytes(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let digest = rftree(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    eprintln!("rftree: {} = {digest} ({bytes} bytes)", dir.display());
    let mut g = c.benchmark_group("rftree");
    g.throughput(Throughput::Bytes(bytes));
    g.bench_function("dsi_test_image", |b| {
        b.iter(|| rftree(black_box(dir)).expect("digest"));
    });
    g.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    match tree_dir().filter(|d| d.is_dir()) {
        Some(dir) => bench(&mut c, &dir),
        None => eprintln!(
            "rftree: skipped: set DSI_BENCH_RFTREE_DIR or run `cargo xtask services start` \
             and export target/dsi-services/env"
        ),
    }
    c.final_summary();
}
