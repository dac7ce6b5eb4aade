//! Section "rftree1 digest": criterion over the unpacked test image
//! (`benches/rftree.rs`), and the `rftree` example timed as a process (wall
//! time, peak RSS) over a synthetic 1 GiB, 100,000-file tree generated once
//! under `target/bench-data/tree-1g/`, alternated with a `find | xargs
//! sha256sum` reference.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};

use super::fmt::{fmt_count, fmt_kib, fmt_mb, fmt_range, fmt_secs, mb_per_s, table};
use super::measure::{Sample, SplitMix, alternate, max_rss, secs_stats};
use super::runfile::criterion_estimate;
use super::{Plan, Services, bench_data, example};

/// Files and bytes of the synthetic tree: 100,000 files, exactly 1 GiB.
const TREE_FILES: u64 = 100_000;
const TREE_BYTES: u64 = 1 << 30;
/// Bumped whenever the generator changes, so a stale tree is regenerated.
const TREE_VERSION: &str = "tree-1g v1";

/// Files and bytes of regular files `rftree` hashes under `root` (top-level
/// `.git*` and `ch/git.pickle` are skipped, as rftree1 does).
fn tree_size(root: &Path) -> anyhow::Result<(u64, u64)> {
    fn walk(dir: &Path, rel: &str, acc: &mut (u64, u64)) -> anyhow::Result<()> {
        for entry in fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            if (rel.is_empty() && name.starts_with(".git")) || path == "ch/git.pickle" {
                continue;
            }
            let ty = entry.file_type()?;
            if ty.is_dir() {
                walk(&entry.path(), &path, acc)?;
            } else if ty.is_file() {
                acc.0 += 1;
                acc.1 += entry.metadata()?.len();
            }
        }
        Ok(())
    }
    let mut acc = (0, 0);
    walk(root, "", &mut acc)?;
    Ok(acc)
}

/// Size of file `i` of the synthetic tree: about 10 KiB (6.5–14.5 KiB),
/// pairs balanced so that the total is exactly [`TREE_BYTES`].
fn tree_file_size(i: u64) -> usize {
    let base = TREE_BYTES / TREE_FILES; // 10737
    let extra = TREE_BYTES % TREE_FILES; // 41824, even: pairs stay together
    let delta = SplitMix(i / 2).next() % 4096;
    let size = base + u64::from(i < extra);
    let size = if i.is_multiple_of(2) {
        size + delta
    } else {
        size - delta
    };
    usize::try_from(size).expect("small")
}

/// The path of file `i`: 100 directories × 10 subdirectories × 100 files.
fn tree_file_path(i: u64) -> String {
    format!("d{:02}/s{}/f{:03}.bin", i / 1000, (i / 100) % 10, i % 100)
}

/// Generates the synthetic tree under `target/bench-data/tree-1g` once
/// (deterministic content; a marker file records completion).
fn synthetic_tree() -> anyhow::Result<PathBuf> {
    let data = bench_data();
    let dir = data.join("tree-1g");
    let marker = data.join("tree-1g.done");
    if dir.is_dir() && fs::read_to_string(&marker).is_ok_and(|m| m.trim() == TREE_VERSION) {
        return Ok(dir);
    }
    let partial = data.join("tree-1g.partial");
    for d in [&dir, &partial] {
        if d.exists() {
            fs::remove_dir_all(d).with_context(|| format!("removing {}", d.display()))?;
        }
    }
    let _ = fs::remove_file(&marker);
    eprintln!(
        "xtask: bench: generating {} ({TREE_FILES} files, 1 GiB; once)",
        dir.display()
    );
    let t0 = Instant::now();
    for i in (0..TREE_FILES).step_by(100) {
        let p = partial.join(tree_file_path(i));
        fs::create_dir_all(p.parent().expect("has a parent"))?;
    }
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get() as u64);
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                let partial = &partial;
                scope.spawn(move || -> anyhow::Result<()> {
                    let mut buf = Vec::new();
                    for i in (w..TREE_FILES).step_by(usize::try_from(workers)?) {
                        let size = tree_file_size(i);
                        buf.clear();
                        let mut rng = SplitMix(i ^ 0x6473_6920_7472_6565);
                        while buf.len() < size {
                            buf.extend_from_slice(&rng.next().to_le_bytes());
                        }
                        buf.truncate(size);
                        let p = partial.join(tree_file_path(i));
                        fs::write(&p, &buf).with_context(|| format!("writing {}", p.display()))?;
                    }
                    Ok(())
                })
            })
            .collect();
        for h in handles {
            h.join().expect("generator thread does not panic")?;
        }
        Ok(())
    })?;
    fs::rename(&partial, &dir)?;
    fs::write(&marker, format!("{TREE_VERSION}\n"))?;
    eprintln!(
        "xtask: bench: generated the tree in {:.0} s",
        t0.elapsed().as_secs_f64()
    );
    Ok(dir)
}

/// The unpacked test image, `$DSI_TEST_BUILD_STORAGE/img/dsi-test`.
pub(super) fn test_image_dir(services: &mut Services) -> anyhow::Result<PathBuf> {
    let image = PathBuf::from(services.var("DSI_TEST_BUILD_STORAGE", false)?)
        .join("img")
        .join("dsi-test");
    if !image.is_dir() {
        bail!(
            "{} is missing: run `cargo xtask services start`",
            image.display()
        );
    }
    Ok(image)
}

pub(super) fn section(plan: Plan, image: &Path) -> anyhow::Result<String> {
    let image = image.to_path_buf();
    let (img_files, img_bytes) = tree_size(&image)?;
    let crit = criterion_estimate("rftree/dsi_test_image")?;

    let tree = synthetic_tree()?;
    let (tree_files, tree_bytes) = tree_size(&tree)?;
    if (tree_files, tree_bytes) != (TREE_FILES, TREE_BYTES) {
        bail!(
            "{}: {tree_files} files, {tree_bytes} bytes; expected {TREE_FILES}, {TREE_BYTES} \
             (remove it to regenerate)",
            tree.display()
        );
    }
    let digest_cmd = |dir: &Path| {
        let mut c = Command::new(example("rftree"));
        c.arg(dir);
        c
    };
    let mut sha256sum = Command::new("sh");
    sha256sum
        .args([
            "-c",
            "find . -type f -print0 | xargs -0 sha256sum > /dev/null",
        ])
        .current_dir(&tree);
    let image_runs = if plan.quick { 3 } else { 10 };
    let small = alternate(&[digest_cmd(&image)], image_runs, true)?;
    let big = alternate(&[digest_cmd(&tree), sha256sum], plan.tree_runs, true)?;
    let digest_of = |s: &[Sample]| {
        s.first()
            .map(|s| String::from_utf8_lossy(&s.stdout).trim().to_owned())
            .unwrap_or_default()
    };
    let (img_digest, tree_digest) = (digest_of(&small[0]), digest_of(&big[0]));

    let size = |files: u64, bytes: u64| format!("{} files, {}", fmt_count(files), fmt_mb(bytes));
    let mut rows = vec![vec![
        "dsi-test image".into(),
        "`rftree`, criterion in-process".into(),
        size(img_files, img_bytes),
        crit.samples.to_string(),
        fmt_secs(crit.median),
        fmt_range(crit.min, crit.max),
        mb_per_s(img_bytes, crit.median),
        "n/a".into(),
        "—".into(),
    ]];
    let s = secs_stats(&small[0]);
    rows.push(vec![
        "dsi-test image".into(),
        "`rftree` example, one process per digest".into(),
        size(img_files, img_bytes),
        s.n.to_string(),
        fmt_secs(s.median),
        fmt_range(s.min, s.max),
        mb_per_s(img_bytes, s.median),
        fmt_kib(max_rss(&small[0])),
        "—".into(),
    ]);
    let reference = secs_stats(&big[1]).median;
    for (samples, label) in [
        (&big[0], "`rftree` example, one process per digest"),
        (
            &big[1],
            "reference: `find -type f -print0 | xargs -0 sha256sum` (content only)",
        ),
    ] {
        let s = secs_stats(samples);
        rows.push(vec![
            "synthetic tree-1g".into(),
            label.into(),
            size(tree_files, tree_bytes),
            s.n.to_string(),
            fmt_secs(s.median),
            fmt_range(s.min, s.max),
            mb_per_s(tree_bytes, s.median),
            fmt_kib(max_rss(samples)),
            format!("{:.2}", s.median / reference),
        ]);
    }
    let mut out = String::from("## rftree1 digest\n\n");
    let _ = writeln!(
        out,
        "`image::rftree` (RUNFILE.md §8.4) over the unpacked test image \
         (`$DSI_TEST_BUILD_STORAGE/img/dsi-test`) and a synthetic tree \
         (`target/bench-data/tree-1g`: 100 × 10 directories, 100,000 files of 6.5–14.5 KiB, \
         deterministic content, exactly 1 GiB). Page cache warm (one untimed run first). \
         Process rows: wall time of the whole process, peers alternated; peak RSS is the \
         maximum over runs. MB/s = bytes of regular files / median time. Ratio = median / \
         median of the reference (single-process coreutils `sha256sum` over the same files, \
         without the tree digest).\n"
    );
    out.push_str(&table(
        &[
            "Tree",
            "How",
            "Size",
            "n",
            "Median",
            "Min – max",
            "MB/s (median)",
            "Peak RSS",
            "Ratio",
        ],
        3,
        &rows,
    ));
    let _ = writeln!(
        out,
        "\nDigests: dsi-test image `{img_digest}`; tree-1g `{tree_digest}`."
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_tree_is_exactly_one_gib() {
        let total: u64 = (0..TREE_FILES).map(|i| tree_file_size(i) as u64).sum();
        assert_eq!(total, TREE_BYTES);
        assert_eq!(tree_file_path(0), "d00/s0/f000.bin");
        assert_eq!(tree_file_path(99_999), "d99/s9/f099.bin");
    }
}
