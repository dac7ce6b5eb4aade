//! The git-based provenance artifact: a git repository holding the Runfile
//! and its history, and its deterministic tar + zstd tarball.
//!
//! * [`pack`] / [`pack_to`] — the whole repository directory including
//!   `.git`, streamed in constant memory, deterministic (see [`pack`]'s
//!   module docs for what is normalised and left out);
//! * [`unpack`] — hostile-input safe extraction with [`Limits`];
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

mod pack;
pub mod repo;
mod unpack;

pub use pack::{PackedRepo, ZSTD_LEVEL, pack, pack_to};
pub use unpack::{Limits, UnpackError, UnpackStats, unpack};

/// Unpacks a packed repository into `target` and rebuilds its index from
/// HEAD, so that the result is an ordinary, clean git repository.
pub fn unpack_repository(
    input: impl std::io::Read,
    target: &std::path::Path,
    limits: &Limits,
) -> Result<git2::Repository, UnpackError> {
    unpack(input, target, limits)?;
    let not_repo = |why: String| UnpackError::Refused {
        entry: ".git".into(),
        reason: why,
    };
    let r = git2::Repository::open(target).map_err(|e| {
        not_repo(format!(
            "the archive holds no usable git repository: {}",
            e.message()
        ))
    })?;
    repo::rebuild_index(&r).map_err(|e| not_repo(e.to_string()))?;
    Ok(r)
}
