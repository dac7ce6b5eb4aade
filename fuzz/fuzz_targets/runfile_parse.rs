//! Fuzz the Runfile parser: no input may panic; whatever parses must
//! canonicalise idempotently to the same program, and argv generation must
//! not panic.
//!
//! Run from the repository root:
//! `cargo +nightly fuzz run runfile_parse fuzz/corpus/runfile_parse fuzz/seeds/runfile -- -dict=fuzz/runfile.dict`

#![no_main]

use dsi_plugins_charliecloud::runfile::{ArgvContext, Runfile, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let parsed = match parse(data) {
        Ok(p) => p,
        Err(e) => {
            let _ = e.render("Runfile");
            return;
        }
    };
    for w in &parsed.warnings {
        let _ = w.render("Runfile");
    }
    let rf = parsed.runfile;
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
    let ctx = ArgvContext::new("/work/ctx").with_storage("/var/tmp/s.ch");
    for i in 0..rf.steps().len() {
        let argv = rf.to_ch_run_argv(i, &ctx);
        assert_eq!(argv.first().map(String::as_str), Some("ch-run"));
    }
    let _ = (
        rf.image().for_path(),
        rf.workdirs(),
        rf.binds(),
        rf.passenv(),
        rf.labels(),
    );
});
