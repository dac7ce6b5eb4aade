//! Fuzz the Runfile parser (v1 and 1.1): no input may panic; whatever
//! parses must canonicalise idempotently to the same program, argv
//! generation and the static report must not panic, and every RE1
//! expression it holds must compile.
//!
//! Run from the repository root:
//! `cargo +nightly fuzz run runfile_parse fuzz/corpus/runfile_parse fuzz/seeds/runfile -- -dict=fuzz/runfile.dict`

#![no_main]

use dsi_plugins_charliecloud::runfile::{ArgvContext, Report, Runfile, diagnose, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let diagnostics = diagnose(data);
    let parsed = match parse(data) {
        Ok(p) => p,
        Err(e) => {
            let _ = e.render("Runfile");
            assert_eq!(diagnostics.last(), Some(&e), "diagnose ends with the error");
            return;
        }
    };
    assert_eq!(
        diagnostics, parsed.warnings,
        "diagnose of a valid Runfile: its warnings"
    );
    for w in &parsed.warnings {
        let _ = w.render("Runfile");
    }
    let ctx = ArgvContext::new("/work/ctx").with_storage("/var/tmp/s.ch");
    let report = Report::new(&parsed, &ctx.clone().with_mount("/m"));
    let rf = parsed.runfile;
    assert_eq!(report.steps.len(), rf.steps().len());
    let canonical = rf.canonical();
    let again = match Runfile::parse_str(&canonical) {
        Ok(r) => r,
        Err(e) => panic!("canonical form does not parse: {e}\n{canonical}"),
    };
    assert_eq!(
        again.canonical(),
        canonical,
        "canonicalisation is not idempotent"
    );
    assert_eq!(again.digest(), rf.digest());
    assert_eq!(
        again.without_positions(),
        rf.without_positions(),
        "canonical form is another program"
    );
    for (i, step) in rf.steps().iter().enumerate() {
        let argv = rf.to_ch_run_argv(i, &ctx);
        let launcher = step.launch.as_ref().map_or(0, |l| l.argv.len());
        assert_eq!(argv.get(launcher).map(String::as_str), Some("ch-run"));
    }
    for o in rf.outputs() {
        for r in &o.ignore {
            assert!(r.compile().is_ok(), "RE1 {:?} compiles", r.source());
        }
    }
    for m in rf.metrics() {
        assert!(m.regex.compile().is_ok(), "RE1 {:?} compiles", m.regex.source());
    }
    for e in rf.expects() {
        let r = e.test.re1();
        assert!(r.compile().is_ok(), "RE1 {:?} compiles", r.source());
    }
    let _ = (
        rf.image().for_path(),
        rf.workdirs(),
        rf.binds(),
        rf.passenv(),
        rf.labels(),
        rf.inputs(),
        rf.launches(),
    );
});
