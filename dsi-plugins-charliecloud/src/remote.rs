//! Git remotes: moving a record's repository between dsi and a remote the
//! user names at call time (`file`, `ssh` through the agent and
//! `~/.ssh/config`, `https` through git's credential helpers, `git`).
//!
//! A remote is not a back-end — it keeps no rows and answers no queries —
//! so [`GitRemote`] is a value that `dsi push`, `dsi pull` and
//! `dsi record URL` use directly:
//!
//! * [`GitRemote::push`] unpacks a stored repository (verifying its digest
//!   as it streams, with the hostile-input rules of [`artifact::unpack`])
//!   and pushes its branches and tags;
//! * [`GitRemote::fetch`] clones the remote with every branch, packs it
//!   like the consumer does, and returns a record of it (commit, Runfile
//!   identity if there is one) with the packed repository.
//!
//! [`push`] and [`pull`] are the workflows of `dsi push` and `dsi pull`:
//! a stored record's repository to a remote, a remote's HEAD into the
//! stores as a new record.
//!
//! The URL is held only in memory: it is never written into a row, a
//! store, a repository's config or a log, and every error message has its
//! credentials removed. Remote-helper URLs (`ext::`, `fd::`) are refused.

use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

use dsi_core::blob::VerifyingReader;
use dsi_core::terminal::put_collection;
use dsi_core::{BlobRef, Collection, Driver, Error, PendingBlob, Result, Stores};
use schemars::JsonSchema;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::artifact::{self, Limits, repo};
use crate::find::{self, Want};
use crate::records::{Function, RunRecord};
use crate::repository;

/// A git remote named by the user.
pub struct GitRemote {
    url: String,
    path: PathBuf,
}

impl std::fmt::Debug for GitRemote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitRemote")
            .field("remote", &repo::strip_credentials(&self.url))
            .finish_non_exhaustive()
    }
}

/// What [`push`] did (`dsi push --json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Pushed {
    /// The record pushed.
    pub run_id: String,
    /// The remote, without credentials.
    pub remote: String,
    /// The refs pushed (`refs/heads/main`, `refs/tags/v1`, …).
    pub refs: Vec<String>,
}

/// What [`pull`] did (`dsi pull --json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Pulled {
    /// The record made of the remote's HEAD.
    pub run_id: String,
    /// Its commit.
    pub commit: Option<String>,
    /// The remote, without credentials.
    pub remote: String,
}

/// Pushes the repository of the record `reference` names (a run id or a
/// commit prefix) to `url`: every branch and tag.
pub fn push(stores: Stores<'_>, reference: &str, url: &str) -> Result<Pushed> {
    let found = find::reference(stores, reference, Want::Record)?;
    let blob = repository::blob_of(&found.record)?;
    let remote = GitRemote::new(url, None)?;
    let mut reader = stores.blob(&blob, Some(found.store))?;
    let refs = remote.push(&blob, &mut reader)?;
    Ok(Pushed {
        run_id: found.record.run_id.clone(),
        remote: remote.shown(),
        refs,
    })
}

/// Clones `url` and stores a record of its HEAD (its Runfile at `path`,
/// default `Runfile`, when there is one) with the packed repository in
/// every store of `drivers`.
pub fn pull(drivers: &[Box<dyn Driver>], url: &str, path: Option<PathBuf>) -> Result<Pulled> {
    let remote = GitRemote::new(url, path)?;
    let fetched = remote.fetch()?;
    let mut c = Collection::of(fetched.record.to_table()?);
    c.push_blob(fetched.blob);
    for d in drivers {
        put_collection(d.as_ref(), &c)?;
    }
    Ok(Pulled {
        run_id: fetched.record.run_id,
        commit: fetched.record.commit,
        remote: remote.shown(),
    })
}

/// What a fetch produced: a record of the remote's HEAD and its packed
/// repository, ready to store.
#[derive(Debug)]
pub struct Fetched {
    /// The record (function `consumer`, no image check: nothing was run).
    pub record: RunRecord,
    /// The packed repository the record refers to.
    pub blob: PendingBlob,
}

const NAME: &str = "git remote";

impl GitRemote {
    /// A remote at `url`, whose Runfile is at `path` (default `Runfile`).
    pub fn new(url: impl Into<String>, path: Option<PathBuf>) -> Result<Self> {
        let url = url.into();
        repo::check_remote_url(&url).map_err(|e| Error::config(NAME, e.0))?;
        Ok(GitRemote {
            url,
            path: path.unwrap_or_else(|| PathBuf::from("Runfile")),
        })
    }

    /// The URL without credentials, for messages.
    pub fn shown(&self) -> String {
        repo::strip_credentials(&self.url)
    }

    fn secrets(&self) -> Vec<String> {
        repo::url_secrets(&self.url)
    }

    fn fail(&self, msg: impl std::fmt::Display) -> Error {
        let secrets = self.secrets();
        let refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
        Error::backend(NAME, repo::GitError(repo::redact(&msg.to_string(), &refs)))
    }

    /// Unpacks a packed repository from `content` (verified against `blob`)
    /// and pushes every branch and tag to the remote; returns the refs.
    pub fn push(&self, blob: &BlobRef, content: &mut dyn Read) -> Result<Vec<String>> {
        let work =
            tempfile::tempdir().map_err(|e| Error::io("creating a temporary directory", e))?;
        let verified = VerifyingReader::new(content, *blob);
        let unpacked =
            artifact::unpack_stored_repository(verified, work.path(), &Limits::default())
                .map_err(Error::from)?;
        let r = unpacked.repo;
        let mut refs = Vec::new();
        for reference in r
            .references()
            .map_err(|e| self.fail(e.message()))?
            .flatten()
        {
            if let Ok(name) = reference.name()
                && (name.starts_with("refs/heads/") || name.starts_with("refs/tags/"))
            {
                refs.push(name.to_owned());
            }
        }
        if refs.is_empty() {
            return Err(Error::InvalidData(format!(
                "the repository in blob {blob} has no branches or tags"
            )));
        }
        // `git push --porcelain` reports each ref; a rejected one starts with '!'.
        let secrets = self.secrets();
        let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
        let specs: Vec<String> = refs.iter().map(|r| format!("{r}:{r}")).collect();
        let mut args = vec!["push", "--porcelain", "--", self.url.as_str()];
        args.extend(specs.iter().map(String::as_str));
        let shown = repo::strip_credentials(&self.url);
        let out = repo::git_network_output(Some(work.path()), &args, &secrets)
            .map_err(|e| self.fail(format!("pushing to {shown}: {}", e.0)))?;
        let rejected = rejected_refs(&out.stdout);
        if !rejected.is_empty() {
            return Err(self.fail(format!("{shown} refused {}", rejected.join("; "))));
        }
        if !out.success {
            return Err(self.fail(format!("pushing to {shown}: {}", out.reason)));
        }
        Ok(refs)
    }

    /// Clones the remote (every branch) and packs it.
    pub fn fetch(&self) -> Result<Fetched> {
        let work =
            tempfile::tempdir().map_err(|e| Error::io("creating a temporary directory", e))?;
        let dir = work.path().join("clone");
        let r = repo::clone_all_branches(&self.url, &dir).map_err(|e| self.fail(e))?;
        let head_commit = r.head().and_then(|h| h.peel_to_commit()).ok();
        let head = head_commit.as_ref().map(git2::Commit::id);
        let tree = head_commit.as_ref().map(|c| c.tree_id().to_string());
        let bounded = artifact::BoundedRepo::local(&r, &Limits::default());
        let runfile = match head {
            Some(h) => bounded
                .read_file(h, &self.path, crate::runfile_source::MAX_RUNFILE_BYTES)
                .map_err(Error::from)?,
            None => None,
        };
        let parsed = runfile
            .as_deref()
            .and_then(|b| crate::runfile::parse(b).ok());
        let packed = artifact::pack(&dir, None)
            .map_err(|e| Error::io("packing the fetched repository", e))?;
        let mut record = RunRecord::new(Function::Consumer);
        record.commit = head.map(|h| h.to_string());
        record.commit_tree = tree;
        record.runfile.path = runfile.as_ref().map(|_| self.path.display().to_string());
        record.runfile.sha256 = runfile.as_deref().map(|b| hex::encode(Sha256::digest(b)));
        record.runfile.digest = parsed.as_ref().map(|p| p.runfile.digest());
        record.image.reference = parsed.as_ref().map(|p| p.runfile.image().name());
        record.image.digest = parsed
            .as_ref()
            .and_then(|p| p.runfile.image().digest().map(str::to_owned));
        record.repository = Some(packed.blob);
        let blob = packed.blob;
        let path = packed.file.to_path_buf();
        Ok(Fetched {
            record,
            blob: PendingBlob::from_file(blob, path, Some(Arc::new(packed.file))),
        })
    }
}

/// The refs `git push --porcelain` rejected, each with git's reason and
/// what to do about it: lines `!\tSRC:DST\t[rejected] (fetch first)`.
fn rejected_refs(porcelain: &str) -> Vec<String> {
    porcelain
        .lines()
        .filter_map(|l| l.strip_prefix('!'))
        .map(|l| {
            let mut fields = l.trim().split('\t');
            let spec = fields.next().unwrap_or_default();
            let dst = spec.rsplit(':').next().unwrap_or(spec);
            let why = fields.next().unwrap_or("rejected").trim();
            let hint = if why.contains("fetch first") || why.contains("non-fast-forward") {
                ": the remote has commits this record lacks (dsi pull them, or push to a new branch)"
            } else if why.contains("already exists") {
                ": the remote has another object under this name"
            } else {
                ""
            };
            format!("{dst} {why}{hint}")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejected_refs_name_the_ref_and_the_reason() {
        let out = "To /r.git\n!\trefs/heads/main:refs/heads/main\t[rejected] (fetch first)\n=\trefs/tags/v1:refs/tags/v1\t[up to date]\nDone\n";
        assert_eq!(
            rejected_refs(out),
            [
                "refs/heads/main [rejected] (fetch first): the remote has commits this record lacks (dsi pull them, or push to a new branch)"
            ]
        );
    }

    #[test]
    fn fetch_picks_a_branch_when_the_remote_head_is_unborn() {
        let dir = tempfile::tempdir().unwrap();
        let src = repo::open_or_init(&dir.path().join("src")).unwrap();
        let sig = git2::Signature::now("t", "t@h").unwrap();
        let c =
            repo::commit_file(&src, std::path::Path::new("Runfile"), b"x\n", "m", &sig).unwrap();
        let bare = git2::Repository::init_bare(dir.path().join("remote.git")).unwrap();
        bare.set_head("refs/heads/master").unwrap();
        let mut remote = src
            .remote_anonymous(dir.path().join("remote.git").to_str().unwrap())
            .unwrap();
        remote
            .push(&["refs/heads/main:refs/heads/main"], None)
            .unwrap();
        let url = format!("file://{}", dir.path().join("remote.git").display());
        let got = GitRemote::new(url, None).unwrap().fetch().unwrap();
        assert_eq!(got.record.commit, Some(c.to_string()));
        let mut content = got.blob.open().unwrap();
        let verified = VerifyingReader::new(&mut content, got.blob.blob_ref());
        let out = tempfile::tempdir().unwrap();
        artifact::unpack_stored_repository(verified, out.path(), &Limits::default()).unwrap();
    }

    #[test]
    fn remote_helper_urls_are_refused_before_git_runs() {
        let e = GitRemote::new("ext::sh -c id", None).unwrap_err();
        assert!(
            e.to_string().contains("remote-helper transport 'ext::'"),
            "{e}"
        );
    }
}
