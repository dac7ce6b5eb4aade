//! The git-based provenance artifact: a git repository holding the Runfile
//! and its history, and its deterministic tar + zstd tarball.
//!
//! * [`pack`] / [`pack_to`] — the whole repository directory including
//!   `.git`, streamed in constant memory, deterministic (see [`pack`]'s
//!   module docs for what is normalised and left out);
//! * [`unpack`] — hostile-input safe extraction with [`Limits`], keeping of
//!   `.git` only what [`git_rules`] allows;
//! * [`BoundedRepo`] — budgeted reads of an unpacked repository and safe
//!   materialisation of a commit;
//! * [`repo`] — the git operations (git2) the plugins need, and URL
//!   credential redaction.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use dsi_plugins_charliecloud::artifact;
//! let packed = artifact::pack(std::path::Path::new("my-run-repo"), None)?;
//! println!("{} ({} bytes)", packed.blob, packed.blob.len());
//! let out = tempfile::tempdir()?;
//! let file = std::fs::File::open(&packed.file)?;
//! artifact::unpack(file, out.path(), &artifact::Limits::default())?;
//! # Ok(()) }
//! ```

pub mod git_rules;
mod pack;
pub mod repo;
mod stored;
mod unpack;

pub use pack::{PackedRepo, ZSTD_LEVEL, pack, pack_excluding, pack_excluding_to, pack_to};
pub use stored::{BoundedRepo, LogEntry, ReadError, link_escapes};
pub use unpack::{Limits, RATIO_GRACE_BYTES, UnpackError, UnpackStats, unpack};

/// A repository unpacked from a packed archive.
pub struct Unpacked {
    /// The repository (rebuilt by [`git_rules`], minimal config).
    pub repo: git2::Repository,
    /// What was unpacked; `stats.compressed` is the stored size.
    pub stats: UnpackStats,
}

impl std::fmt::Debug for Unpacked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Unpacked")
            .field("path", &self.repo.path())
            .field("stats", &self.stats)
            .finish()
    }
}

impl Unpacked {
    /// The repository, with reads budgeted by its stored size.
    pub fn bounded(&self, limits: &Limits) -> BoundedRepo<'_> {
        BoundedRepo::stored(&self.repo, self.stats.compressed, limits)
    }
}

/// Unpacks a packed repository into `target` and rebuilds its index from
/// HEAD, so that the result is an ordinary, clean git repository.
pub fn unpack_repository(
    input: impl std::io::Read,
    target: &std::path::Path,
    limits: &Limits,
) -> Result<Unpacked, UnpackError> {
    let stats = unpack(input, target, limits)?;
    let not_repo = |why: String| UnpackError::Refused {
        entry: ".git".into(),
        reason: why,
    };
    // libgit2's message names the (temporary) target: say what is missing.
    let repo = git2::Repository::open(target).map_err(|_| {
        not_repo("the archive holds no usable git repository (a .git directory with HEAD, refs and objects)".into())
    })?;
    let unpacked = Unpacked { repo, stats };
    unpacked
        .bounded(limits)
        .rebuild_index()
        .map_err(|e| match e {
            e @ stored::ReadError::OverBudget { .. } => UnpackError::Hostile(e.to_string()),
            e => not_repo(e.to_string()),
        })?;
    Ok(unpacked)
}

/// Unpacks a stored artifact (a verifying blob reader) like
/// [`unpack_repository`]. If unpacking fails, the rest of the stream is read
/// so that a digest mismatch — the usual cause of a garbled archive — is
/// reported as [`UnpackError::Corrupt`] rather than as a format error.
pub fn unpack_stored_repository<R: std::io::Read>(
    mut reader: dsi_core::blob::VerifyingReader<R>,
    target: &std::path::Path,
    limits: &Limits,
) -> Result<Unpacked, UnpackError> {
    let corrupt = |e: &std::io::Error| {
        e.kind() == std::io::ErrorKind::InvalidData && e.to_string().contains("failed verification")
    };
    match unpack_repository(&mut reader, target, limits) {
        Ok(r) => Ok(r),
        Err(UnpackError::Io(e)) if corrupt(&e) => Err(UnpackError::Corrupt(e.to_string())),
        Err(e) => match std::io::copy(&mut reader, &mut std::io::sink()) {
            Err(d) if corrupt(&d) => Err(UnpackError::Corrupt(d.to_string())),
            _ => Err(e),
        },
    }
}
