//! The `charliecloud-consumer` plugin: records a Runfile (or a git remote
//! holding one) as a git-based provenance artifact.
//!
//! With `runfile=PATH`: the Runfile is parsed first (a static error writes
//! nothing), the target repository is checked for uncommitted changes, the
//! image is validated or acquired by digest, and only then is the Runfile
//! committed into the repository (`repo=DIR`, or a new one). With
//! `remote=URL`: the remote is cloned, the Runfile at HEAD is parsed and its
//! image validated or acquired. Either way the whole repository directory is
//! packed (deterministic tar + zstd) and the row in `runs` refers to it as
//! `container_run_commands`, next to the commit, the image identity, the
//! POSIX identity, the host name and the system description
//! (`dsi_core::env::SystemKernel`'s `kernel_info`) — composition standing in
//! for the Python plugin's inheritance.
//!
//! The remote URL never enters the row: it may carry credentials.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use dsi_core::env::collect_kernel_info;
use dsi_core::{
    Collection, Context, Error, OptionSpec, Options, PendingBlob, Plugin, PluginEntry,
    PluginFunction, Result, Timestamp,
};
use sha2::{Digest, Sha256};

use crate::artifact::{self, repo};
use crate::diagnostic_error::RunfileError;
use crate::image::{self, ResolvedImage};
use crate::records::{Identity, RunRow, kernel_columns, new_run_id};
use crate::runfile::{self, Parsed};
use crate::settings::{IMAGE_OPTIONS, ImageSettings};

/// Registered name.
pub const NAME: &str = "charliecloud-consumer";

/// Where the Runfile comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A Runfile on disk.
    Path(PathBuf),
    /// A git remote whose HEAD holds a Runfile.
    Remote(String),
}

/// The consumer plugin.
#[derive(Debug)]
pub struct Consumer {
    source: Source,
    repo: Option<PathBuf>,
    path: PathBuf,
    message: Option<String>,
    images: ImageSettings,
}

const OPTIONS: &[OptionSpec] = &[
    OptionSpec::optional("runfile", "path of the Runfile to record (or give remote=)"),
    OptionSpec::optional(
        "remote",
        "git remote URL to clone and record (or give runfile=)",
    ),
    OptionSpec::optional(
        "repo",
        "existing repository to commit the Runfile into (default: a new one)",
    ),
    OptionSpec::optional(
        "path",
        "location of the Runfile inside the repository (default Runfile)",
    ),
    OptionSpec::optional("message", "commit message"),
    IMAGE_OPTIONS[0],
    IMAGE_OPTIONS[1],
    IMAGE_OPTIONS[2],
];

inventory::submit! {
    PluginEntry {
        name: NAME,
        function: PluginFunction::Consumer,
        summary: "records a Runfile or a git remote as a git repository artifact, with image digest and system",
        options: OPTIONS,
        build: |o| Ok(Box::new(Consumer::from_options(o)?)),
    }
}

/// Checks a repository-relative path: relative, no `..`.
pub(crate) fn repo_relative(module: &str, path: &str) -> Result<PathBuf> {
    let p = PathBuf::from(path);
    let ok = !path.is_empty()
        && p.components().all(|c| {
            matches!(
                c,
                std::path::Component::Normal(_) | std::path::Component::CurDir
            )
        });
    if !ok {
        return Err(Error::config(
            module,
            format!("option 'path': '{path}' must be a relative path inside the repository"),
        ));
    }
    Ok(p)
}

impl Consumer {
    /// Builds the plugin from validated options.
    pub fn from_options(options: &Options) -> Result<Self> {
        let source = match (options.get("runfile"), options.get("remote")) {
            (Some(p), None) => Source::Path(PathBuf::from(p)),
            (None, Some(url)) => Source::Remote(url.to_owned()),
            (Some(_), Some(_)) => {
                return Err(Error::config(
                    NAME,
                    "give either runfile= or remote=, not both",
                ));
            }
            (None, None) => return Err(Error::config(NAME, "missing option: runfile= or remote=")),
        };
        let repo = options.get("repo").map(PathBuf::from);
        if repo.is_some() && matches!(source, Source::Remote(_)) {
            return Err(Error::config(
                NAME,
                "repo= applies to runfile=, not to remote=",
            ));
        }
        Ok(Consumer {
            source,
            repo,
            path: repo_relative(NAME, options.get("path").unwrap_or("Runfile"))?,
            message: options.get("message").map(str::to_owned),
            images: ImageSettings::from_options(NAME, options)?,
        })
    }

    fn fail(&self, e: impl Into<dsi_core::BoxError>) -> Error {
        Error::plugin(NAME, e)
    }

    fn parse(&self, file: &str, bytes: &[u8]) -> Result<Parsed> {
        runfile::parse(bytes).map_err(|d| RunfileError::new(file, d).into_error(NAME))
    }

    fn resolve(&self, file: &str, parsed: &Parsed) -> Result<ResolvedImage> {
        let rf = &parsed.runfile;
        image::resolve(
            rf.image(),
            rf.from_line(),
            &self.images.storage,
            &self.images.ch_image,
            self.images.resolve,
        )
        .map_err(|d| RunfileError::new(file, d).into_error(NAME))
    }

    /// Records from a Runfile on disk; returns (repository dir, commit, bytes, image).
    fn record_path(
        &self,
        runfile: &Path,
        work: &Path,
    ) -> Result<(PathBuf, String, Vec<u8>, Parsed, ResolvedImage)> {
        let file = runfile.display().to_string();
        if runfile.is_dir() {
            return Err(Error::InvalidData(format!(
                "{file} is a directory, not a Runfile"
            )));
        }
        let bytes = std::fs::read(runfile)
            .map_err(|e| Error::io(format!("cannot read Runfile {file}"), e))?;
        let parsed = self.parse(&file, &bytes)?;
        let dir = self.repo.clone().unwrap_or_else(|| work.join("repo"));
        if dir.exists()
            && let Ok(existing) = git2::Repository::open(&dir)
        {
            let dirty = repo::uncommitted(&existing).map_err(|e| self.fail(e))?;
            if !dirty.is_empty() {
                return Err(Error::Refused(format!(
                    "repository {} has uncommitted changes ({}{}); commit or stash them first",
                    dir.display(),
                    dirty.iter().take(3).cloned().collect::<Vec<_>>().join(", "),
                    if dirty.len() > 3 { ", …" } else { "" }
                )));
            }
        }
        let resolved = self.resolve(&file, &parsed)?;
        let r = repo::open_or_init(&dir).map_err(|e| self.fail(e))?;
        let id = Identity::current();
        let sig = repo::signature(&r, &id.moniker, &id.hostname).map_err(|e| self.fail(e))?;
        let message = self.message.clone().unwrap_or_else(|| {
            let name = runfile
                .file_name()
                .map_or_else(|| file.clone(), |n| n.to_string_lossy().into_owned());
            format!(
                "dsi record {name}\n\nRunfile digest: {}\n",
                parsed.runfile.digest()
            )
        });
        let commit =
            repo::commit_file(&r, &self.path, &bytes, &message, &sig).map_err(|e| self.fail(e))?;
        Ok((dir, commit.to_string(), bytes, parsed, resolved))
    }

    /// Records from a git remote.
    fn record_remote(
        &self,
        url: &str,
        work: &Path,
    ) -> Result<(PathBuf, String, Vec<u8>, Parsed, ResolvedImage)> {
        let dir = work.join("clone");
        let r = repo::clone(url, &dir).map_err(|e| self.fail(e))?;
        let head = r
            .head()
            .and_then(|h| h.peel_to_commit())
            .map_err(|_| {
                Error::InvalidData(format!(
                    "remote {} has no commits",
                    repo::strip_credentials(url)
                ))
            })?
            .id();
        let file = self.path.display().to_string();
        let bytes = repo::read_at(&r, head, &self.path)
            .map_err(|e| self.fail(e))?
            .ok_or_else(|| {
                Error::InvalidData(format!(
                    "remote {} has no {file} at HEAD ({head})",
                    repo::strip_credentials(url)
                ))
            })?;
        let parsed = self.parse(&file, &bytes)?;
        let resolved = self.resolve(&file, &parsed)?;
        Ok((dir, head.to_string(), bytes, parsed, resolved))
    }
}

impl Plugin for Consumer {
    fn name(&self) -> &str {
        NAME
    }

    fn function(&self) -> PluginFunction {
        PluginFunction::Consumer
    }

    fn collect(&mut self, _ctx: &Context<'_>) -> Result<Collection> {
        let work =
            tempfile::tempdir().map_err(|e| Error::io("creating a temporary directory", e))?;
        let (dir, commit, bytes, parsed, resolved) = match &self.source {
            Source::Path(p) => self.record_path(&p.clone(), work.path())?,
            Source::Remote(url) => self.record_remote(&url.clone(), work.path())?,
        };
        let packed = artifact::pack(&dir, None)
            .map_err(|e| Error::io(format!("packing {}", dir.display()), e))?;
        let blob = packed.blob;
        let row = RunRow {
            run_id: new_run_id(),
            function: "consumer",
            recorded_at: Some(Timestamp::now()),
            image_ref: Some(resolved.name.clone()),
            image_digest: resolved.pinned_digest.clone(),
            image_manifest_digest: resolved.manifest_digest.clone(),
            image_config_digest: resolved.config_digest.clone(),
            image_tree_digest: resolved.tree_digest.clone(),
            image_checks: Some(resolved.checks.join(" ")),
            ch_storage: Some(self.images.storage.root().display().to_string()),
            commit: Some(commit),
            runfile_path: Some(self.path.display().to_string()),
            runfile_sha256: Some(hex::encode(Sha256::digest(&bytes))),
            runfile_digest: Some(parsed.runfile.digest()),
            container_run_commands: Some(blob),
            identity: Some(Identity::current()),
            kernel: Some(kernel_columns(&collect_kernel_info())),
            ..RunRow::default()
        };
        let mut c = Collection::of(row.to_table()?);
        let path = packed.file.to_path_buf();
        c.push_blob(PendingBlob::from_file(
            blob,
            path,
            Some(Arc::new(packed.file)),
        ));
        Ok(c)
    }
}
