//! `dsi record RUNFILE|URL`: the consumer plugin through the Terminal, into
//! every selected back-end.

use std::path::Path;

use dsi_core::{Interaction, ModuleKind, Options, Terminal};
use dsi_plugins_charliecloud::{consumer, records::text_at, runfile};
use serde_json::json;

use crate::backends;
use crate::cli::{GlobalArgs, RecordArgs};
use crate::exit::ExitStatus;
use crate::output::outln;
use crate::output::print_json;

/// Whether the argument names a git remote rather than a file.
pub(crate) fn looks_like_remote(source: &str) -> bool {
    if Path::new(source).exists() {
        return false;
    }
    if source.contains("://") {
        return true;
    }
    // scp-like `[user@]host:path`, with the ':' before any '/'.
    match (source.find(':'), source.find('/')) {
        (Some(c), Some(s)) => c < s && c > 0,
        (Some(c), None) => c > 0,
        _ => false,
    }
}

/// The consumer's options from the command line.
pub(crate) fn consumer_options(args: &RecordArgs) -> Options {
    let mut o = Options::new();
    if looks_like_remote(&args.source) {
        o.set("remote", args.source.clone());
    } else {
        o.set("runfile", args.source.clone());
    }
    if let Some(r) = &args.repo {
        o.set("repo", r.display().to_string());
    }
    if let Some(p) = &args.path {
        o.set("path", p.clone());
    }
    if let Some(m) = &args.message {
        o.set("message", m.clone());
    }
    if let Some(s) = &args.image.ch_storage {
        o.set("storage", s.display().to_string());
    }
    if args.image.offline {
        o.set("offline", "true");
    }
    if args.image.full {
        o.set("full", "true");
    }
    o
}

/// What a record produced, for output and for `dsi run`.
pub(crate) struct Recorded {
    pub(crate) run_id: String,
    pub(crate) commit: String,
    pub(crate) json: serde_json::Value,
}

/// Records and stores; returns the new run.
pub(crate) fn record(global: &GlobalArgs, args: &RecordArgs) -> anyhow::Result<Recorded> {
    let options = consumer_options(args);
    // Warnings are the linter's business, but a user recording should see them.
    if let Some(path) = options.get("runfile")
        && let Ok(bytes) = std::fs::read(path)
        && let Ok(parsed) = runfile::parse(&bytes)
    {
        for w in &parsed.warnings {
            eprintln!("{}", w.render(path));
        }
    }
    let mut terminal = Terminal::new();
    terminal.load_module(ModuleKind::Plugin, consumer::NAME, &options)?;
    for d in backends::open(global)? {
        terminal.load_driver(d)?;
    }
    terminal.transload()?;
    terminal.artifact_handler(Interaction::Put)?;
    let runs = terminal
        .middleware()
        .table(dsi_plugins_charliecloud::records::RUNS)
        .expect("the consumer writes a runs row");
    let get = |c: &str| text_at(runs, 0, c);
    let blob = runs
        .get(0, "container_run_commands")
        .and_then(|v| v.as_blob())
        .map(|b| json!({"sha256": b.sha256_hex(), "len": b.len()}));
    let stores: Vec<&str> = terminal.drivers().iter().map(|d| d.name()).collect();
    let json = json!({
        "run_id": get("run_id"),
        "commit": get("commit"),
        "image": get("image_ref"),
        "image_digest": get("image_digest"),
        "image_checks": get("image_checks"),
        "runfile_path": get("runfile_path"),
        "runfile_digest": get("runfile_digest"),
        "container_run_commands": blob,
        "stores": stores,
    });
    Ok(Recorded {
        run_id: get("run_id").unwrap_or_default(),
        commit: get("commit").unwrap_or_default(),
        json,
    })
}

/// `dsi record`.
pub(crate) fn run(global: &GlobalArgs, args: &RecordArgs) -> anyhow::Result<ExitStatus> {
    let r = record(global, args)?;
    if global.json {
        print_json(&r.json)?;
    } else {
        outln!("recorded run {} at commit {}", r.run_id, r.commit)?;
    }
    Ok(ExitStatus::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remotes_are_told_from_paths() {
        assert!(looks_like_remote("https://example.org/r.git"));
        assert!(looks_like_remote("file:///tmp/r"));
        assert!(looks_like_remote("git@example.org:lab/r.git"));
        assert!(!looks_like_remote("Runfile"));
        assert!(!looks_like_remote("./runs/Runfile"));
        assert!(!looks_like_remote("/abs/Runfile"));
    }
}
