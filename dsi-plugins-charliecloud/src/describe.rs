//! What `dsi show` and `dsi log` tell about records: one record with its
//! Runfile and its repository's history, and a project's history with the
//! records and replays of each commit.

use std::path::Path;

use dsi_core::{Result, Stores};
use schemars::JsonSchema;
use serde::Serialize;

use crate::artifact::{BoundedRepo, Limits, LogEntry};
use crate::find::FoundRecord;
use crate::listing::RunSummary;
use crate::records::{RunRecord, query};
use crate::repository::RecordRepository;

/// One record, described.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RunDescription {
    /// The record.
    pub run: RunRecord,
    /// The Runfile's text at its commit (lossy UTF-8), when stored.
    pub runfile: Option<String>,
    /// The newest commits of its repository, from its commit.
    pub log: Vec<LogEntry>,
    /// Its replays (of a record), oldest first.
    pub replays: Vec<RunSummary>,
}

/// Describes a record: its Runfile and history come from its stored
/// repository (opened as untrusted input).
pub fn describe(stores: Stores<'_>, found: &FoundRecord<'_>, log: usize) -> Result<RunDescription> {
    let run = found.record.clone();
    let (runfile, history) = match run.repository {
        Some(_) => {
            let repo = RecordRepository::open(stores, found)?;
            let runfile = repo
                .runfile_of(&run)?
                .map(|b| String::from_utf8_lossy(&b).into_owned());
            let history = match run.commit {
                Some(_) => repo.log(&run, log)?,
                None => Vec::new(),
            };
            (runfile, history)
        }
        None => (None, Vec::new()),
    };
    let replays = if run.is_replay() {
        Vec::new()
    } else {
        match stores.rows(&query::replays_of(&run.run_id), query::KEY)? {
            Some(t) => RunRecord::from_table(&t)?
                .iter()
                .map(RunSummary::from)
                .collect(),
            None => Vec::new(),
        }
    };
    Ok(RunDescription {
        run,
        runfile,
        log: history,
        replays,
    })
}

/// One commit of a project's history, with its records and replays.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CommitHistory {
    /// The commit.
    #[serde(flatten)]
    pub commit: LogEntry,
    /// Its records and replays in the stores, newest first.
    pub runs: Vec<RunSummary>,
}

/// The newest `n` commits of a repository (from HEAD), each with what the
/// stores hold of it.
pub fn history(
    stores: Stores<'_>,
    repo: &git2::Repository,
    n: usize,
) -> Result<Vec<CommitHistory>> {
    let head = repo.head().and_then(|h| h.peel_to_commit()).map_err(|e| {
        dsi_core::Error::InvalidData(format!("the repository has no commits: {}", e.message()))
    })?;
    let entries = BoundedRepo::local(repo, &Limits::default())
        .log(head.id(), n)
        .map_err(dsi_core::Error::from)?;
    let mut out = Vec::with_capacity(entries.len());
    for commit in entries {
        let runs = match stores.rows(&query::by_commit_prefix(&commit.commit, None), query::KEY)? {
            Some(t) => RunRecord::from_table(&t)?
                .iter()
                .map(RunSummary::from)
                .collect(),
            None => Vec::new(),
        };
        out.push(CommitHistory { commit, runs });
    }
    Ok(out)
}

/// [`history`] of a repository directory.
pub fn history_of_dir(stores: Stores<'_>, dir: &Path, n: usize) -> Result<Vec<CommitHistory>> {
    let repo = git2::Repository::open(dir).map_err(|e| {
        dsi_core::Error::InvalidData(format!(
            "{} is not a git repository: {}",
            dir.display(),
            e.message()
        ))
    })?;
    history(stores, &repo, n)
}

/// [`history`] of a record's stored repository.
pub fn history_of_record(
    stores: Stores<'_>,
    found: &FoundRecord<'_>,
    n: usize,
) -> Result<Vec<CommitHistory>> {
    let repo = RecordRepository::open(stores, found)?;
    history(stores, repo.git(), n)
}
