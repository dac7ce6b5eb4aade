//! Dynamic shell completion (`COMPLETE=bash dsi`, registered by
//! `dsi completions SHELL`): besides subcommands and options, the values
//! only a store or this build knows — run ids and commits for every
//! argument that takes a run reference, driver names for `--driver`.
//!
//! Completion runs before logging is set up and reads the store that the
//! configuration and environment name (`DSI_STORE`, `DSI_DRIVER`,
//! `dsi.toml`; options on the command line being completed are not seen).
//! It never creates a store and never prints an error: a store that
//! cannot be read offers no candidates.

use std::collections::BTreeSet;
use std::ffi::OsStr;

use clap_complete::engine::CompletionCandidate;
use dsi_core::{Access, Stores};
use dsi_plugins_charliecloud::listing;
use dsi_plugins_charliecloud::records::query::ListFilter;

use crate::cli::GlobalArgs;
use crate::stores;

/// How many of the newest runs are offered.
const NEWEST: u64 = 500;

/// Run ids and commits of the newest runs in the configured store that
/// start with what has been typed; each run id described by its function
/// and time, each commit by its newest run.
pub(crate) fn run_refs(current: &OsStr) -> Vec<CompletionCandidate> {
    let Some(typed) = current.to_str() else {
        return Vec::new();
    };
    let global = GlobalArgs::from_environment();
    let Ok(drivers) = stores::open(&global, Access::ReadOnly) else {
        return Vec::new();
    };
    let Ok(page) = listing::list(Stores::new(&drivers), &ListFilter::default(), Some(NEWEST))
    else {
        return Vec::new();
    };
    let mut commits = BTreeSet::new();
    let mut out = Vec::new();
    for run in &page.runs {
        let when = run.recorded_at.as_deref().unwrap_or_default();
        if run.run_id.starts_with(typed) {
            out.push(
                CompletionCandidate::new(&run.run_id)
                    .help(Some(format!("{} {when}", run.function.as_str()).into())),
            );
        }
        if let Some(c) = run.commit.as_deref()
            && c.starts_with(typed)
            && commits.insert(c.to_owned())
        {
            out.push(
                CompletionCandidate::new(c)
                    .help(Some(format!("commit, newest run {}", run.run_id).into())),
            );
        }
    }
    out
}

/// The driver names this build contains.
pub(crate) fn driver_names() -> Vec<CompletionCandidate> {
    dsi_core::registry::drivers()
        .unwrap_or_default()
        .into_iter()
        .map(|d| CompletionCandidate::new(d.name))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_driver_of_this_build_is_offered() {
        let names: Vec<String> = driver_names()
            .iter()
            .map(|c| c.get_value().to_string_lossy().into_owned())
            .collect();
        #[cfg(feature = "sqlite")]
        assert!(names.contains(&"sqlite".to_owned()), "{names:?}");
        assert_eq!(
            names.len(),
            dsi_core::registry::drivers().unwrap().len(),
            "{names:?}"
        );
    }
}
