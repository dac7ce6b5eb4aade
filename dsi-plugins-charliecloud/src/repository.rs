//! A record's repository, opened from the store: unpacked by the rules of
//! [`artifact::git_rules`] into a directory of its own and read within
//! budgets ([`artifact::BoundedRepo`]). `show`, `export`, `fsck`, `log`,
//! `push`, `checkout` and the producer all open stored repositories here.

use std::path::{Path, PathBuf};

use dsi_core::{BlobRef, Error, Result, Stores};

use crate::artifact::{self, BoundedRepo, Limits, LogEntry, Unpacked};
use crate::find::FoundRecord;
use crate::records::RunRecord;
use crate::runfile_source::MAX_RUNFILE_BYTES;

/// A record's repository, unpacked.
#[derive(Debug)]
pub struct RecordRepository {
    unpacked: Unpacked,
    limits: Limits,
    _dir: Option<tempfile::TempDir>,
}

/// The repository blob of a record, or an error naming the run.
pub fn blob_of(record: &RunRecord) -> Result<BlobRef> {
    record.repository.ok_or_else(|| {
        Error::InvalidData(format!("run {} has no repository artifact", record.run_id))
    })
}

fn name_run(id: &str) -> impl Fn(artifact::UnpackError) -> Error + '_ {
    move |e| match Error::from(e) {
        Error::Corrupt(m) => Error::Corrupt(format!("stored repository of run {id}: {m}")),
        Error::InvalidData(m) => Error::InvalidData(format!("stored repository of run {id}: {m}")),
        other => other,
    }
}

impl RecordRepository {
    /// Unpacks the record's repository into a temporary directory.
    pub fn open(stores: Stores<'_>, found: &FoundRecord<'_>) -> Result<Self> {
        let dir =
            tempfile::tempdir().map_err(|e| Error::io("creating a temporary directory", e))?;
        let unpacked = unpack_into(stores, found, dir.path())?;
        Ok(RecordRepository {
            unpacked,
            limits: Limits::default(),
            _dir: Some(dir),
        })
    }

    /// The repository's directory.
    pub fn path(&self) -> PathBuf {
        self.unpacked.repo.workdir().map_or_else(
            || self.unpacked.repo.path().to_path_buf(),
            Path::to_path_buf,
        )
    }

    /// The repository, with reads budgeted by its stored size.
    pub fn bounded(&self) -> BoundedRepo<'_> {
        self.unpacked.bounded(&self.limits)
    }

    /// The git repository itself.
    pub fn git(&self) -> &git2::Repository {
        &self.unpacked.repo
    }

    /// The commit a record names, resolved in this repository.
    pub fn commit_of(&self, record: &RunRecord) -> Result<git2::Oid> {
        let commit = record
            .commit
            .as_deref()
            .ok_or_else(|| Error::InvalidData(format!("run {} names no commit", record.run_id)))?;
        artifact::repo::resolve_commit(&self.unpacked.repo, commit)
            .map_err(|e| Error::InvalidData(format!("run {}: {e}", record.run_id)))
    }

    /// The Runfile at the record's commit (`None` if the record names no
    /// Runfile path or the commit has none there).
    pub fn runfile_of(&self, record: &RunRecord) -> Result<Option<Vec<u8>>> {
        let Some(path) = record.runfile.path.as_deref() else {
            return Ok(None);
        };
        let oid = self.commit_of(record)?;
        let path = crate::consumer::repo_relative("repository", Path::new(path))?;
        self.bounded()
            .read_file(oid, &path, MAX_RUNFILE_BYTES)
            .map_err(Error::from)
    }

    /// The newest `n` commits of the record's history, from its commit.
    pub fn log(&self, record: &RunRecord, n: usize) -> Result<Vec<LogEntry>> {
        let oid = self.commit_of(record)?;
        self.bounded().log(oid, n).map_err(Error::from)
    }
}

/// Unpacks a record's repository into `target` (which must exist and be
/// empty), from the store that holds the record or any other.
pub fn unpack_into(stores: Stores<'_>, found: &FoundRecord<'_>, target: &Path) -> Result<Unpacked> {
    let blob = blob_of(&found.record)?;
    let reader = stores.blob(&blob, Some(found.store))?;
    artifact::unpack_stored_repository(reader, target, &Limits::default())
        .map_err(name_run(&found.record.run_id))
}

/// What [`checkout`] made.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct CheckedOut {
    /// The record checked out.
    pub run_id: String,
    /// Its commit.
    pub commit: Option<String>,
    /// The directory.
    pub dir: PathBuf,
}

/// Unpacks a record's repository into `dir` (created; it must not exist or
/// be empty) for ordinary git work. On any failure the directory is
/// removed again, so nothing half-written is left behind.
pub fn checkout(stores: Stores<'_>, found: &FoundRecord<'_>, dir: &Path) -> Result<CheckedOut> {
    if dir.exists()
        && std::fs::read_dir(dir)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        return Err(Error::Refused(format!(
            "{} exists and is not empty",
            dir.display()
        )));
    }
    let created = !dir.exists();
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    match unpack_into(stores, found, dir) {
        Ok(_) => Ok(CheckedOut {
            run_id: found.record.run_id.clone(),
            commit: found.record.commit.clone(),
            dir: dir.to_path_buf(),
        }),
        Err(e) => {
            // Leave nothing half-written behind (an existing empty
            // directory is emptied, not removed).
            if created {
                let _ = std::fs::remove_dir_all(dir);
            } else if let Ok(entries) = std::fs::read_dir(dir) {
                for entry in entries.flatten() {
                    let p = entry.path();
                    let _ = if p.is_dir() && !p.is_symlink() {
                        std::fs::remove_dir_all(&p)
                    } else {
                        std::fs::remove_file(&p)
                    };
                }
            }
            Err(e)
        }
    }
}
