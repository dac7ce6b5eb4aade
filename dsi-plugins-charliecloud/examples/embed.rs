//! Embedding dsi in a Rust program, with library crates only: record a
//! Runfile into a SQLite store, replay it twice by an abbreviated commit
//! (the first replay is the reference, the second is verified against it),
//! and export the verified replay as W3C PROV-JSON.
//!
//! ```text
//! embed --storage DIR --store FILE.db RUNFILE
//! ```
//!
//! `DIR` is a ch-image storage holding the Runfile's image (the program
//! stays offline); `USER` must be set (ch-run needs it). The PROV document
//! goes to stdout, one summary line per step to stderr. `cargo xtask ci`
//! runs it on the test image.

use std::path::PathBuf;
use std::process::ExitCode;

use dsi_core::{Driver, Stores};
use dsi_driver_sqlite::SqliteDriver;
use dsi_plugins_charliecloud::compat::Policy;
use dsi_plugins_charliecloud::consumer::{RecordConfig, Source};
use dsi_plugins_charliecloud::export::{ExportRun, prov};
use dsi_plugins_charliecloud::find;
use dsi_plugins_charliecloud::producer::OutputTo;
use dsi_plugins_charliecloud::recording::{self, RecordRequest};
use dsi_plugins_charliecloud::replaying::{self, ReplayFrom, ReplayRequest};
use dsi_plugins_charliecloud::settings::ImageSettings;
use dsi_plugins_charliecloud::verify;

struct Args {
    storage: PathBuf,
    store: PathBuf,
    runfile: PathBuf,
}

fn args() -> Result<Args, String> {
    let (mut storage, mut store, mut runfile) = (None, None, None);
    let mut it = std::env::args_os().skip(1);
    while let Some(a) = it.next() {
        match a.to_str() {
            Some("--storage") => storage = it.next().map(PathBuf::from),
            Some("--store") => store = it.next().map(PathBuf::from),
            _ if runfile.is_none() => runfile = Some(PathBuf::from(a)),
            _ => return Err(format!("unexpected argument {}", a.to_string_lossy())),
        }
    }
    Ok(Args {
        storage: storage.ok_or("--storage DIR is required")?,
        store: store.ok_or("--store FILE is required")?,
        runfile: runfile.ok_or("RUNFILE is required")?,
    })
}

fn sqlite(path: &PathBuf) -> dsi_core::Result<Vec<Box<dyn Driver>>> {
    Ok(vec![Box::new(SqliteDriver::open(path)?)])
}

fn run(a: &Args) -> Result<bool, Box<dyn std::error::Error>> {
    // Offline: the image must already be in the storage; its digest is
    // still checked against the one recorded.
    let images = ImageSettings::new(Some(a.storage.clone()), false, false);

    // 1. Record: the Runfile is committed into a new repository, stored
    //    with the record.
    let recorded = recording::record(
        sqlite(&a.store)?,
        RecordRequest {
            config: RecordConfig {
                source: Source::Runfile(a.runfile.clone()),
                repo: None,
                path: None,
                message: None,
                exclude: Vec::new(),
                images: images.clone(),
            },
            again: false,
        },
    )?;
    let commit = recorded
        .record
        .commit
        .clone()
        .ok_or("the record has no commit")?;
    eprintln!("recorded run {} at commit {commit}", recorded.record.run_id);

    // 2. Replay by an abbreviated commit, twice: the first replay becomes
    //    the reference the second is verified against.
    let request = ReplayRequest {
        from: ReplayFrom::Reference(commit[..10].to_owned()),
        path: None,
        check: Policy::Warn,
        output: OutputTo::Stderr,
        into: None,
        images,
        verify: true,
        against: None,
        content_limit: verify::DEFAULT_CONTENT_LIMIT,
        campaign: None,
    };
    replaying::replay(sqlite(&a.store)?, request.clone())?;
    let replayed = replaying::replay(sqlite(&a.store)?, request)?;
    let verification = replayed.verification.ok_or("no verification")?;
    eprintln!(
        "replayed as run {}: {}",
        replayed.record.run_id, verification.verdict
    );

    // 3. Export the replay, with its record, as PROV-JSON, reading the
    //    store read-only.
    let readers: Vec<Box<dyn Driver>> = vec![Box::new(SqliteDriver::open_read_only(&a.store)?)];
    let stores = Stores::new(&readers);
    let found = find::by_id(stores, &replayed.record.run_id)?;
    let run = ExportRun::load(stores, &found, true)?;
    let parent = run.parent(stores)?;
    let doc = prov::document(&run, parent.as_ref());
    println!("{}", serde_json::to_string_pretty(&doc)?);
    Ok(verification.verdict.exit_code() == 0)
}

fn main() -> ExitCode {
    match args().map_err(Into::into).and_then(|a| run(&a)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("embed: {e}");
            ExitCode::from(2)
        }
    }
}
