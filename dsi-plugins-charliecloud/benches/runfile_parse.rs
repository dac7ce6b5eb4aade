//! Runfile parse + canonicalise throughput, in Runfiles per second, for
//! three examples: the minimal V-1 and the 13-line V-2 of RUNFILE.md §11.1
//! (directive, comments, labels, ENV, UNSETENV, WORKDIR, a continued CMD),
//! and the 8-line W-1 of RUNFILE-1.1 §9.1 (a path image, INPUT, BIND,
//! OUTPUT, METRIC and EXPECT with numbers and RE1 expressions). The issue's
//! goal: a 1.1 line costs less than twice a v1 line (W-1 vs V-2 per line).
//!
//! Two measurements per Runfile: `parse` (bytes → [`Runfile`]) and
//! `parse_canonical_digest` (parse, then the canonical text and the
//! `runfile1+sha256:` digest). `cargo xtask bench` runs this and reads
//! criterion's `estimates.json`; run it alone with
//! `cargo bench -p dsi-plugins-charliecloud --bench runfile_parse`.
//!
//! The goal is a ratio of two medians measured minutes apart, which a noisy
//! machine (a shared VM) can move by ±20%. So the bench also measures it
//! *paired*: rounds of a few milliseconds alternate V-2 and W-1, each round
//! gives one per-line ratio, and the median and quartiles of those ratios
//! are written to `target/criterion/runfile_parse/paired.json` (each pair of
//! rounds ran under the same load).
//!
//! [`Runfile`]: dsi_plugins_charliecloud::runfile::Runfile

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput};
use dsi_plugins_charliecloud::runfile::parse;

/// The `D` of RUNFILE.md §11.
const D: &str = "127.0.0.1:5000/rf-base@sha256:14d210e7a9e06824ac3ec275952f8e625fd2f4d91e107fa4cab109663d31b155";

/// V-1 minimal.
const V1: &str = "FROM {D}\nCMD [\"/opt/app/bin/hello\", \"a\", \"b c\"]\n";

/// V-2: directive, comments, labels, env, continuation (13 lines).
const V2: &str = r#"# runfile=1

# Provenance run for experiment 42 (comments and blank lines are not canonical)
FROM {D}
LABEL org.opencontainers.image.description="demo run" \
      gov.lanl.dsi.experiment=42
ENV GREETING="hi there" MODE=fast
ENV EMPTY=
UNSETENV APP_HOME
WORKDIR /opt/app
CMD echo "greeting=$GREETING mode=$MODE" && \
    # a comment line inside a continuation is dropped
    echo "pwd=$(pwd) app_home=${APP_HOME:-unset} empty=[$EMPTY]" && env | sort
"#;

/// `S1` of RUNFILE-1.1 §9.
const S1: &str =
    "./img/rf-tiny.sqfs@sha256:24cf73d045ac311b323a08e59cf91e083f4d08041ee636c72581a2398a2acee6";

/// W-1: a path image and the verification instructions (8 lines).
const W1: &str = r#"FROM {S1}
INPUT ./data/case7.yaml
BIND data:/mnt/0
BIND out:/mnt/1
OUTPUT --ignore="^# date" --atol=1e-12 --compare=numbers --rtol=0.0010 out/energy.txt
METRIC energy --from=out/energy.txt --regex="^E_total += +(?P<value>\\S+)" --rtol=1e-9
EXPECT --no-regex="(?:^|[^A-Za-z])(?:NaN|nan)"
CMD ["/bin/sh", "-c", "/mnt/0/solve > /mnt/1/energy.txt"]
"#;

fn runfiles() -> [(&'static str, Vec<u8>); 3] {
    [
        ("v1_minimal", V1.replace("{D}", D).into_bytes()),
        ("v2_realistic", V2.replace("{D}", D).into_bytes()),
        ("w1_verification", W1.replace("{S1}", S1).into_bytes()),
    ]
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("runfile_parse");
    g.throughput(Throughput::Elements(1));
    for (name, src) in runfiles() {
        // Fail loudly, not by benchmarking the error path.
        let parsed = parse(&src).unwrap_or_else(|e| panic!("{name}: {}", e.render(name)));
        assert!(parsed.runfile.digest().starts_with("runfile1+sha256:"));
        if name == "w1_verification" {
            // The digest RUNFILE-1.1 §9.1 prints: the text is W-1 exactly.
            assert_eq!(
                parsed.runfile.digest(),
                "runfile1+sha256:a33fb517559b83578ac6620013f2973e450527125706f31e1847c50e72e31b05"
            );
        }
        g.bench_with_input(BenchmarkId::new("parse", name), &src, |b, src| {
            b.iter(|| parse(black_box(src)).expect("valid Runfile"));
        });
        g.bench_with_input(
            BenchmarkId::new("parse_canonical_digest", name),
            &src,
            |b, src| {
                b.iter(|| {
                    let p = parse(black_box(src)).expect("valid Runfile");
                    let canonical = p.runfile.canonical();
                    (canonical, p.runfile.digest())
                });
            },
        );
    }
    g.finish();
}

/// Physical lines of V-2 and W-1, the per-line divisors.
const LINES: (f64, f64) = (13.0, 8.0);

/// Seconds per iteration of `work`, timed over `iters` iterations.
fn time(iters: u32, work: &dyn Fn()) -> f64 {
    let start = Instant::now();
    for _ in 0..iters {
        work();
    }
    start.elapsed().as_secs_f64() / f64::from(iters)
}

/// The `q`-quantile of sorted `v` (nearest rank).
fn quantile(v: &[f64], q: f64) -> f64 {
    // Truncation is the nearest-rank rule; `v` is never empty here.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let i = ((v.len() - 1) as f64 * q).round() as usize;
    v[i]
}

/// Per-line W-1/V-2 ratios of `work` over alternating rounds: returns
/// (median, lower quartile, upper quartile, rounds).
fn paired(v2: &[u8], w1: &[u8], work: fn(&[u8]), budget: Duration) -> (f64, f64, f64, usize) {
    // About 2 ms per round and Runfile.
    let iters = (0.002 / time(200, &|| work(v2))).clamp(10.0, 1e6);
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let iters = iters as u32;
    let mut ratios = Vec::new();
    let start = Instant::now();
    while start.elapsed() < budget || ratios.len() < 21 {
        // Alternate which goes first, so neither always runs warm.
        let (a, b) = if ratios.len() % 2 == 0 {
            let a = time(iters, &|| work(black_box(v2)));
            (a, time(iters, &|| work(black_box(w1))))
        } else {
            let b = time(iters, &|| work(black_box(w1)));
            (time(iters, &|| work(black_box(v2))), b)
        };
        ratios.push((b / LINES.1) / (a / LINES.0));
    }
    ratios.sort_by(f64::total_cmp);
    (
        quantile(&ratios, 0.5),
        quantile(&ratios, 0.25),
        quantile(&ratios, 0.75),
        ratios.len(),
    )
}

fn parse_only(src: &[u8]) {
    black_box(parse(src).expect("valid Runfile"));
}

fn parse_canonical_digest(src: &[u8]) {
    let p = parse(src).expect("valid Runfile");
    black_box((p.runfile.canonical(), p.runfile.digest()));
}

/// The paired measurement, written where `cargo xtask bench` reads it.
fn write_paired(budget: Duration) {
    let [_, (_, v2), (_, w1)] = runfiles();
    let mut json = serde_json::Map::new();
    for (name, work) in [
        ("parse", parse_only as fn(&[u8])),
        ("parse_canonical_digest", parse_canonical_digest),
    ] {
        let (median, q1, q3, rounds) = paired(&v2, &w1, work, budget);
        println!(
            "paired per-line W-1/V-2 {name}: median {median:.3} (quartiles {q1:.3}–{q3:.3}, {rounds} rounds)"
        );
        json.insert(
            name.to_owned(),
            serde_json::json!({"median": median, "q1": q1, "q3": q3, "rounds": rounds}),
        );
    }
    // Where criterion writes: `CRITERION_HOME`, else `target/criterion`.
    let home = std::env::var_os("CRITERION_HOME").map_or_else(
        || std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/criterion"),
        Into::into,
    );
    let dir = home.join("runfile_parse");
    std::fs::create_dir_all(&dir).expect("criterion directory");
    std::fs::write(
        dir.join("paired.json"),
        serde_json::Value::Object(json).to_string(),
    )
    .expect("writing paired.json");
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
    // Only when benchmarking (`cargo bench` passes `--bench`; `cargo test`
    // runs benches once with `--test`), for as long as criterion measures
    // each benchmark (`--measurement-time`, 5 s by default).
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--test") {
        let seconds = args
            .iter()
            .position(|a| a == "--measurement-time")
            .and_then(|i| args.get(i + 1)?.parse::<f64>().ok())
            .unwrap_or(5.0);
        write_paired(Duration::from_secs_f64(seconds));
    }
}
