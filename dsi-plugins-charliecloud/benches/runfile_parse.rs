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
//! [`Runfile`]: dsi_plugins_charliecloud::runfile::Runfile

use std::hint::black_box;

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

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
}
