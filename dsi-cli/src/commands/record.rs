//! `dsi record RUNFILE|URL`: the record workflow into every selected store.

use std::path::{Path, PathBuf};

use dsi_core::Access;
use dsi_plugins_charliecloud::consumer::{RecordConfig, Source};
use dsi_plugins_charliecloud::recording::{self, RecordRequest, Recorded};

use crate::cli::{GlobalArgs, RecordArgs};
use crate::commands::image_settings;
use crate::exit::ExitStatus;
use crate::output::{outln, print_json};
use crate::stores;

/// Whether the argument names a git remote rather than a file.
pub(crate) fn looks_like_remote(source: &str) -> bool {
    if Path::new(source).exists() {
        return false;
    }
    if source.contains("://") || source.contains("::") {
        return true;
    }
    // scp-like `[user@]host:path`, with the ':' before any '/'.
    match (source.find(':'), source.find('/')) {
        (Some(c), Some(s)) => c < s && c > 0,
        (Some(c), None) => c > 0,
        _ => false,
    }
}

/// The record request from the command line.
fn request(args: &RecordArgs) -> anyhow::Result<RecordRequest> {
    let source = if looks_like_remote(&args.source) {
        Source::Remote(args.source.clone())
    } else {
        Source::Runfile(PathBuf::from(&args.source))
    };
    Ok(RecordRequest {
        config: RecordConfig {
            source,
            repo: args.repo.clone(),
            path: args.path.as_ref().map(PathBuf::from),
            message: args.message.clone(),
            exclude: Vec::new(),
            images: image_settings(&args.image)?,
        },
        again: args.again,
    })
}

/// Records and stores; returns what was recorded.
pub(crate) fn record(global: &GlobalArgs, args: &RecordArgs) -> anyhow::Result<Recorded> {
    let request = request(args)?;
    Ok(recording::record(
        stores::open(global, Access::ReadWrite)?,
        request,
    )?)
}

/// `dsi record`.
pub(crate) fn run(global: &GlobalArgs, args: &RecordArgs) -> anyhow::Result<ExitStatus> {
    let r = record(global, args)?;
    if global.json {
        print_json(&r)?;
    } else if r.existing {
        outln!(
            "already recorded as run {} at commit {} (nothing stored; --again records it anew)",
            r.record.run_id,
            r.record.commit.as_deref().unwrap_or_default()
        )?;
    } else {
        outln!(
            "recorded run {} at commit {}",
            r.record.run_id,
            r.record.commit.as_deref().unwrap_or_default()
        )?;
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
        assert!(looks_like_remote("fd::3"));
        assert!(!looks_like_remote("Runfile"));
        assert!(!looks_like_remote("./runs/Runfile"));
        assert!(!looks_like_remote("/abs/Runfile"));
    }
}
