//! Throughput of the OUTPUT comparisons (RUNFILE-1.1 §5.5) on two text
//! files, each the median of N runs, from the page cache.
//!
//! ```text
//! verify_compare REPLAY REFERENCE [RUNS]
//! ```
//!
//! Measures `numbers` (rtol 1e-6), `lines` and `exact` streamed over both
//! files; one JSON line per measure on standard output: seconds and MB/s of
//! the replay file's size, and the peak resident set (KiB) after the runs.

use std::fs::File;
use std::io::BufReader;
use std::time::Instant;

use dsi_plugins_charliecloud::verify::compare;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn open(p: &str) -> BufReader<File> {
    BufReader::with_capacity(64 << 10, File::open(p).expect("input file"))
}

/// Peak resident set size of this process, in KiB.
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(r), Some(p)) = (args.first(), args.get(1)) else {
        eprintln!("usage: verify_compare REPLAY REFERENCE [RUNS]");
        std::process::exit(2);
    };
    let runs: usize = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(3);
    let size = std::fs::metadata(r).expect("replay file").len() as f64;
    let modes: [(&str, &dyn Fn() -> compare::Comparison); 3] = [
        ("numbers", &|| {
            compare::numbers(open(r), open(p), &[], 1e-6, 0.0).expect("readable")
        }),
        ("lines", &|| {
            compare::lines(open(r), open(p), &[]).expect("readable")
        }),
        ("exact", &|| {
            compare::exact(open(r), open(p)).expect("readable")
        }),
    ];
    for (name, f) in modes {
        let mut times = Vec::with_capacity(runs);
        let mut differs = false;
        for _ in 0..runs {
            let t = Instant::now();
            differs = f().difference.is_some();
            times.push(t.elapsed().as_secs_f64());
        }
        let secs = median(times);
        println!(
            "{{\"measure\":\"{name}\",\"bytes\":{size},\"secs\":{secs:.6},\"mb_per_s\":{:.1},\"differs\":{differs},\"peak_rss_kib\":{}}}",
            size / secs / 1e6,
            peak_rss_kib()
        );
    }
}
