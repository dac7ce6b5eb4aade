//! Digest throughput of a SquashFS path image (RUNFILE-1.1 §3): the file's
//! sha256 (V6), its tree digest read in-process (V5), and both through the
//! file-digest cache once it holds them, each the median of N runs.
//!
//! ```text
//! squashfs_digest IMAGE.sqfs [RUNS]
//! ```
//!
//! By default the runs read the file from the page cache (the first run
//! fills it). With `DSI_BENCH_DROP_CACHES=1` the page cache is dropped
//! before every timed run (`sync`, then `1` into `/proc/sys/vm/drop_caches`,
//! which needs root): cold reads from the disk. One JSON line per measure
//! on standard output: seconds and GB/s of the file's size.

use std::path::Path;
use std::time::Instant;

use dsi_plugins_charliecloud::image::digest_cache::DigestCache;
use dsi_plugins_charliecloud::image::path::{resolve_with_cache, sha256_file};
use dsi_plugins_charliecloud::image::{SquashFs, Storage};
use dsi_plugins_charliecloud::runfile::ImageRef;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Drops the page cache when `DSI_BENCH_DROP_CACHES=1`.
fn maybe_drop_caches() {
    if std::env::var("DSI_BENCH_DROP_CACHES").as_deref() == Ok("1") {
        rustix::fs::sync();
        std::fs::write("/proc/sys/vm/drop_caches", "1\n").expect("dropping the page cache (root)");
    }
}

fn timed<T>(runs: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut times = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs {
        maybe_drop_caches();
        let t = Instant::now();
        last = Some(f());
        times.push(t.elapsed().as_secs_f64());
    }
    (median(times), last.expect("at least one run"))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(image) = args.first() else {
        eprintln!("usage: squashfs_digest IMAGE.sqfs [RUNS]");
        std::process::exit(2);
    };
    let runs: usize = args.get(1).and_then(|r| r.parse().ok()).unwrap_or(5);
    let path = std::fs::canonicalize(image).expect("image path");
    let size = std::fs::metadata(&path).expect("image").len() as f64;
    let report = |what: &str, secs: f64| {
        println!(
            "{{\"measure\":\"{what}\",\"bytes\":{size},\"secs\":{secs:.6},\"gb_per_s\":{:.3}}}",
            size / secs / 1e9
        );
    };
    let (s, sha) = timed(runs, || sha256_file(&path).expect("sha256"));
    report("file sha256 (V6)", s);
    let (s, tree) = timed(runs, || {
        SquashFs::open(&path)
            .and_then(|fs| fs.tree_digest())
            .expect("tree digest")
    });
    report("tree digest in-process (V5)", s);
    let (s, entries) = timed(runs, || SquashFs::open(&path).expect("open").len());
    report(&format!("open only ({entries} inodes)"), s);

    let dir = tempfile::tempdir().expect("tempdir");
    let cache = DigestCache::new(dir.path().join("cache"));
    let img = ImageRef::Path {
        path: path.display().to_string(),
        file_digest: Some(sha),
        tree: Some(tree),
    };
    let storage = Storage::new(dir.path().join("storage"));
    let resolve =
        || resolve_with_cache(&img, 1, Path::new("/"), &storage, Some(&cache)).expect("resolve");
    maybe_drop_caches();
    let t = Instant::now();
    resolve();
    report("V6 + V5, cache empty (fills it)", t.elapsed().as_secs_f64());
    let (s, _) = timed(runs, resolve);
    report("V6 + V5, cached", s);
}
