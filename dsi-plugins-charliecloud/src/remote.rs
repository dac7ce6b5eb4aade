//! The `git` driver: moves artifacts between dsi and a git remote that the
//! user names at call time (`remote=URL`: file, ssh through the agent, https
//! through git's credential helpers).
//!
//! * **put** — [`Driver::put_blob`] receives a packed repository, unpacks it
//!   (verifying its digest as it streams, with the hostile-input checks of
//!   [`artifact::unpack`]) and pushes its branches and tags to the remote.
//!   Rows themselves have no place in git: [`Driver::put`] accepts and
//!   ignores them.
//! * **get** — clones the remote, packs it like the consumer does, and
//!   returns one `runs` row (commit, Runfile identity if there is one,
//!   `container_run_commands`) whose blob content [`Driver::get_blob`] serves.
//!
//! The remote URL is held only in memory: it is never written into a row, a
//! store, a repository's config or a log, and every error message has its
//! credentials removed.

use std::io::Read;
use std::path::PathBuf;
use std::sync::Mutex;

use dsi_core::blob::{BlobReader, VerifyingReader};
use dsi_core::{
    BlobPut, BlobRef, Collection, Driver, DriverEntry, DriverFunction, Error, OptionSpec, Options,
    Query, Result, Timestamp,
};
use sha2::{Digest, Sha256};

use crate::artifact::{self, Limits, PackedRepo, repo};
use crate::records::{Identity, RunRow, new_run_id};

/// Registered name.
pub const NAME: &str = "git";

const OPTIONS: &[OptionSpec] = &[
    OptionSpec::required(
        "remote",
        "git remote URL to push to or fetch from (never stored)",
    ),
    OptionSpec::optional(
        "path",
        "location of the Runfile inside the repository (default Runfile)",
    ),
];

inventory::submit! {
    DriverEntry {
        name: NAME,
        function: DriverFunction::BackEnd,
        summary: "pushes recorded repositories to a git remote, or fetches one (the URL is never stored)",
        options: OPTIONS,
        build: |o| Ok(Box::new(GitDriver::from_options(o)?)),
    }
}

/// The git driver.
pub struct GitDriver {
    url: String,
    path: PathBuf,
    fetched: Mutex<Option<PackedRepo>>,
}

impl std::fmt::Debug for GitDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitDriver")
            .field("remote", &repo::strip_credentials(&self.url))
            .finish_non_exhaustive()
    }
}

/// What a push did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    /// The refs pushed (`refs/heads/main`, `refs/tags/v1`, …).
    pub refs: Vec<String>,
}

impl GitDriver {
    /// Builds the driver from validated options.
    pub fn from_options(options: &Options) -> Result<Self> {
        let url = options.require(NAME, "remote")?.to_owned();
        Ok(GitDriver {
            url,
            path: crate::consumer::repo_relative(NAME, options.get("path").unwrap_or("Runfile"))?,
            fetched: Mutex::new(None),
        })
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
    /// and pushes every branch and tag to the remote.
    pub fn push(&self, blob: &BlobRef, content: &mut dyn Read) -> Result<Pushed> {
        let work =
            tempfile::tempdir().map_err(|e| Error::io("creating a temporary directory", e))?;
        let verified = VerifyingReader::new(content, *blob);
        artifact::unpack_stored_repository(verified, work.path(), &Limits::default())
            .map_err(Error::from)?;
        let r = git2::Repository::open(work.path()).map_err(|e| {
            Error::InvalidData(format!(
                "blob {blob} is not a git repository: {}",
                e.message()
            ))
        })?;
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
        let report = repo::git_network(Some(work.path()), &args, &secrets)
            .map_err(|e| self.fail(format!("pushing to {shown}: {}", e.0)))?;
        let rejected: Vec<String> = report
            .lines()
            .filter(|l| l.starts_with('!'))
            .map(|l| l.trim_start_matches('!').trim().replace('\t', " "))
            .collect();
        if !rejected.is_empty() {
            return Err(self.fail(format!("{shown} refused {}", rejected.join("; "))));
        }
        Ok(Pushed { refs })
    }

    /// Clones the remote and packs it; returns the `runs` row.
    pub fn fetch(&self) -> Result<Collection> {
        let work =
            tempfile::tempdir().map_err(|e| Error::io("creating a temporary directory", e))?;
        let dir = work.path().join("clone");
        let r = repo::clone(&self.url, &dir).map_err(|e| Error::backend(NAME, e))?;
        // Keep every remote branch as a local branch, then forget the remote.
        let mut branches = Vec::new();
        for b in r
            .branches(Some(git2::BranchType::Remote))
            .map_err(|e| self.fail(e.message()))?
            .flatten()
        {
            let (branch, _) = b;
            if let (Ok(Some(name)), Ok(commit)) = (branch.name(), branch.get().peel_to_commit())
                && let Some(short) = name.split_once('/').map(|(_, s)| s.to_owned())
                && short != "HEAD"
            {
                branches.push((short, commit.id()));
            }
        }
        for (name, id) in branches {
            if r.find_branch(&name, git2::BranchType::Local).is_err() {
                let commit = r.find_commit(id).map_err(|e| self.fail(e.message()))?;
                r.branch(&name, &commit, false)
                    .map_err(|e| self.fail(e.message()))?;
            }
        }
        r.remote_delete("origin")
            .map_err(|e| self.fail(e.message()))?;
        if r.head().is_err() {
            // The remote's HEAD names a branch it does not have (a bare
            // repository made with another default branch): use main,
            // master or the first branch, as a `git clone` user would.
            let pick = ["main", "master"]
                .iter()
                .find(|b| r.find_branch(b, git2::BranchType::Local).is_ok())
                .map(|b| (*b).to_owned())
                .or_else(|| {
                    r.branches(Some(git2::BranchType::Local))
                        .ok()?
                        .flatten()
                        .find_map(|(b, _)| b.name().ok().flatten().map(str::to_owned))
                });
            if let Some(b) = pick {
                r.set_head(&format!("refs/heads/{b}"))
                    .map_err(|e| self.fail(e.message()))?;
                let mut co = git2::build::CheckoutBuilder::new();
                co.force();
                r.checkout_head(Some(&mut co))
                    .map_err(|e| self.fail(e.message()))?;
            }
        }
        let head = r
            .head()
            .and_then(|h| h.peel_to_commit())
            .ok()
            .map(|c| c.id());
        let runfile = head.and_then(|h| repo::read_at(&r, h, &self.path).ok().flatten());
        let parsed = runfile
            .as_deref()
            .and_then(|b| crate::runfile::parse(b).ok());
        let packed = artifact::pack(&dir, None)
            .map_err(|e| Error::io("packing the fetched repository", e))?;
        let row = RunRow {
            run_id: new_run_id(),
            function: "consumer",
            recorded_at: Some(Timestamp::now()),
            commit: head.map(|h| h.to_string()),
            runfile_path: runfile.as_ref().map(|_| self.path.display().to_string()),
            runfile_sha256: runfile.as_deref().map(|b| hex::encode(Sha256::digest(b))),
            runfile_digest: parsed.as_ref().map(|p| p.runfile.digest()),
            image_ref: parsed.as_ref().map(|p| p.runfile.image().name()),
            image_digest: parsed
                .as_ref()
                .and_then(|p| p.runfile.image().digest().map(str::to_owned)),
            container_run_commands: Some(packed.blob),
            identity: Some(Identity::current()),
            ..RunRow::default()
        };
        let mut c = Collection::of(row.to_table()?);
        let path = packed.file.to_path_buf();
        let blob = packed.blob;
        *self
            .fetched
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(packed);
        c.push_blob(dsi_core::PendingBlob::from_file(blob, path, None));
        Ok(c)
    }
}

impl Driver for GitDriver {
    fn name(&self) -> &str {
        NAME
    }

    fn function(&self) -> DriverFunction {
        DriverFunction::BackEnd
    }

    /// Rows are not kept in git; the artifact blobs carry the repositories.
    fn put(&self, _collection: &Collection) -> Result<()> {
        Ok(())
    }

    fn put_blob(&self, blob: &BlobRef, content: &mut dyn Read) -> Result<BlobPut> {
        self.push(blob, content)?;
        Ok(BlobPut::Stored)
    }

    fn get(&self, _query: &Query) -> Result<Collection> {
        self.fetch()
    }

    fn get_blob(&self, blob: &BlobRef) -> Result<BlobReader<'_>> {
        let guard = self
            .fetched
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match guard.as_ref() {
            Some(p) if p.blob == *blob => {
                let f = std::fs::File::open(&p.file)
                    .map_err(|e| Error::io("opening the fetched repository", e))?;
                Ok(VerifyingReader::new(
                    Box::new(std::io::BufReader::new(f)),
                    *blob,
                ))
            }
            _ => Err(Error::NotFound {
                what: format!("blob {blob} (the git driver serves only what it fetched)"),
            }),
        }
    }

    fn has_blob(&self, blob: &BlobRef) -> Result<bool> {
        let guard = self
            .fetched
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Ok(guard.as_ref().is_some_and(|p| p.blob == *blob))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::text_at;

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
        let g = GitDriver::from_options(&Options::new().with("remote", url)).unwrap();
        let got = g.fetch().unwrap();
        let runs = got.table("runs").unwrap();
        assert_eq!(text_at(runs, 0, "commit"), Some(c.to_string()));
        let blob = got.blobs()[0].blob_ref();
        assert!(g.has_blob(&blob).unwrap());
        dsi_core::blob::read_verified(g.get_blob(&blob).unwrap()).unwrap();
    }
}
