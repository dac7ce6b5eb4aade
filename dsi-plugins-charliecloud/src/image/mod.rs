//! Image identity by digest over Charliecloud storage (RUNFILE.md §8).
//!
//! [`resolve`] makes sure the image a Runfile pins is in `ch-image` storage
//! and is exactly what was pinned, acquiring it if needed:
//!
//! * absent → `ch-image undelete` from the build cache if it has the image
//!   (no network), else E405 for a local image, E401 when offline, else
//!   `ch-image pull` by digest (E402 with ch-image's message on failure,
//!   or, when the registry cannot be reached at all, naming its host and
//!   the reason in a few words);
//! * then the checks V0–V5 ([`checks`](self)): manifest, config and (with
//!   `full`) layer digests, the build-cache State ID and a clean worktree, or
//!   the `rftree1` tree digest when one is pinned;
//! * missing evidence (a purged download cache) → E410 offline, a fresh
//!   download online (`ch-image pull`), then the checks again; a mismatch
//!   they find then is handled as below;
//! * a mismatch → for a local image E404 (storage is never touched); for a
//!   registry image whose bad evidence is inside the image (V2, V4, V5) the
//!   image is deleted and restored from the build cache (repairs a modified
//!   worktree offline) and, if that is not enough and the network may be
//!   used, downloaded afresh (`--rebuild --always-download`, because a plain
//!   pull would restore the same cached tree and keep the cached blobs);
//!   a bad download cache (V1, V3) is only ever fixed by that fresh download
//!   (offline, storage is left as it is). Failing after that: E403 (digest)
//!   or E404 (tree). The fresh download is a refinement of §8.3, which
//!   re-acquires once without saying how.
//!
//! `ch-image` itself never verifies a digest; dsi does. Facts of ch-image
//! 0.31 this relies on, observed against a real registry (see
//! `tests/image_store.rs`): a config blob edited in `dlcache` is accepted by
//! `ch-image pull`; `ch-image pull` of an image already in storage re-fetches
//! missing `dlcache` files but does not repair an edited tree ("found in
//! build cache") and restores the files' mtimes, which hides a same-size
//! edit from the worktree's own git index (V4 therefore compares content,
//! see `checks`); `ch-image delete` keeps the build-cache branch and
//! `ch-image undelete` restores the original tree offline.

mod ch_image;
mod checks;
pub mod digest_cache;
mod lock;
pub mod path;
pub mod pin;
mod py_json;
pub mod squashfs;
mod tree;
mod view;

use std::path::{Path, PathBuf};

pub use ch_image::{ChImage, ChImageOutput};
pub use lock::{DEFAULT_TIMEOUT as DEFAULT_LOCK_TIMEOUT, ImageLease};
pub use squashfs::SquashFs;
pub use tree::{TREE_PREFIX, rftree};
pub use view::{Found, ImageView};

use crate::runfile::{Diagnostic, ImageRef, PathImageKind};
use checks::{CheckFailure, Evidence};

/// A `ch-image` storage directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Storage {
    root: PathBuf,
}

impl Storage {
    /// A storage directory at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Storage { root: root.into() }
    }

    /// `$CH_IMAGE_STORAGE`, else `/var/tmp/$USER.ch` (ch-image's default).
    pub fn from_env(user: &str) -> Self {
        match std::env::var_os("CH_IMAGE_STORAGE").filter(|s| !s.is_empty()) {
            Some(s) => Storage::new(s),
            None => Storage::new(format!("/var/tmp/{user}.ch")),
        }
    }

    /// The storage root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `S/img/F`.
    pub fn img_dir(&self, for_path: &str) -> PathBuf {
        self.root.join("img").join(for_path)
    }

    /// `S/dlcache`.
    pub fn dlcache(&self) -> PathBuf {
        self.root.join("dlcache")
    }

    /// `S/bucache`, the build cache (a bare git repository).
    pub fn bucache(&self) -> PathBuf {
        self.root.join("bucache")
    }

    /// Whether the build cache has a branch for the image.
    pub fn has_cache_branch(&self, for_path: &str) -> bool {
        git2::Repository::open_bare(self.bucache())
            .ok()
            .is_some_and(|r| r.find_branch(for_path, git2::BranchType::Local).is_ok())
    }
}

/// How [`resolve`] may acquire and how hard it checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResolveOptions {
    /// Whether the registry may be contacted.
    pub online: bool,
    /// Also verify every layer blob (V3).
    pub full: bool,
}

impl Default for ResolveOptions {
    fn default() -> Self {
        ResolveOptions {
            online: true,
            full: false,
        }
    }
}

/// How the image came to be usable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Acquisition {
    /// It was in storage and verified.
    Present,
    /// It was restored from the build cache (`ch-image undelete`).
    Undeleted,
    /// It was pulled from its registry by digest.
    Pulled,
    /// It failed verification and was restored or downloaded again.
    Repaired,
}

/// What happened, for a log line: `in storage`, `restored from the build
/// cache`, `pulled from its registry`, `repaired`.
impl std::fmt::Display for Acquisition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Acquisition::Present => "in storage",
            Acquisition::Undeleted => "restored from the build cache",
            Acquisition::Pulled => "pulled from its registry",
            Acquisition::Repaired => "repaired: it failed verification and was restored",
        })
    }
}

/// A verified image, ready for `ch-run`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ResolvedImage {
    /// The image name `N` given to ch-run.
    pub name: String,
    /// The pinned registry digest (registry form).
    pub pinned_digest: Option<String>,
    /// The image manifest digest actually used (the arch manifest for an index).
    pub manifest_digest: Option<String>,
    /// The config digest.
    pub config_digest: Option<String>,
    /// The tree digest, when computed (V5).
    pub tree_digest: Option<String>,
    /// A SquashFS path image's file digest `sha256:<hex>`, when pinned (V6).
    pub file_digest: Option<String>,
    /// What a path image is (`None`: an image in storage).
    pub path_kind: Option<PathImageKind>,
    /// The checks that passed, e.g. `["V0", "V1", "V2", "V4"]`.
    pub checks: Vec<&'static str>,
    /// How it was acquired.
    pub acquisition: Acquisition,
    /// The unpacked image directory; for a path image, its resolved path
    /// (a SquashFS file or a directory).
    pub image_dir: PathBuf,
    /// Warnings (W401 when the tree could not be verified).
    #[serde(skip)]
    pub warnings: Vec<Diagnostic>,
}

impl ResolvedImage {
    /// A SquashFS path image opened for the pre-flight look-ups, when the
    /// Runfile has any (WORKDIR, BIND); `None` otherwise. A file that
    /// passed its checks but cannot be read as SquashFS is E414 at FROM.
    pub fn squashfs_for_checks(
        &self,
        runfile: &crate::runfile::Runfile,
    ) -> Result<Option<SquashFs>, Diagnostic> {
        if self.path_kind != Some(PathImageKind::SquashFs)
            || !crate::runtime::image_lookups_needed(runfile)
        {
            return Ok(None);
        }
        SquashFs::open(&self.image_dir).map(Some).map_err(|e| {
            Diagnostic::error(
                runfile.from_line(),
                1,
                "E414",
                format!("not a SquashFS image: {e}"),
            )
        })
    }

    /// The image's tree for the pre-flight checks: `squash` (from
    /// [`ResolvedImage::squashfs_for_checks`]) when opened, else the
    /// directory.
    pub fn view<'a>(&'a self, squash: Option<&'a SquashFs>) -> ImageView<'a> {
        match squash {
            Some(fs) => ImageView::SquashFs(fs),
            None => ImageView::Dir(&self.image_dir),
        }
    }

    /// What a record keeps of this image; `storage` is recorded for images
    /// in storage only.
    pub fn identity(&self, storage: &Storage) -> crate::records::ImageIdentity {
        crate::records::ImageIdentity {
            reference: Some(self.name.clone()),
            digest: self.pinned_digest.clone(),
            manifest_digest: self.manifest_digest.clone(),
            config_digest: self.config_digest.clone(),
            tree_digest: self.tree_digest.clone(),
            checks: self.checks.iter().map(|c| (*c).to_owned()).collect(),
            storage: self
                .path_kind
                .is_none()
                .then(|| storage.root().display().to_string()),
            file_digest: self.file_digest.clone(),
            kind: self.path_kind.map(|k| k.name().to_owned()),
        }
    }
}

/// Where the diagnostics of one FROM point.
#[derive(Debug, Clone, Copy)]
struct At {
    line: usize,
}

impl At {
    fn error(self, code: &'static str, message: impl Into<String>) -> Diagnostic {
        Diagnostic::error(self.line, 1, code, message)
    }
}

fn ch_image_failed(at: At, storage: &Storage, what: &str, out: &ChImageOutput) -> Diagnostic {
    if out.storage_locked() {
        return at.error(
            "E409",
            format!(
                "ch-image storage {} is locked by another process",
                storage.root().display()
            ),
        );
    }
    at.error("E402", format!("{what} failed: {}", out.error_message()))
}

fn run_ch_image(
    at: At,
    storage: &Storage,
    ch: &ChImage,
    args: &[&str],
    what: &str,
) -> Result<(), Diagnostic> {
    let out = ch.run(storage.root(), args).map_err(|e| {
        at.error(
            "E402",
            format!(
                "cannot run ch-image ({}): {e}",
                ch.argv()[0].to_string_lossy()
            ),
        )
    })?;
    if out.success {
        Ok(())
    } else {
        Err(ch_image_failed(at, storage, what, &out))
    }
}

/// Acquires an absent image (§8.3, first branch).
fn acquire(
    at: At,
    image: &ImageRef,
    storage: &Storage,
    ch: &ChImage,
    opts: ResolveOptions,
) -> Result<Acquisition, Diagnostic> {
    let name = image.name();
    if storage.has_cache_branch(&image.for_path()) {
        run_ch_image(at, storage, ch, &["undelete", &name], "ch-image undelete")?;
        return Ok(Acquisition::Undeleted);
    }
    if image.is_local() {
        return Err(at.error("E405", format!("local image not in storage: {name}")));
    }
    if !opts.online {
        return Err(at.error("E401", format!("image not in storage and offline: {name}")));
    }
    match run_ch_image(at, storage, ch, &["pull", &name], "ch-image pull") {
        Ok(()) => Ok(Acquisition::Pulled),
        Err(d)
            if d.code == "E402"
                && let Some(why) = unreachable(&d.message) =>
        {
            let host = match image {
                ImageRef::Registry { host, .. } => host.as_str(),
                ImageRef::Local { host, .. } => host.as_deref().unwrap_or("?"),
                ImageRef::Path { .. } => "?",
            };
            Err(at
                .error(
                    "E402",
                    format!("registry {host} is unreachable ({why}); image not in storage: {name}"),
                )
                .with_hint(
                    "check that the registry is up and reachable from this node, or pull the image into the storage elsewhere and use --offline",
                ))
        }
        Err(d) => Err(d),
    }
}

/// Why the registry could not be reached at all (as opposed to refusing
/// the request), from a ch-image failure's text, in a few words.
fn unreachable(message: &str) -> Option<&'static str> {
    [
        ("Connection refused", "connection refused"),
        ("Name or service not known", "host name not found"),
        (
            "Temporary failure in name resolution",
            "host name not resolved",
        ),
        ("timed out", "timed out"),
        ("No route to host", "no route to host"),
        ("Network is unreachable", "network unreachable"),
        ("Failed to establish a new connection", "cannot connect"),
    ]
    .iter()
    .find(|(m, _)| message.contains(m))
    .map(|(_, why)| *why)
}

fn resolved(
    image: &ImageRef,
    storage: &Storage,
    ev: Evidence,
    acquisition: Acquisition,
    at: At,
) -> ResolvedImage {
    let mut warnings = Vec::new();
    if ev.no_build_cache {
        warnings.push(Diagnostic::warning(
            at.line,
            1,
            "W401",
            format!("no build cache for {}; tree not verified", image.name()),
        ));
    }
    ResolvedImage {
        name: image.name(),
        pinned_digest: image.digest().map(str::to_owned),
        manifest_digest: ev.manifest_digest,
        config_digest: ev.config_digest,
        tree_digest: ev.tree_digest,
        file_digest: None,
        path_kind: None,
        checks: ev.checks,
        acquisition,
        image_dir: storage.img_dir(&image.for_path()),
        warnings,
    }
}

fn failure_diagnostic(at: At, name: &str, f: CheckFailure, online: bool) -> Diagnostic {
    match f {
        CheckFailure::Mismatch { code, message, .. } => at.error(code, message),
        CheckFailure::Missing(path) if !online => at.error(
            "E410",
            format!(
                "cannot verify {name} offline: {} is missing",
                path.display()
            ),
        ),
        CheckFailure::Missing(path) => at.error(
            "E403",
            format!(
                "cannot verify {name}: {} is missing even after a fresh pull",
                path.display()
            ),
        ),
    }
}

/// Makes sure the pinned image is usable and verified (RUNFILE.md §8.3,
/// RUNFILE-1.1 §3). `from_line` positions the diagnostics at the Runfile's
/// FROM; `context_dir` (the Runfile's directory) is where a relative path
/// image is.
///
/// An image in storage is safe for many processes on one storage (see
/// [`lock`](self)): it is checked under a shared lock, acquired or
/// repaired under an exclusive one (checking again first, so one process
/// acquires and the others find it done). The lock is released on return;
/// to run the image, use [`resolve_for_run`]. A path image is only read
/// ([`path`]).
pub fn resolve(
    image: &ImageRef,
    from_line: usize,
    context_dir: &Path,
    storage: &Storage,
    ch: &ChImage,
    opts: ResolveOptions,
) -> Result<ResolvedImage, Diagnostic> {
    resolve_for_run(image, from_line, context_dir, storage, ch, opts).map(|(r, _)| r)
}

/// [`resolve`], returning also dsi's shared lock on an image in storage:
/// while it is held no dsi process repairs (deletes) the image, so hold it
/// until the container has ended — and drop it before resolving the same
/// image again in this process (a repair would wait for it). A path image
/// has no lock (dsi never modifies one).
pub fn resolve_for_run(
    image: &ImageRef,
    from_line: usize,
    context_dir: &Path,
    storage: &Storage,
    ch: &ChImage,
    opts: ResolveOptions,
) -> Result<(ResolvedImage, Option<ImageLease>), Diagnostic> {
    let at = At { line: from_line };
    let name = image.name();
    let _span = tracing::info_span!("verifying image", image = %name).entered();
    if image.is_path() {
        return path::resolve_path(image, from_line, context_dir, storage, opts).map(|r| (r, None));
    }
    let for_path = image.for_path();
    let timeout = lock::timeout();
    let take = |mode| {
        lock::lock(storage, &for_path, &name, mode, timeout)
            .map_err(|e| at.error("E409", e.to_string()))
    };
    let shared = take(lock::Mode::Shared)?;
    if storage.img_dir(&for_path).is_dir()
        && let Ok(ev) = checks::verify(storage, image, opts.full)
    {
        return Ok((
            resolved(image, storage, ev, Acquisition::Present, at),
            Some(shared),
        ));
    }
    drop(shared);
    let exclusive = take(lock::Mode::Exclusive)?;
    let r = acquire_and_verify(at, image, storage, ch, opts)?;
    exclusive
        .downgrade()
        .map_err(|e| at.error("E409", format!("image lock: {e}")))?;
    Ok((r, Some(exclusive)))
}

/// [`resolve`] under the exclusive lock: acquire when absent, verify,
/// repair a mismatch.
fn acquire_and_verify(
    at: At,
    image: &ImageRef,
    storage: &Storage,
    ch: &ChImage,
    opts: ResolveOptions,
) -> Result<ResolvedImage, Diagnostic> {
    let name = image.name();
    let dir = storage.img_dir(&image.for_path());
    let mut acquisition = Acquisition::Present;
    if !dir.is_dir() {
        acquisition = acquire(at, image, storage, ch, opts)?;
    }
    let first = checks::verify(storage, image, opts.full);
    let mut failure = match first {
        Ok(ev) => return Ok(resolved(image, storage, ev, acquisition, at)),
        Err(f) => f,
    };
    if image.is_local() {
        // Storage is never modified for local images.
        return Err(failure_diagnostic(at, &name, failure, opts.online));
    }
    if let CheckFailure::Missing(_) = failure {
        if !opts.online {
            return Err(failure_diagnostic(at, &name, failure, false));
        }
        // A purged download cache: fetch the manifest and config again.
        run_ch_image(at, storage, ch, &["pull", &name], "ch-image pull")?;
        failure = match checks::verify(storage, image, opts.full) {
            Ok(ev) => return Ok(resolved(image, storage, ev, Acquisition::Pulled, at)),
            Err(f @ CheckFailure::Missing(_)) => {
                return Err(failure_diagnostic(at, &name, f, true));
            }
            // Evidence is back and shows a mismatch: repair as below.
            Err(f) => f,
        };
    }
    // A mismatch in the image: restore the pulled tree from the build cache
    // (works offline). The build cache cannot fix the download cache.
    let in_image = matches!(failure, CheckFailure::Mismatch { in_image: true, .. });
    if in_image && storage.has_cache_branch(&image.for_path()) {
        run_ch_image(at, storage, ch, &["delete", &name], "ch-image delete")?;
        run_ch_image(at, storage, ch, &["undelete", &name], "ch-image undelete")?;
        if let Ok(ev) = checks::verify(storage, image, opts.full) {
            return Ok(resolved(image, storage, ev, Acquisition::Repaired, at));
        }
    }
    if !opts.online {
        let again = checks::verify(storage, image, opts.full)
            .err()
            .unwrap_or(failure);
        return Err(failure_diagnostic(at, &name, again, false));
    }
    // Download everything again, bypassing the caches that hold the bad copy.
    if dir.is_dir() {
        run_ch_image(at, storage, ch, &["delete", &name], "ch-image delete")?;
    }
    run_ch_image(
        at,
        storage,
        ch,
        &["--rebuild", "--always-download", "pull", &name],
        "ch-image pull",
    )?;
    checks::verify(storage, image, opts.full)
        .map(|ev| resolved(image, storage, ev, Acquisition::Repaired, at))
        .map_err(|f| failure_diagnostic(at, &name, f, true))
}
