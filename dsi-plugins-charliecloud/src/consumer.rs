//! The `charliecloud-consumer` plugin: records a Runfile (or a git remote
//! holding one) as a git-based provenance artifact.
//!
//! From a Runfile on disk ([`Source::Runfile`]): the Runfile is read
//! (at most [`MAX_RUNFILE_BYTES`]) and parsed first, so a static error
//! writes nothing; its warnings are logged. Then the repository:
//!
//! * `repo` given: the Runfile is recorded at its own path when it is inside
//!   the repository (`dsi record jobs/a.Runfile --repo .` records
//!   `jobs/a.Runfile`), else at `path` (default `Runfile`). The repository
//!   must have no uncommitted changes other than that Runfile and dsi's own
//!   store files (a `dsi.db` and its `-wal`/`-shm`, a dataset directory),
//!   which are never committed and never packed. A Runfile already
//!   committed unchanged at HEAD is recorded as HEAD, without a new commit
//!   (then `-m` is refused: there is no commit to put it on).
//! * no `repo`: a new repository holding just the Runfile.
//!
//! Before committing, the image is validated or acquired by digest and the
//! pre-flight checks that need no container run against the repository's
//! work tree: a relative BIND source must be in the repository (a replay
//! materialises the commit, so anything else fails there with E406), and
//! declared outputs that are directories or patterns are warned about.
//! A `.gitmodules` whose URLs carry credentials is refused (it is history:
//! dsi cannot strip it).
//!
//! From a remote ([`Source::Remote`]): the remote is cloned with every
//! branch (an unborn HEAD takes the only or default branch), the Runfile
//! at HEAD is parsed and its image validated or acquired.
//!
//! Either way the whole repository is packed (deterministic tar + zstd,
//! see [`artifact::pack`]) and one `runs` row ([`RunRecord`]) refers to it,
//! next to the commit, the image identity, who and where, and the system
//! description (`dsi_core::env::SystemKernel`'s `kernel_info`) —
//! composition standing in for the Python plugin's inheritance. The remote
//! URL never enters the row: it may carry credentials.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use dsi_core::{
    Collection, Context, Error, OptionSpec, Options, PendingBlob, Plugin, PluginEntry,
    PluginFunction, Result,
};
use sha2::{Digest, Sha256};

use crate::artifact::{self, BoundedRepo, Limits, repo};
use crate::diagnostic_error::RunfileError;
use crate::image::{self, ResolvedImage};
use crate::records::{Function, RunRecord, System};
use crate::runfile::{self, Diagnostic, Parsed};
use crate::runfile_source::{self, MAX_RUNFILE_BYTES};
use crate::runtime::{self, outputs};
use crate::settings::{IMAGE_OPTIONS, ImageSettings};

/// Registered name.
pub const NAME: &str = "charliecloud-consumer";

/// Where the Runfile comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A Runfile on disk.
    Runfile(PathBuf),
    /// A git remote whose HEAD holds a Runfile.
    Remote(String),
}

/// What to record, typed (the registry's options build one too).
#[derive(Debug, Clone)]
pub struct RecordConfig {
    /// The Runfile or remote.
    pub source: Source,
    /// Commit into this repository instead of a new one.
    pub repo: Option<PathBuf>,
    /// The Runfile's path inside the repository (default: its own path when
    /// it is inside `repo`, else `Runfile`).
    pub path: Option<PathBuf>,
    /// Commit message.
    pub message: Option<String>,
    /// Files never committed or packed (dsi's store files).
    pub exclude: Vec<PathBuf>,
    /// How images are found and checked.
    pub images: ImageSettings,
}

/// The consumer plugin.
#[derive(Debug)]
pub struct Consumer {
    config: RecordConfig,
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
        "location of the Runfile inside the repository (default: its own path inside repo=, else Runfile)",
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
pub(crate) fn repo_relative(module: &str, path: &Path) -> Result<PathBuf> {
    let ok = !path.as_os_str().is_empty()
        && path
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    if !ok {
        return Err(Error::config(
            module,
            format!(
                "the Runfile's path '{}' must be relative, inside the repository",
                path.display()
            ),
        ));
    }
    Ok(path.components().collect())
}

fn fail(e: impl Into<dsi_core::BoxError>) -> Error {
    Error::plugin(NAME, e)
}

fn parse(file: &str, bytes: &[u8]) -> Result<Parsed> {
    let parsed = runfile::parse(bytes).map_err(|d| RunfileError::new(file, d).into_error(NAME))?;
    for w in &parsed.warnings {
        tracing::warn!("{}", w.render(file));
    }
    Ok(parsed)
}

/// What the Runfile source resolved to, before packing.
struct Prepared {
    dir: PathBuf,
    commit: String,
    tree: String,
    bytes: Vec<u8>,
    path: PathBuf,
    parsed: Parsed,
    resolved: ResolvedImage,
}

/// The tree of a commit: the repository's content.
fn tree_of(r: &git2::Repository, commit: git2::Oid) -> Result<String> {
    r.find_commit(commit)
        .map(|c| c.tree_id().to_string())
        .map_err(|e| Error::InvalidData(format!("commit {commit}: {}", e.message())))
}

impl Consumer {
    /// The plugin for a typed configuration.
    pub fn new(config: RecordConfig) -> Result<Self> {
        if config.repo.is_some() && matches!(config.source, Source::Remote(_)) {
            return Err(Error::config(
                NAME,
                "repo= applies to a Runfile, not to a remote",
            ));
        }
        if let Some(p) = &config.path {
            repo_relative(NAME, p)?;
        }
        if let Source::Remote(url) = &config.source {
            repo::check_remote_url(url).map_err(|e| Error::config(NAME, e.0))?;
        }
        Ok(Consumer { config })
    }

    /// Builds the plugin from validated registry options.
    pub fn from_options(options: &Options) -> Result<Self> {
        let source = match (options.get("runfile"), options.get("remote")) {
            (Some(p), None) => Source::Runfile(PathBuf::from(p)),
            (None, Some(url)) => Source::Remote(url.to_owned()),
            (Some(_), Some(_)) => {
                return Err(Error::config(
                    NAME,
                    "give either runfile= or remote=, not both",
                ));
            }
            (None, None) => return Err(Error::config(NAME, "missing option: runfile= or remote=")),
        };
        Consumer::new(RecordConfig {
            source,
            repo: options.get("repo").map(PathBuf::from),
            path: options.get("path").map(PathBuf::from),
            message: options.get("message").map(str::to_owned),
            exclude: Vec::new(),
            images: ImageSettings::from_options(NAME, options)?,
        })
    }

    /// Resolves the Runfile's image; `context` is the Runfile's directory.
    fn resolve(&self, file: &str, parsed: &Parsed, context: &Path) -> Result<ResolvedImage> {
        let rf = &parsed.runfile;
        let images = &self.config.images;
        let resolved = image::resolve(
            rf.image(),
            rf.from_line(),
            context,
            &images.storage,
            &images.ch_image,
            images.resolve,
        )
        .map_err(|d| RunfileError::new(file, d).into_error(NAME))?;
        for w in &resolved.warnings {
            tracing::warn!("{}", w.render(file));
        }
        tracing::info!(
            "image {}: verified ({}; {})",
            resolved.name,
            resolved.checks.join(" "),
            resolved.acquisition
        );
        // What a replay would find missing in the image, refused now.
        let squash = resolved
            .squashfs_for_checks(rf)
            .map_err(|d| RunfileError::new(file, d).into_error(NAME))?;
        let view = resolved.view(squash.as_ref());
        runtime::image_checks(rf, view).map_err(|d| {
            let hint = "bind to a directory the image has (Charliecloud images have /mnt/0 to /mnt/9), or set WORKDIR to one";
            RunfileError::new(file, d.with_hint(hint)).into_error(NAME)
        })?;
        Ok(resolved)
    }

    /// Whether a work-tree path (relative) is one of dsi's store files.
    fn excluded(&self, root: &Path, rel: &str) -> bool {
        let full = root.join(rel);
        let full = std::fs::canonicalize(&full).unwrap_or(full);
        self.config.exclude.iter().any(|x| full.starts_with(x))
    }

    /// Records from a Runfile on disk.
    fn record_runfile(&self, runfile: &Path, work: &Path) -> Result<Prepared> {
        let file = runfile.display().to_string();
        let bytes = runfile_source::read_from_disk(runfile)?;
        let parsed = parse(&file, &bytes)?;
        let dir = self
            .config
            .repo
            .clone()
            .unwrap_or_else(|| work.join("repo"));
        // The Runfile's place in the repository: its own path if it lives there.
        let inside = self.config.repo.as_ref().and_then(|r| {
            let r = std::fs::canonicalize(r).ok()?;
            let f = std::fs::canonicalize(runfile).ok()?;
            f.strip_prefix(&r).ok().map(Path::to_path_buf)
        });
        let path = match (&self.config.path, &inside) {
            (Some(p), _) => repo_relative(NAME, p)?,
            (None, Some(own)) => own.clone(),
            (None, None) => PathBuf::from("Runfile"),
        };
        let existing = if dir.join(".git").exists() {
            Some(git2::Repository::open(&dir).map_err(|e| {
                Error::InvalidData(format!(
                    "{} is not a usable git repository: {}",
                    dir.display(),
                    e.message()
                ))
            })?)
        } else {
            None
        };
        if let Some(r) = &existing {
            if r.workdir().is_some()
                && std::fs::symlink_metadata(dir.join(".git")).is_ok_and(|m| !m.is_dir())
            {
                return Err(Error::Refused(format!(
                    "{} is a linked git worktree or a submodule (its .git is a file): record from the main repository, or from a clone (git clone {} COPY)",
                    dir.display(),
                    dir.display()
                )));
            }
            let own = inside.as_deref().filter(|p| *p == path.as_path());
            let dirty: Vec<String> = repo::uncommitted(r)
                .map_err(fail)?
                .into_iter()
                .filter(|p| Some(Path::new(p)) != own)
                .filter(|p| !self.excluded(&dir, p))
                .collect();
            if !dirty.is_empty() {
                return Err(Error::Refused(format!(
                    "repository {} has uncommitted changes ({}{}); commit or stash them first",
                    dir.display(),
                    dirty
                        .iter()
                        .take(3)
                        .map(|d| dsi_core::text::for_terminal(d).into_owned())
                        .collect::<Vec<_>>()
                        .join(", "),
                    if dirty.len() > 3 { ", …" } else { "" }
                )));
            }
        }
        let context = runfile
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let resolved = self.resolve(&file, &parsed, context)?;
        let r = repo::open_or_init(&dir).map_err(fail)?;
        let head_holds_it = r
            .head()
            .ok()
            .and_then(|h| h.peel_to_commit().ok())
            .filter(|h| {
                BoundedRepo::local(&r, &Limits::default())
                    .read_file(h.id(), &path, MAX_RUNFILE_BYTES)
                    .ok()
                    .flatten()
                    .is_some_and(|b| b == bytes)
            });
        let unchanged = head_holds_it.is_some();
        let commit = match head_holds_it {
            Some(h) => {
                if self.config.message.is_some() {
                    return Err(Error::Refused(format!(
                        "{} is unchanged at HEAD ({}), which is recorded as it is: -m applies only to a new commit; drop -m, or change the Runfile",
                        path.display(),
                        h.id()
                    )));
                }
                tracing::info!(
                    "{} is committed unchanged at HEAD: recording {}",
                    path.display(),
                    h.id()
                );
                h.id()
            }
            None => {
                self.check_host(&parsed, &file, &dir, &path)?;
                let id = crate::records::Identity::current();
                let sig = repo::signature(
                    &r,
                    id.moniker.as_deref().unwrap_or("dsi"),
                    id.hostname.as_deref().unwrap_or("localhost"),
                )
                .map_err(fail)?;
                let message = self.config.message.clone().unwrap_or_else(|| {
                    format!(
                        "dsi record {}\n\nRunfile digest: {}\n",
                        path.display(),
                        parsed.runfile.digest()
                    )
                });
                let c = repo::commit_file(&r, &path, &bytes, &message, &sig).map_err(fail)?;
                tracing::info!("committed {} as {c}", path.display());
                c
            }
        };
        if unchanged {
            self.check_host(&parsed, &file, &dir, &path)?;
        }
        check_gitmodules(&r, commit)?;
        Ok(Prepared {
            dir,
            commit: commit.to_string(),
            tree: tree_of(&r, commit)?,
            bytes,
            path,
            parsed,
            resolved,
        })
    }

    /// The pre-flight checks a replay will make that need no container,
    /// against the repository's work tree (what the commit holds).
    fn check_host(&self, parsed: &Parsed, file: &str, dir: &Path, path: &Path) -> Result<()> {
        let context = dir.join(path.parent().unwrap_or(Path::new("")));
        runtime::host_checks(&parsed.runfile, &context).map_err(|d| {
            let hint = "relative BIND sources are taken from the recorded commit: add it to the repository (--repo DIR), or bind an absolute path";
            RunfileError::new(file, d.with_hint(hint)).into_error(NAME)
        })?;
        for p in outputs::declared(parsed.runfile.labels()) {
            let problem = if p.contains(['*', '?', '[']) {
                Some("names a pattern; dsi.outputs names files")
            } else if context.join(&p).is_dir() {
                Some("is a directory; name the files in it")
            } else {
                None
            };
            if let Some(why) = problem {
                let line = parsed.runfile.from_line();
                let d = Diagnostic::warning(
                    line,
                    1,
                    "W403",
                    format!("output {p} {why} (it will not be recorded)"),
                );
                tracing::warn!("{}", d.render(file));
            }
        }
        Ok(())
    }

    /// Records from a git remote.
    fn record_remote(&self, url: &str, work: &Path) -> Result<Prepared> {
        let dir = work.join("clone");
        let r = repo::clone_all_branches(url, &dir).map_err(fail)?;
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
        let path = self
            .config
            .path
            .clone()
            .unwrap_or_else(|| PathBuf::from("Runfile"));
        let file = path.display().to_string();
        let bytes = BoundedRepo::local(&r, &Limits::default())
            .read_file(head, &path, MAX_RUNFILE_BYTES)
            .map_err(Error::from)?
            .ok_or_else(|| {
                Error::InvalidData(format!(
                    "remote {} has no {file} at HEAD ({head})",
                    repo::strip_credentials(url)
                ))
            })?;
        let parsed = parse(&file, &bytes)?;
        // A relative path image would be in the clone (it is not checked
        // out: such an image is not found, E412).
        let context = dir.join(path.parent().unwrap_or(Path::new("")));
        let resolved = self.resolve(&file, &parsed, &context)?;
        check_gitmodules(&r, head)?;
        Ok(Prepared {
            dir,
            commit: head.to_string(),
            tree: tree_of(&r, head)?,
            bytes,
            path,
            parsed,
            resolved,
        })
    }
}

/// Refuses a commit whose `.gitmodules` names URLs with credentials: it is
/// part of the history, so dsi cannot strip it, and a store is shared.
fn check_gitmodules(r: &git2::Repository, commit: git2::Oid) -> Result<()> {
    let Some(text) = BoundedRepo::local(r, &Limits::default())
        .read_file(commit, Path::new(".gitmodules"), MAX_RUNFILE_BYTES)
        .map_err(Error::from)?
    else {
        return Ok(());
    };
    let text = String::from_utf8_lossy(&text);
    for line in text.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if key.trim() == "url" && !repo::url_secrets(value.trim()).is_empty() {
            return Err(Error::Refused(format!(
                "the committed .gitmodules has a URL with credentials ({}); a store is shared, so dsi will not record it: remove the credentials and commit",
                repo::strip_credentials(value.trim())
            )));
        }
    }
    Ok(())
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
        let prepared = match &self.config.source {
            Source::Runfile(p) => self.record_runfile(&p.clone(), work.path())?,
            Source::Remote(url) => self.record_remote(&url.clone(), work.path())?,
        };
        let exclude: Vec<PathBuf> = self.config.exclude.clone();
        let packed = artifact::pack_excluding(&prepared.dir, None, &exclude).map_err(|e| {
            // A repository that is not self-contained is the user's to fix.
            if e.kind() == std::io::ErrorKind::InvalidInput {
                Error::Refused(format!("{}: {e}", prepared.dir.display()))
            } else {
                Error::io(format!("packing {}", prepared.dir.display()), e)
            }
        })?;
        tracing::info!(
            "packed the repository: {} bytes ({})",
            packed.blob.len(),
            packed.blob
        );
        let resolved = &prepared.resolved;
        let mut record = RunRecord::new(Function::Consumer);
        record.image = resolved.identity(&self.config.images.storage);
        record.commit = Some(prepared.commit);
        record.commit_tree = Some(prepared.tree);
        record.runfile.path = Some(prepared.path.display().to_string());
        record.runfile.sha256 = Some(hex::encode(Sha256::digest(&prepared.bytes)));
        record.runfile.digest = Some(prepared.parsed.runfile.digest());
        record.repository = Some(packed.blob);
        record.system = System::current();
        let context = prepared
            .dir
            .join(prepared.path.parent().unwrap_or(Path::new("")));
        let (inputs, warnings) = runtime::inputs::record(&prepared.parsed.runfile, &context);
        for w in warnings {
            tracing::warn!("{w}");
        }
        record.inputs = inputs;
        let mut c = Collection::of(record.to_table()?);
        let path = packed.file.to_path_buf();
        c.push_blob(PendingBlob::from_file(
            packed.blob,
            path,
            Some(Arc::new(packed.file)),
        ));
        Ok(c)
    }
}
